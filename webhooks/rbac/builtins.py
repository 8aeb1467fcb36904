"""The ClusterRoles every cluster ships, as data: used when the input does not hold them.

Transcribed from Kubernetes' bootstrap policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy,
1.3x): `cluster-admin`, the aggregated `admin`/`edit`/`view` and the three
`system:aggregate-to-*` roles whose rules flow into them. `view` aggregates into `edit` and
`edit` into `admin` through their labels, exactly as on a real cluster, so a custom ClusterRole
labelled `aggregate-to-view` reaches all three.
"""

from __future__ import annotations

from typing import Any

from webhooks import kinds

# Label kube puts on every bootstrap role and binding.
BOOTSTRAP_LABEL = ("kubernetes.io/bootstrapping", "rbac-defaults")
# Label prefix of the aggregation into admin/edit/view.
AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"
# Annotation marking an object as made up here rather than read from the input.
BUILTIN_ANNOTATION = "opgate.vworkspace.io/builtin"

READ = ["get", "list", "watch"]
WRITE = ["create", "update", "patch", "delete", "deletecollection"]
READ_WRITE = READ + WRITE


def _rule(verbs: list[str], groups: list[str], resources: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _role(
    name: str,
    rules: list[dict[str, Any]],
    labels: dict[str, str] | None = None,
    aggregate: str | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "labels": {BOOTSTRAP_LABEL[0]: BOOTSTRAP_LABEL[1], **(labels or {})},
        "annotations": {BUILTIN_ANNOTATION: "true"},
    }
    role: dict[str, Any] = {
        "apiVersion": kinds.CLUSTER_ROLE.api_version,
        "kind": "ClusterRole",
        "metadata": meta,
        "rules": rules,
    }
    if aggregate is not None:
        selector = {"matchLabels": {f"{AGGREGATE_TO}{aggregate}": "true"}}
        role["aggregationRule"] = {"clusterRoleSelectors": [selector]}
    return role


_AGGREGATE_TO_ADMIN = [
    _rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
    _rule(READ_WRITE, [kinds.RBAC_GROUP], ["roles", "rolebindings"]),
]

_AGGREGATE_TO_EDIT = [
    _rule(READ, [""], ["pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets"]),
    _rule(READ, [""], ["services/proxy"]),
    _rule(["impersonate"], [""], ["serviceaccounts"]),
    _rule(WRITE, [""], ["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"]),
    _rule(["create"], [""], ["pods/eviction"]),
    _rule(
        WRITE,
        [""],
        [
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/proxy",
            "persistentvolumeclaims",
            "configmaps",
            "secrets",
            "events",
        ],
    ),
    _rule(["create"], [""], ["serviceaccounts/token"]),
    _rule(
        WRITE,
        ["apps"],
        [
            "statefulsets",
            "statefulsets/scale",
            "daemonsets",
            "deployments",
            "deployments/scale",
            "deployments/rollback",
            "replicasets",
            "replicasets/scale",
        ],
    ),
    _rule(WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
    _rule(WRITE, ["batch"], ["jobs", "cronjobs"]),
    _rule(WRITE, ["policy"], ["poddisruptionbudgets"]),
    _rule(WRITE, ["networking.k8s.io"], ["networkpolicies", "ingresses"]),
    _rule(READ_WRITE, ["coordination.k8s.io"], ["leases"]),
]

_AGGREGATE_TO_VIEW = [
    _rule(
        READ,
        [""],
        [
            "pods",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/status",
            "endpoints",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "configmaps",
        ],
    ),
    _rule(
        READ,
        [""],
        [
            "limitranges",
            "resourcequotas",
            "bindings",
            "events",
            "pods/status",
            "resourcequotas/status",
            "namespaces/status",
            "replicationcontrollers/status",
            "pods/log",
        ],
    ),
    _rule(READ, [""], ["namespaces"]),
    _rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
    _rule(
        READ,
        ["apps"],
        [
            "controllerrevisions",
            "statefulsets",
            "statefulsets/status",
            "statefulsets/scale",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/status",
            "deployments/scale",
            "replicasets",
            "replicasets/status",
            "replicasets/scale",
        ],
    ),
    _rule(READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    _rule(READ, ["batch"], ["jobs", "cronjobs", "cronjobs/status", "jobs/status"]),
    _rule(READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    _rule(READ, ["networking.k8s.io"], ["networkpolicies", "ingresses", "ingresses/status"]),
]

# name -> ClusterRole object, in the shape a cluster would return it.
CLUSTER_ROLES: dict[str, dict[str, Any]] = {
    role["metadata"]["name"]: role
    for role in (
        _role(
            "cluster-admin",
            [
                _rule(["*"], ["*"], ["*"]),
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ],
        ),
        _role("admin", [], aggregate="admin"),
        _role("edit", [], labels={f"{AGGREGATE_TO}admin": "true"}, aggregate="edit"),
        _role("view", [], labels={f"{AGGREGATE_TO}edit": "true"}, aggregate="view"),
        _role("system:aggregate-to-admin", _AGGREGATE_TO_ADMIN, {f"{AGGREGATE_TO}admin": "true"}),
        _role("system:aggregate-to-edit", _AGGREGATE_TO_EDIT, {f"{AGGREGATE_TO}edit": "true"}),
        _role("system:aggregate-to-view", _AGGREGATE_TO_VIEW, {f"{AGGREGATE_TO}view": "true"}),
    )
}


def is_builtin(obj: dict[str, Any]) -> bool:
    """Whether an object was supplied here rather than read from the input."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return isinstance(annotations, dict) and annotations.get(BUILTIN_ANNOTATION) == "true"
