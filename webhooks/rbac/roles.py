"""Roles as the authorizer sees them: policy rules, role references, aggregation, built-ins.

`Resolver` answers "which rules does this role grant" for one cluster view, memoized for the
life of one evaluation: an aggregated ClusterRole's rules are the union of the rules of every
ClusterRole its `aggregationRule.clusterRoleSelectors` select (other than itself, transitively,
as the clusterrole-aggregation controller converges to), and the built-in roles of
`builtins` stand in for cluster-admin/admin/edit/view when the input does not hold them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from webhooks import clusterview, kinds
from webhooks.rbac import builtins

Obj = dict[str, Any]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    """One PolicyRule, normalized: tuples of strings, absent fields empty."""

    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_obj(cls, obj: Any) -> Rule:
        """A rule from its manifest form; fields that are not lists of strings count as empty."""
        if not isinstance(obj, dict):
            return cls()
        return cls(
            verbs=_strings(obj.get("verbs")),
            api_groups=_strings(obj.get("apiGroups")),
            resources=_strings(obj.get("resources")),
            resource_names=_strings(obj.get("resourceNames")),
            non_resource_urls=_strings(obj.get("nonResourceURLs")),
        )

    def to_obj(self) -> Obj:
        """The manifest form of the rule (only non-empty fields)."""
        out: Obj = {}
        for key, value in (
            ("apiGroups", self.api_groups),
            ("resources", self.resources),
            ("resourceNames", self.resource_names),
            ("nonResourceURLs", self.non_resource_urls),
            ("verbs", self.verbs),
        ):
            if value:
                out[key] = list(value)
        return out

    def __str__(self) -> str:
        parts = []
        for label, value in (
            ("apiGroups", self.api_groups),
            ("resources", self.resources),
            ("nonResourceURLs", self.non_resource_urls),
            ("resourceNames", self.resource_names),
            ("verbs", self.verbs),
        ):
            if value:
                shown = ",".join(f'"{v}"' if v == "" else v for v in value)
                parts.append(f"{label}=[{shown}]")
        return "{" + " ".join(parts) + "}"


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class Ref:
    """A role or binding by kind, namespace ("" when cluster-scoped) and name."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return (
            f"{self.kind}/{self.namespace}/{self.name}"
            if self.namespace
            else (f"{self.kind}/{self.name}")
        )

    @classmethod
    def of(cls, obj: Obj) -> Ref:
        """The reference of a manifest."""
        meta = obj.get("metadata") or {}
        return cls(str(obj.get("kind", "")), str(meta.get("namespace") or ""), str(meta["name"]))


def role_ref(binding: Obj) -> Ref | None:
    """The role a binding grants, or None when its roleRef is invalid.

    A ClusterRoleBinding may only name a ClusterRole; a RoleBinding names a Role in its own
    namespace or a ClusterRole (granted within the RoleBinding's namespace).
    """
    ref = binding.get("roleRef")
    if not isinstance(ref, dict):
        return None
    kind, name, group = ref.get("kind"), ref.get("name"), ref.get("apiGroup")
    if not isinstance(name, str) or not name or group not in (kinds.RBAC_GROUP, None):
        return None
    namespace = str((binding.get("metadata") or {}).get("namespace") or "")
    if binding.get("kind") == "ClusterRoleBinding":
        return Ref("ClusterRole", "", name) if kind == "ClusterRole" else None
    if kind == "ClusterRole":
        return Ref("ClusterRole", "", name)
    if kind == "Role" and namespace:
        return Ref("Role", namespace, name)
    return None


