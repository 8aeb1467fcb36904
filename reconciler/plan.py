"""The controller's pure core: what to do for one Operation, given what was observed.

`plan(operation, workflow, ...)` takes the Operation and the Workflow of the same name (both as
just read from the API) and says: create this Workflow, write this status, emit these Events,
or first fetch the templates. The controller does the I/O and calls `plan` again with what it
found, so every decision here is testable without a server.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from policies import model
from reconciler import materialize, status
from webhooks import resolve

Obj = dict[str, Any]
# The only engine this reconciler materializes; Operations of other engines are left alone.
ENGINE = "workflow"
# Event types of core/v1 Event.
NORMAL, WARNING = "Normal", "Warning"


@dataclasses.dataclass(frozen=True, slots=True)
class Templates:
    """What template resolution found for an Operation (None: no single OperationTemplate)."""

    optemplate: Obj | None
    resolved: resolve.Resolved | resolve.Unresolved | None


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """A Kubernetes Event to record on the Operation."""

    type: str
    reason: str
    message: str


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    """The actions for one Operation: all empty means nothing to do."""

    needs_templates: bool = False
    create: Obj | None = None
    status: Obj | None = None
    events: tuple[Event, ...] = ()

    @property
    def idle(self) -> bool:
        """Whether there is nothing to do."""
        return not (self.needs_templates or self.create is not None or self.status is not None)


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def managed(operation: Obj) -> bool:
    """Whether this reconciler acts on the Operation: engine `workflow`, not being deleted."""
    spec = _dict(operation.get("spec"))
    meta = _dict(operation.get("metadata"))
    return spec.get("engine") == ENGINE and not meta.get("deletionTimestamp")


def run_id(operation: Obj) -> str:
    """The uid of the Workflow the Operation's status recorded ("" before one was observed)."""
    value = _dict(_dict(operation.get("status")).get("outputs")).get("runId")
    return value if isinstance(value, str) else ""


def template_name(operation: Obj, optemplate: Obj) -> str:
    """The WorkflowTemplate name the Operation asks for, through its template parameter."""
    params = _dict(_dict(operation.get("spec")).get("parameters"))
    value = params.get(resolve.template_parameter(optemplate))
    return value if isinstance(value, str) else ""


def _unresolved_message(found: resolve.Unresolved) -> str:
    where = f"in namespace {found.namespace}"
    if found.local_exists and not found.namespace_allowed:
        where += " (it exists there, but the OperationTemplate does not allow that namespace)"
    elif found.other_namespaces:
        where += f" (it exists only in {', '.join(found.other_namespaces)})"
    cluster = (
        "a ClusterWorkflowTemplate of that name is not allowed by the OperationTemplate"
        if found.cluster_template_exists and not found.cluster_allowed
        else "no usable ClusterWorkflowTemplate of that name exists"
    )
    return f"WorkflowTemplate {found.name!r} is not resolvable {where}; {cluster}"


def _transition_events(before: Obj, after: Obj) -> tuple[Event, ...]:
    old_phase = _dict(before.get("status")).get("phase")
    new_phase = after.get("phase")
    if old_phase == new_phase:
        return ()
    conds = {c.get("type"): c for c in after.get("conditions", []) if isinstance(c, dict)}
    key = {"Succeeded": "Succeeded", "Failed": "Failed"}.get(str(new_phase), "Running")
    cond = conds.get(key, {})
    kind = WARNING if new_phase == status.FAILED else NORMAL
    reason = str(cond.get("reason") or new_phase)
    return (Event(kind, reason, f"Operation is {new_phase}: {cond.get('message', '')}".strip()),)


def _write(operation: Obj, new_status: Obj, extra: tuple[Event, ...] = ()) -> Plan:
    if new_status == operation.get("status"):
        return Plan(events=extra)
    return Plan(status=new_status, events=extra + _transition_events(operation, new_status))


