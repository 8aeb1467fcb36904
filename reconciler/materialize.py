"""Operation -> Argo Workflow: the one Workflow the operator creates for an Operation.

`materialize` is pure: the same Operation, OperationTemplate, resolved (Cluster)WorkflowTemplate
and policy always give the same Workflow, which is what makes creation idempotent by name.
"""

from __future__ import annotations

import json
import math
from typing import Any, Protocol

from policies import model
from webhooks import kinds, resolve

Obj = dict[str, Any]

# Labels of DESIGN "Reconciler": who manages the Workflow, on which cluster, for which Operation.
MANAGED_BY_LABEL = "app.vworkspace.io/managed-by"
CLUSTER_ID_LABEL = "app.vworkspace.io/cluster-id"
OPERATION_LABEL = "ops.vworkspace.io/operation"
# Parameters the operator always passes first, derived from the Operation itself.
TARGET_NAME = "targetName"
TARGET_NAMESPACE = "targetNamespace"
# Operation.spec.parameters key whose value becomes activeDeadlineSeconds.
TIMEOUT_PARAMETER = "timeoutSeconds"


class ResolvedTemplate(Protocol):
    """A `webhooks.resolve.Resolved` (or anything alike): the template and where it was found."""

    @property
    def obj(self) -> Obj: ...

    @property
    def cluster_scope(self) -> bool: ...


def render_value(value: Any) -> str:
    """A parameter value as the string Argo expects.

    Strings as they are; booleans `true`/`false`; integers (and integral floats, which JSON does
    not tell apart from integers) as digits; other floats in their shortest round-trip form;
    objects and lists as compact JSON with keys in their given order; None as `null`.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**63:
            return str(int(value))
        return repr(value)
    if value is None:
        return "null"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


_dict = resolve.mapping


def arguments(operation: Obj, template: Obj) -> list[dict[str, str]]:
    """`spec.arguments.parameters` of the Workflow, in DESIGN's order.

    `targetName` (targetRef.name) and `targetNamespace` (the Operation's namespace) first, then
    every parameter the template declares in its order. A value comes from
    `Operation.spec.parameters`; a parameter absent there (or null) takes the template's `value`,
    else its `default`; a parameter with neither is left out, so Argo reports it as missing.
    """
    meta = _dict(operation.get("metadata"))
    spec = _dict(operation.get("spec"))
    given = _dict(spec.get("parameters"))
    out = [
        {"name": TARGET_NAME, "value": render_value(_dict(spec.get("targetRef")).get("name", ""))},
        {"name": TARGET_NAMESPACE, "value": render_value(meta.get("namespace", ""))},
    ]
    seen = {TARGET_NAME, TARGET_NAMESPACE}
    for param in resolve.declared_parameters(template):
        name = param["name"]
        if name in seen:
            continue
        seen.add(name)
        if given.get(name) is not None:
            value: Any = given[name]
        elif param.get("value") is not None:
            value = param["value"]
        elif param.get("default") is not None:
            value = param["default"]
        else:
            continue
        out.append({"name": name, "value": render_value(value)})
    return out


def active_deadline(operation: Obj) -> int | None:
    """`timeoutSeconds` as a positive whole number of seconds, or None when absent or unusable."""
    value = _dict(_dict(operation.get("spec")).get("parameters")).get(TIMEOUT_PARAMETER)
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and value > 0:
        return value
    return None


def owner_reference(operation: Obj) -> Obj:
    """The controller ownerReference that makes the Workflow go with its Operation."""
    meta = _dict(operation.get("metadata"))
    return {
        "apiVersion": kinds.OPERATION.api_version,
        "kind": kinds.OPERATION.kind,
        "name": str(meta.get("name", "")),
        "uid": str(meta.get("uid", "")),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def labels(operation: Obj, policy: model.Policy) -> dict[str, str]:
    """The three ownership labels of a managed Workflow."""
    return {
        MANAGED_BY_LABEL: policy.managed_by,
        CLUSTER_ID_LABEL: policy.cluster_id,
        OPERATION_LABEL: str(_dict(operation.get("metadata")).get("uid", "")),
    }


def materialize(
    operation: Obj, optemplate: Obj, resolved: ResolvedTemplate, policy: model.Policy
) -> Obj:
    """The Workflow of DESIGN "Reconciler" for an admitted Operation.

    Name and namespace are the Operation's; `workflowTemplateRef.clusterScope` says whether the
    template is a ClusterWorkflowTemplate; `activeDeadlineSeconds` is set only when the
    Operation's `timeoutSeconds` is a positive integer.
    """
    meta = _dict(operation.get("metadata"))
    template_name = str(_dict(resolved.obj.get("metadata")).get("name", ""))
    spec: Obj = {
        "workflowTemplateRef": {
            "name": template_name,
            "clusterScope": bool(resolved.cluster_scope),
        },
        "serviceAccountName": resolve.runner_service_account(optemplate, policy.runner_sa_name),
        "arguments": {"parameters": arguments(operation, resolved.obj)},
    }
    deadline = active_deadline(operation)
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    return {
        "apiVersion": kinds.WORKFLOW.api_version,
        "kind": kinds.WORKFLOW.kind,
        "metadata": {
            "name": str(meta.get("name", "")),
            "namespace": str(meta.get("namespace", "")),
            "labels": labels(operation, policy),
            "ownerReferences": [owner_reference(operation)],
        },
        "spec": spec,
    }


def owned_by(workflow: Obj, operation: Obj, *, managed_by: str) -> bool:
    """Whether a Workflow is this Operation's: it carries the managed-by label (which only the
    operator may set: the Workflow guard enforces it) and the Operation's uid in its operation
    label or a controller ownerReference."""
    uid = _dict(operation.get("metadata")).get("uid")
    if not uid:
        return False
    meta = _dict(workflow.get("metadata"))
    labels = _dict(meta.get("labels"))
    if labels.get(MANAGED_BY_LABEL) != managed_by:
        return False
    if labels.get(OPERATION_LABEL) == uid:
        return True
    refs = meta.get("ownerReferences")
    return any(
        isinstance(ref, dict) and ref.get("uid") == uid and ref.get("controller") is True
        for ref in (refs if isinstance(refs, list) else ())
    )