def selector_matches(selector: Any, labels: dict[str, str]) -> bool:
    """Whether a metav1.LabelSelector selects these labels; an empty selector selects all."""
    if not isinstance(selector, dict):
        return False
    for key, value in _dict(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expr in _list(selector.get("matchExpressions")):
        if not isinstance(expr, dict):
            return False
        key, op = str(expr.get("key", "")), expr.get("operator")
        values = _strings(expr.get("values"))
        if op == "In" and (key not in labels or labels[key] not in values):
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def labels_of(obj: Obj) -> dict[str, str]:
    """The labels of an object (string values only)."""
    raw = _dict(_dict(obj.get("metadata")).get("labels"))
    return {str(k): v for k, v in raw.items() if isinstance(v, str)}


class Resolver:
    """Role lookups over one cluster view, memoized; built-ins fill in absent ClusterRoles."""

    def __init__(self, view: clusterview.ClusterView) -> None:
        self.view = view
        self._rules: dict[Ref, tuple[Rule, ...] | None] = {}
        self._cluster_roles: dict[str, Obj] | None = None
        self._labels: dict[str, dict[str, str]] = {}
        # Results derived from this view by other modules (findings per subject), same lifetime.
        self.memo: dict[Any, Any] = {}

    def cluster_roles(self) -> dict[str, Obj]:
        """Every ClusterRole by name: the input's, plus built-ins the input lacks."""
        if self._cluster_roles is None:
            found = {
                Ref.of(obj).name: obj
                for obj in self.view.list(kinds.CLUSTER_ROLE.group, "ClusterRole")
            }
            for name, obj in builtins.CLUSTER_ROLES.items():
                found.setdefault(name, obj)
            self._labels = {name: labels_of(obj) for name, obj in found.items()}
            self._cluster_roles = dict(sorted(found.items()))
        return self._cluster_roles

    def role(self, ref: Ref) -> Obj | None:
        """The Role or ClusterRole a reference names, or None when absent."""
        if ref.kind == "ClusterRole":
            if self._cluster_roles is not None:
                return self._cluster_roles.get(ref.name)
            found = self.view.get(kinds.CLUSTER_ROLE.group, "ClusterRole", "", ref.name)
            return found if found is not None else builtins.CLUSTER_ROLES.get(ref.name)
        return self.view.get(kinds.ROLE.group, "Role", ref.namespace, ref.name)

    def rules(self, ref: Ref) -> tuple[Rule, ...] | None:
        """The rules a role grants (aggregation applied), or None when the role is absent."""
        if ref not in self._rules:
            self._rules[ref] = self._compute(ref, frozenset())
        return self._rules[ref]

    def _compute(self, ref: Ref, seen: frozenset[str]) -> tuple[Rule, ...] | None:
        obj = self.role(ref)
        if obj is None:
            return None
        aggregation = obj.get("aggregationRule") if ref.kind == "ClusterRole" else None
        if not isinstance(aggregation, dict):
            return tuple(Rule.from_obj(r) for r in _list(obj.get("rules")))
        out: list[Rule] = []
        for selector in _list(aggregation.get("clusterRoleSelectors")):
            for name in self.cluster_roles():
                if name == ref.name or name in seen:
                    continue
                if not selector_matches(selector, self._labels[name]):
                    continue
                inner = self._compute(Ref("ClusterRole", "", name), seen | {ref.name})
                out.extend(r for r in inner or () if r not in out)
        return tuple(out)

    def aggregated_into(self, name: str) -> list[str]:
        """The names of the aggregated ClusterRoles whose selectors pick this ClusterRole."""
        member = self.cluster_roles().get(name)
        if member is None:
            return []
        labels = labels_of(member)
        out = []
        for other, obj in sorted(self.cluster_roles().items()):
            aggregation = obj.get("aggregationRule")
            if other == name or not isinstance(aggregation, dict):
                continue
            selectors = _list(aggregation.get("clusterRoleSelectors"))
            if any(selector_matches(s, labels) for s in selectors):
                out.append(other)
        return out


def resolver_for(view: clusterview.ClusterView) -> Resolver:
    """The view's Resolver, shared until an RBAC object in the view changes.

    Admission asks about the runner SA on every Operation, and aggregation is the only part
    that scans all ClusterRoles, so the Resolver (and its memo) lives as long as the RBAC data.
    """
    return view.memoized(("rbac", "resolver"), lambda: Resolver(view), depends=kinds.RBAC_KINDS)
