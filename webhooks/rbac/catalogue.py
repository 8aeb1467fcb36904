"""The RBAC risk rule catalogue (`policies/rbac-rules.yaml`) as typed, validated data."""

from __future__ import annotations

import dataclasses
import functools
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from policies import errors as policy_errors
from policies import loader

RULES_FILE = "rbac-rules.yaml"
SCHEMA = "rbac-rules.schema.json"
Severity = Literal["critical", "high", "medium", "low"]
# Order of severities, lowest first: `--fail-on` and "highest severity wins" compare by it.
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")


def rank(severity: str) -> int:
    """The position of a severity in SEVERITIES (low = 0)."""
    return SEVERITIES.index(severity)


@dataclasses.dataclass(frozen=True, slots=True)
class Permission:
    """A permission a rule looks for: verbs on resources of one group, with a names mode."""

    verbs: tuple[str, ...]
    api_group: str
    resources: tuple[str, ...]
    names: Literal["unrestricted", "restricted", "any"]


@dataclasses.dataclass(frozen=True, slots=True)
class RiskRule:
    """One catalogue entry: id, title, severities, how it matches, what it subsumes."""

    id: str
    title: str
    help: str
    cluster_severity: str
    namespace_severity: str
    match: dict[str, Any]
    subsumes_per: str
    subsumes: tuple[str, ...]

    def severity(self, cluster_scope: bool) -> str:
        """The severity at cluster or namespace scope."""
        return self.cluster_severity if cluster_scope else self.namespace_severity

    def permissions(self, key: str = "permissions") -> tuple[Permission, ...]:
        """The permissions listed under `match.<key>` (`permissions` or `allOf`)."""
        return tuple(
            Permission(
                tuple(p["verbs"]), p["apiGroup"], tuple(p["resources"]), p.get("names", "any")
            )
            for p in self.match.get(key, ())
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Catalogue:
    """Every rule, the exempt labels and the table of what each API group serves."""

    rules: tuple[RiskRule, ...]
    exempt_labels: dict[str, str]
    groups: dict[str, dict[str, Any]]
    source: str

    def rule(self, rule_id: str) -> RiskRule:
        """The rule with this id (KeyError when absent)."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def scope_of(self, group: str, resource: str) -> str | None:
        """`cluster`, `namespaced`, or None when the table does not know the resource."""
        entry = self.groups.get(group) or {}
        if resource in entry.get("cluster", ()):
            return "cluster"
        if resource in entry.get("namespaced", ()):
            return "namespaced"
        return None

    def known_resource(self, resource: str) -> bool:
        """Whether any group of the table serves a resource of this name."""
        return any(self.scope_of(group, resource) for group in self.groups)

    def closed_group(self, group: str) -> bool:
        """Whether the table lists everything a group serves (a built-in, non-CRD group)."""
        return group in self.groups and not self.groups[group].get("open", False)

    def exempt(self, obj: dict[str, Any]) -> bool:
        """Whether an object carries every exempt label (the cluster's bootstrap defaults)."""
        if not self.exempt_labels:
            return False
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if not isinstance(labels, dict):
            return False
        return all(labels.get(k) == v for k, v in self.exempt_labels.items())


def parse(file: str, text: str) -> Catalogue:
    """A catalogue from YAML text; PolicyError names the file, the path and the problem."""
    data = loader.read_data(file, text, SCHEMA)
    out: list[RiskRule] = []
    ids = [r["id"] for r in data["rules"]]
    for index, raw in enumerate(data["rules"]):
        where = f"rules[{index}]"
        if ids.count(raw["id"]) > 1:
            raise policy_errors.PolicyError(file, f"{where}.id", f"{raw['id']} is listed twice")
        severity = raw["severity"]
        cluster, namespace = (
            (severity, severity)
            if isinstance(severity, str)
            else (severity["cluster"], severity["namespace"])
        )
        subsumes = raw.get("subsumes") or {"per": "subject", "ids": []}
        referenced = list(subsumes["ids"]) + list(
            raw["match"].get("aggregation", {}).get("risky", ())
        )
        for other in referenced:
            if other not in ids:
                raise policy_errors.PolicyError(
                    file, where, f"refers to {other}, which the catalogue does not define"
                )
        out.append(
            RiskRule(
                id=raw["id"],
                title=raw["title"],
                help=raw.get("help", ""),
                cluster_severity=cluster,
                namespace_severity=namespace,
                match=raw["match"],
                subsumes_per=subsumes["per"],
                subsumes=tuple(subsumes["ids"]),
            )
        )
    return Catalogue(
        rules=tuple(out),
        exempt_labels=dict((data.get("exempt") or {}).get("labels") or {}),
        groups=dict(data.get("resources") or {}),
        source=file,
    )


@functools.cache
def default() -> Catalogue:
    """The catalogue shipped in `policies/rbac-rules.yaml` (loaded once)."""
    text = resources.files("policies").joinpath(RULES_FILE).read_text(encoding="utf-8")
    return parse(f"<embedded>/{RULES_FILE}", text)


def load(path: str | Path | None = None) -> Catalogue:
    """A catalogue file, or the shipped one when `path` is None."""
    if path is None:
        return default()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise policy_errors.PolicyError(
            str(path), "", f"cannot read: {exc.strerror or exc}"
        ) from None
    return parse(str(path), text)