def _left_by_predecessor(workflow: Obj, operation: Obj, policy: model.Policy) -> bool:
    """Whether the Workflow is ours but its controller is an earlier Operation of this name
    (another uid): garbage collection removes it, as its owner is gone."""
    meta = _dict(workflow.get("metadata"))
    labels = _dict(meta.get("labels"))
    if labels.get(materialize.MANAGED_BY_LABEL) != policy.managed_by:
        return False
    op_meta = _dict(operation.get("metadata"))
    refs = meta.get("ownerReferences")
    return any(
        isinstance(ref, dict)
        and ref.get("controller") is True
        and ref.get("kind") == "Operation"
        and ref.get("name") == op_meta.get("name")
        and ref.get("uid") != op_meta.get("uid")
        for ref in (refs if isinstance(refs, list) else ())
    )


def plan(
    operation: Obj,
    workflow: Obj | None,
    *,
    policy: model.Policy,
    now: datetime.datetime,
    templates: Templates | None = None,
) -> Plan:
    """What to do for an Operation given its Workflow of the same name (None when absent).

    - Operations of other engines, being deleted, or terminal: nothing.
    - The Workflow of a deleted Operation of the same name, awaiting garbage collection:
      Pending until it is gone.
    - Any other Workflow not owned by the Operation: Failed=True/NameConflict.
    - An owned Workflow: the status of `status.operation_status`; a Workflow whose uid differs
      from the recorded runId means the original was deleted (WorkflowMissing).
    - No Workflow after one was recorded (runId): Failed=True/WorkflowMissing.
    - No Workflow yet: `needs_templates` until `templates` is given, then the Workflow to create
      and a WorkflowCreated Event (the status follows from planning again with the created
      Workflow), or Failed=True/TemplateNotFound when the templates are gone since admission.
    """
    if not managed(operation) or status.is_terminal(operation):
        return Plan()
    recorded = run_id(operation)
    if workflow is not None:
        if _left_by_predecessor(workflow, operation, policy):
            # The Workflow of a deleted Operation of the same name, not yet garbage-collected:
            # its deletion (watched) brings the Operation back here to create its own.
            return _write(operation, status.operation_status(operation, None, now))
        if not materialize.owned_by(workflow, operation, managed_by=policy.managed_by):
            meta = _dict(workflow.get("metadata"))
            msg = (
                f"Workflow {meta.get('namespace', '')}/{meta.get('name', '')} exists and is not "
                "owned by this Operation; delete it or recreate the Operation under another name"
            )
            return _write(
                operation, status.failed_status(operation, status.NAME_CONFLICT, msg, now)
            )
        uid = _dict(workflow.get("metadata")).get("uid")
        if recorded and uid and uid != recorded:
            return _write(operation, status.operation_status(operation, None, now, missing=True))
        return _write(operation, status.operation_status(operation, workflow, now))
    if recorded:
        return _write(operation, status.operation_status(operation, None, now, missing=True))
    if templates is None:
        return Plan(needs_templates=True)
    if templates.optemplate is None:
        spec = _dict(operation.get("spec"))
        msg = (
            f"no single OperationTemplate for type {spec.get('type')!r} and engine "
            f"{spec.get('engine')!r} exists any more"
        )
        return _write(
            operation, status.failed_status(operation, "OperationTemplateNotFound", msg, now)
        )
    found = templates.resolved
    if not isinstance(found, resolve.Resolved):
        msg = (
            _unresolved_message(found)
            if isinstance(found, resolve.Unresolved)
            else "the Operation names no WorkflowTemplate"
        )
        return _write(operation, status.failed_status(operation, "TemplateNotFound", msg, now))
    body = materialize.materialize(operation, templates.optemplate, found, policy)
    source = "ClusterWorkflowTemplate" if found.cluster_scope else "WorkflowTemplate"
    created = Event(
        NORMAL,
        "WorkflowCreated",
        f"Created Workflow {body['metadata']['name']} from {source} {found.name}",
    )
    return Plan(create=body, events=(created,))
