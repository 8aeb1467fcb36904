"""Resolve what an Operation refers to: its OperationTemplate and its Argo WorkflowTemplate.

Admission and the reconciler share these, so both resolve a template the same way Argo will.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from typing import Any

from webhooks import clusterview, kinds

Obj = dict[str, Any]
# The OperationTemplate's `workflow.templateParameter` when it names none.
DEFAULT_TEMPLATE_PARAMETER = "template"


@dataclasses.dataclass(frozen=True, slots=True)
class Resolved:
    """A WorkflowTemplate (cluster_scope False) or ClusterWorkflowTemplate (True) found for use."""

    obj: Obj
    cluster_scope: bool

    @property
    def name(self) -> str:
        """The template's name, as `workflowTemplateRef.name`."""
        return str(self.obj.get("metadata", {}).get("name", ""))


@dataclasses.dataclass(frozen=True, slots=True)
class Unresolved:
    """Why no usable template was found: what exists elsewhere and what the template allows."""

    name: str
    namespace: str
    other_namespaces: tuple[str, ...]
    local_exists: bool
    namespace_allowed: bool
    cluster_template_exists: bool
    cluster_allowed: bool


def mapping(value: Any) -> Obj:
    """`value` when it is a dict, else an empty dict (manifests are untrusted)."""
    return value if isinstance(value, dict) else {}


def workflow_settings(optemplate: Obj) -> Obj:
    """The OperationTemplate's `spec.workflow` block (empty if absent or malformed)."""
    return mapping(mapping(optemplate.get("spec")).get("workflow"))


def template_parameter(optemplate: Obj) -> str:
    """Which Operation parameter names the WorkflowTemplate."""
    value = workflow_settings(optemplate).get("templateParameter")
    return value if isinstance(value, str) and value else DEFAULT_TEMPLATE_PARAMETER


def runner_service_account(optemplate: Obj, default: str) -> str:
    """The SA the Workflow runs as: the template's `workflow.serviceAccountName` or the default."""
    value = workflow_settings(optemplate).get("serviceAccountName")
    return value if isinstance(value, str) and value else default


def operation_template(view: clusterview.ClusterView, type_: str, engine: str) -> Obj | None:
    """The one OperationTemplate for (type, engine); None when there are none or several."""
    found = view.operation_templates(type_, engine)
    return found[0] if len(found) == 1 else None


def namespace_allowed(optemplate: Obj, namespace: str) -> bool:
    """Whether a namespace matches the template's `allowedTemplateNamespaces` globs."""
    globs = workflow_settings(optemplate).get("allowedTemplateNamespaces")
    if not isinstance(globs, list):
        return False
    return any(isinstance(g, str) and fnmatch.fnmatchcase(namespace, g) for g in globs)


def cluster_templates_allowed(optemplate: Obj) -> bool:
    """Whether ClusterWorkflowTemplates may be used (default true, as the CRD defaults it)."""
    value = workflow_settings(optemplate).get("allowClusterWorkflowTemplates", True)
    return value is not False


def workflow_template(
    view: clusterview.ClusterView,
    optemplate: Obj,
    namespace: str,
    name: str,
    *,
    allowed_ns: bool | None = None,
) -> Resolved | Unresolved:
    """The template an Operation in `namespace` naming `name` runs, as Argo would resolve it.

    A WorkflowTemplate in the Operation's own namespace wins when that namespace is allowed;
    otherwise a ClusterWorkflowTemplate when the OperationTemplate allows those.
    `allowed_ns` is `namespace_allowed(optemplate, namespace)` when the caller has it already.
    """
    if allowed_ns is None:
        allowed_ns = namespace_allowed(optemplate, namespace)
    local = view.get(kinds.ARGO_GROUP, kinds.WORKFLOW_TEMPLATE.kind, namespace, name)
    if local is not None and allowed_ns:
        return Resolved(local, cluster_scope=False)
    cluster = view.get(kinds.ARGO_GROUP, kinds.CLUSTER_WORKFLOW_TEMPLATE.kind, "", name)
    cluster_allowed = cluster_templates_allowed(optemplate)
    if cluster is not None and cluster_allowed:
        return Resolved(cluster, cluster_scope=True)
    others = tuple(ns for ns in view.workflow_template_namespaces(name) if ns != namespace)
    return Unresolved(
        name=name,
        namespace=namespace,
        other_namespaces=others,
        local_exists=local is not None,
        namespace_allowed=allowed_ns,
        cluster_template_exists=cluster is not None,
        cluster_allowed=cluster_allowed,
    )


def declared_parameters(template: Obj) -> list[Obj]:
    """The `spec.arguments.parameters` a WorkflowTemplate declares, in order (well-formed only)."""
    arguments = mapping(mapping(template.get("spec")).get("arguments"))
    params = arguments.get("parameters")
    if not isinstance(params, list):
        return []
    return [p for p in params if isinstance(p, dict) and isinstance(p.get("name"), str)]


def has_default(parameter: Obj) -> bool:
    """Whether a declared Argo parameter supplies its own value (value, default or valueFrom)."""
    return any(parameter.get(k) is not None for k in ("value", "default", "valueFrom"))


def required_parameters(template: Obj) -> tuple[str, ...]:
    """The names of the parameters a WorkflowTemplate declares without a value of its own."""
    return tuple(str(p["name"]) for p in declared_parameters(template) if not has_default(p))
