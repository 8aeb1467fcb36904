"""Resources as data: the kinds opgate reads, keyed by API group and kind."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class Kind:
    """One resource kind: group, version, kind, plural and whether it is namespaced."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        """`group/version`, or just `version` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """(group, kind): how the cluster view files objects of this kind."""
        return (self.group, self.kind)


OPS_GROUP = "ops.vworkspace.io"
ARGO_GROUP = "argoproj.io"
RBAC_GROUP = "rbac.authorization.k8s.io"

OPERATION = Kind(OPS_GROUP, "v1alpha1", "Operation", "operations", True)
OPERATION_TEMPLATE = Kind(OPS_GROUP, "v1alpha1", "OperationTemplate", "operationtemplates", False)
WORKFLOW = Kind(ARGO_GROUP, "v1alpha1", "Workflow", "workflows", True)
WORKFLOW_TEMPLATE = Kind(ARGO_GROUP, "v1alpha1", "WorkflowTemplate", "workflowtemplates", True)
CLUSTER_WORKFLOW_TEMPLATE = Kind(
    ARGO_GROUP, "v1alpha1", "ClusterWorkflowTemplate", "clusterworkflowtemplates", False
)
CRD = Kind(
    "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False
)
NAMESPACE = Kind("", "v1", "Namespace", "namespaces", False)
SERVICE_ACCOUNT = Kind("", "v1", "ServiceAccount", "serviceaccounts", True)
ROLE = Kind(RBAC_GROUP, "v1", "Role", "roles", True)
CLUSTER_ROLE = Kind(RBAC_GROUP, "v1", "ClusterRole", "clusterroles", False)
ROLE_BINDING = Kind(RBAC_GROUP, "v1", "RoleBinding", "rolebindings", True)
CLUSTER_ROLE_BINDING = Kind(RBAC_GROUP, "v1", "ClusterRoleBinding", "clusterrolebindings", False)

# Kinds the cluster view indexes for admission (target kinds come from OperationTemplates).
VIEW_KINDS: tuple[Kind, ...] = (
    CRD,
    OPERATION_TEMPLATE,
    WORKFLOW_TEMPLATE,
    CLUSTER_WORKFLOW_TEMPLATE,
    NAMESPACE,
    SERVICE_ACCOUNT,
    ROLE,
    CLUSTER_ROLE,
    ROLE_BINDING,
    CLUSTER_ROLE_BINDING,
)

# What RBAC answers depend on: a write to any other kind leaves them valid.
RBAC_KINDS: tuple[tuple[str, str], ...] = (
    ROLE.key,
    CLUSTER_ROLE.key,
    ROLE_BINDING.key,
    CLUSTER_ROLE_BINDING.key,
)

# Built-in cluster-scoped kinds, for manifests whose kind is not in VIEW_KINDS.
CLUSTER_SCOPED = frozenset(
    {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        (RBAC_GROUP, "ClusterRole"),
        (RBAC_GROUP, "ClusterRoleBinding"),
        ("storage.k8s.io", "StorageClass"),
        ("snapshot.storage.k8s.io", "VolumeSnapshotClass"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        (OPS_GROUP, "OperationTemplate"),
        (ARGO_GROUP, "ClusterWorkflowTemplate"),
    }
)


def group_of(api_version: str) -> str:
    """The API group of an apiVersion (`apps/v1` -> `apps`, `v1` -> ``)."""
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def key_of(obj: dict[str, Any]) -> tuple[str, str]:
    """(group, kind) of a manifest."""
    return (group_of(str(obj.get("apiVersion", ""))), str(obj.get("kind", "")))


def is_namespaced(group: str, kind: str) -> bool:
    """Whether objects of a kind live in a namespace (unknown custom kinds are assumed to)."""
    return (group, kind) not in CLUSTER_SCOPED
