"""Label selectors (equality- and set-based) and the field selectors every resource supports."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from sim import errors

Obj = dict[str, Any]

_SET = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQ = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|!=|=)\s*([A-Za-z0-9_.-]*)\s*$")


@dataclasses.dataclass(frozen=True)
class Requirement:
    """One selector term: key, operator (=, !=, in, notin, exists, !) and values."""

    key: str
    op: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies this term (as k8s.io/apimachinery/pkg/labels does)."""
        if self.op in ("=", "in"):
            return self.key in labels and labels[self.key] in self.values
        if self.op in ("!=", "notin"):
            return self.key not in labels or labels[self.key] not in self.values
        if self.op == "exists":
            return self.key in labels
        return self.key not in labels  # "!"


Selector = tuple[Requirement, ...]


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def parse_labels(text: str | None) -> Selector:
    """A `labelSelector` query string; 400 BadRequest naming the bad term."""
    out: list[Requirement] = []
    for term in _split(text or ""):
        eq = _EQ.match(term)
        if eq:
            op = "=" if eq.group(2) in ("=", "==") else "!="
            out.append(Requirement(eq.group(1), op, frozenset({eq.group(3)})))
            continue
        st = _SET.match(term)
        if st and not (st.group(1) and st.group(3)):
            if st.group(3):
                values = frozenset(v.strip() for v in st.group(4).split(",") if v.strip())
                out.append(Requirement(st.group(2), st.group(3), values))
            else:
                out.append(Requirement(st.group(2), "!" if st.group(1) else "exists"))
            continue
        raise errors.bad_request(f"unable to parse requirement: {term.strip()!r} in labelSelector")
    return tuple(out)


def from_label_selector(selector: Any) -> Selector:
    """A metav1.LabelSelector object (matchLabels, matchExpressions); None/{} selects everything."""
    if not isinstance(selector, dict):
        return ()
    out = [
        Requirement(str(k), "=", frozenset({str(v)}))
        for k, v in sorted((selector.get("matchLabels") or {}).items())
    ]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in selector.get("matchExpressions") or ():
        op = ops.get(str(expr.get("operator")))
        if op is None:
            raise errors.bad_request(f"invalid label selector operator {expr.get('operator')!r}")
        values = frozenset(str(v) for v in expr.get("values") or ())
        out.append(Requirement(str(expr.get("key", "")), op, values))
    return tuple(out)


def labels_of(obj: Obj | None) -> Mapping[str, str]:
    """metadata.labels of an object ({} when absent)."""
    meta = (obj or {}).get("metadata") or {}
    labels = meta.get("labels")
    return labels if isinstance(labels, dict) else {}


def matches(selector: Selector, obj: Obj | None) -> bool:
    """Whether an object's labels satisfy every term."""
    labels = labels_of(obj)
    return all(req.matches(labels) for req in selector)


# Field selectors every resource supports (others are per-kind in Kubernetes; not simulated).
FIELDS: dict[str, Callable[[Obj], str]] = {
    "metadata.name": lambda o: str((o.get("metadata") or {}).get("name", "")),
    "metadata.namespace": lambda o: str((o.get("metadata") or {}).get("namespace", "")),
}


FieldSelector = tuple[tuple[str, bool, str], ...]


def parse_fields(text: str | None) -> FieldSelector:
    """A `fieldSelector` query string of `field=value` / `field!=value` terms."""
    out: list[tuple[str, bool, str]] = []
    for term in _split(text or ""):
        eq = _EQ.match(term)
        if not eq:
            raise errors.bad_request(f"invalid selector: {term.strip()!r}; can't understand it")
        if eq.group(1) not in FIELDS:
            raise errors.bad_request(f"field label not supported: {eq.group(1)}")
        out.append((eq.group(1), eq.group(2) != "!=", eq.group(3)))
    return tuple(out)


def fields_match(selector: FieldSelector, obj: Obj | None) -> bool:
    """Whether an object satisfies a field selector."""
    if obj is None:
        return False
    return all((FIELDS[f](obj) == v) is eq for f, eq, v in selector)
