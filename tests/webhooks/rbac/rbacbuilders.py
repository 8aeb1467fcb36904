"""Builders of RBAC manifests for the RBAC review tests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from webhooks import clusterview
from webhooks.rbac import findings

Obj = dict[str, Any]
RBAC = "rbac.authorization.k8s.io/v1"


def rule(
    verbs: Iterable[str],
    resources: Iterable[str] = (),
    groups: Iterable[str] = ("",),
    names: Iterable[str] = (),
    urls: Iterable[str] = (),
) -> Obj:
    """A PolicyRule (nonResourceURLs rules get no apiGroups/resources)."""
    out: Obj = {"verbs": list(verbs)}
    if urls:
        out["nonResourceURLs"] = list(urls)
        return out
    out["apiGroups"] = list(groups)
    out["resources"] = list(resources)
    if names:
        out["resourceNames"] = list(names)
    return out


def role(
    name: str,
    *rules: Obj,
    ns: str | None = None,
    labels: dict[str, str] | None = None,
    selectors: list[Obj] | None = None,
) -> Obj:
    """A Role (with `ns`) or ClusterRole."""
    meta: Obj = {"name": name}
    if ns:
        meta["namespace"] = ns
    if labels:
        meta["labels"] = labels
    obj: Obj = {
        "apiVersion": RBAC,
        "kind": "Role" if ns else "ClusterRole",
        "metadata": meta,
        "rules": list(rules),
    }
    if selectors is not None:
        obj["aggregationRule"] = {"clusterRoleSelectors": selectors}
    return obj


def sa(name: str, ns: str | None = None) -> Obj:
    """A ServiceAccount subject (namespace omitted when None)."""
    out: Obj = {"kind": "ServiceAccount", "name": name}
    if ns is not None:
        out["namespace"] = ns
    return out


def user(name: str) -> Obj:
    """A User subject."""
    return {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def group(name: str) -> Obj:
    """A Group subject."""
    return {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def binding(
    name: str,
    role_name: str,
    *subjects: Obj,
    ns: str | None = None,
    role_kind: str | None = None,
    labels: dict[str, str] | None = None,
) -> Obj:
    """A RoleBinding (with `ns`) or ClusterRoleBinding; roleRef kind defaults to ClusterRole,
    or Role for a RoleBinding when `role_kind` says so."""
    meta: Obj = {"name": name}
    if ns:
        meta["namespace"] = ns
    if labels:
        meta["labels"] = labels
    return {
        "apiVersion": RBAC,
        "kind": "RoleBinding" if ns else "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": role_kind or "ClusterRole",
            "name": role_name,
        },
        "subjects": list(subjects),
    }


def view(*objs: Obj) -> clusterview.ClusterIndex:
    """A cluster index over the objects."""
    return clusterview.ClusterIndex(objs)


def ids(found: Iterable[findings.Finding]) -> set[str]:
    """The ids of findings."""
    return {f.id for f in found}


def by_id(found: Iterable[findings.Finding]) -> dict[str, findings.Finding]:
    """Findings by id (the test inputs give one finding per id)."""
    return {f.id: f for f in found}
