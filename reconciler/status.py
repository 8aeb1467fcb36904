"""Workflow status -> Operation status: DESIGN's mapping table, as one pure function.

`operation_status(operation, workflow, now)` returns the Operation's new `status`:

| Workflow                                   | phase     | conditions                                       |
|--------------------------------------------|-----------|--------------------------------------------------|
| none yet (not created), `""` or Pending    | Pending   | Accepted=True/TemplateValidated, Running=False/Pending |
| Running                                    | Running   | Running=True/WorkflowInProgress, `Node: <name>`  |
| Running + suspended, or literal Suspended  | Running   | Running=True/WorkflowSuspended, Blocked=True/AwaitingResume |
| Succeeded                                  | Succeeded | Running=False/WorkflowSucceeded, Succeeded=True/WorkflowSucceeded |
| Failed                                     | Failed    | Running=False/WorkflowFailed, Failed=True/WorkflowFailed, first failing node |
| Error                                      | Failed    | Running=False/WorkflowError, Failed=True/WorkflowError |
| any other phase (a future Argo)            | Running   | Running=True/WorkflowPhaseUnknown                |
| deleted before finishing (`missing=True`)  | Failed    | Running=False/WorkflowMissing, Failed=True/WorkflowMissing |

"Most recently started running node", "first failing node" and "suspended" are defined on
Argo's node statuses in `reconciler.nodes`. For Failed the first failing node's message is
preferred to the Workflow's `status.message`; for Error (engine-level errors such as a missing
template, often without nodes) the Workflow's `status.message` is preferred.

Invariants: one condition per type; Accepted stays True once set; Succeeded and Failed are
terminal and absorbing (the status is returned unchanged); `lastTransitionTime` changes only when
a condition's status changes; the function is idempotent; messages are at most `MESSAGE_LIMIT`
characters; any input, however malformed, gives a status and never an exception.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import re
from typing import Any

from reconciler import nodes
from webhooks import kinds

Obj = dict[str, Any]

# Operation phases (DESIGN "API objects"); Argo uses the same words for its own phases.
PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"
# Succeeded and Failed never change once reached (DESIGN "Invariants").
TERMINAL = frozenset({SUCCEEDED, FAILED})
# Our condition types, in the order they are written.
CONDITION_TYPES = ("Accepted", "Running", "Blocked", "Succeeded", "Failed")
# Condition messages are summaries; 1024 characters keep `kubectl describe` readable and stay far
# below metav1.Condition's 32768 limit.
MESSAGE_LIMIT = 1024
# metav1.Condition's reason pattern (also in the Operation CRD).
REASON = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
# Reasons for conditions the controller sets itself, without a Workflow to map.
WORKFLOW_MISSING = "WorkflowMissing"
NAME_CONFLICT = "NameConflict"


@dataclasses.dataclass(frozen=True, slots=True)
class Cond:
    """A condition before timestamps: type, status, reason, message."""

    type: str
    status: str
    reason: str
    message: str


@dataclasses.dataclass(frozen=True, slots=True)
class Mapped:
    """What a Workflow (or its absence) says the Operation is: phase and conditions."""

    phase: str
    conditions: tuple[Cond, ...]


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def bounded(message: str) -> str:
    """A message cut to MESSAGE_LIMIT characters, marked with `...` when cut."""
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 3] + "..."


def rfc3339(moment: datetime.datetime | str) -> str:
    """A time as metav1.Time writes it: UTC, whole seconds, `Z` (naive times are taken as UTC;
    RFC3339 text is accepted too)."""
    if isinstance(moment, str):
        parsed = nodes.parse_time(moment)
        if parsed is None:
            raise ValueError(f"not an RFC3339 time: {moment!r}")
        moment = parsed
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _accepted() -> Cond:
    return Cond("Accepted", "True", "TemplateValidated", "The Operation was admitted by policy")


def _failed(reason: str, message: str, running_message: str) -> Mapped:
    return Mapped(
        FAILED,
        (
            _accepted(),
            Cond("Running", "False", reason, running_message),
            Cond("Failed", "True", reason, message),
        ),
    )


def map_workflow(workflow: Obj) -> Mapped:
    """The table row a Workflow falls in (see module doc)."""
    meta = _dict(workflow.get("metadata"))
    name = _text(meta.get("name")) or "(unnamed)"
    status = _dict(workflow.get("status"))
    phase = status.get("phase")
    phase = "" if phase is None else phase
    if phase in ("", PENDING):
        return Mapped(
            PENDING,
            (_accepted(), Cond("Running", "False", "Pending", f"Workflow {name} is pending")),
        )
    if phase == "Suspended" or (phase == RUNNING and nodes.is_suspended(workflow)):
        namespace = _text(meta.get("namespace"))
        node = nodes.running_suspend_node(workflow)
        running_msg = f"Node: {node}" if node else f"Workflow {name} is suspended"
        resume = f"argo resume {name}" + (f" -n {namespace}" if namespace else "")
        return Mapped(
            RUNNING,
            (
                _accepted(),
                Cond("Running", "True", "WorkflowSuspended", running_msg),
                Cond(
                    "Blocked",
                    "True",
                    "AwaitingResume",
                    f"Workflow {name} is suspended and waits for a human to resume it "
                    f"(`{resume}`); the operator does not auto-resume",
                ),
            ),
        )
    if phase == RUNNING:
        node = nodes.active_node(workflow)
        msg = f"Node: {node}" if node else f"Workflow {name} is running"
        return Mapped(RUNNING, (_accepted(), Cond("Running", "True", "WorkflowInProgress", msg)))
    if phase == SUCCEEDED:
        msg = f"Workflow {name} succeeded"
        return Mapped(
            SUCCEEDED,
            (
                _accepted(),
                Cond("Running", "False", "WorkflowSucceeded", msg),
                Cond("Succeeded", "True", "WorkflowSucceeded", msg),
            ),
        )
    wf_message = _text(status.get("message")).strip()
    if phase == FAILED:
        msg = nodes.first_failure(workflow) or wf_message or f"Workflow {name} failed"
        return _failed("WorkflowFailed", msg, f"Workflow {name} failed")
    if phase == "Error":
        msg = wf_message or nodes.first_failure(workflow) or f"Workflow {name} errored"
        return _failed("WorkflowError", msg, f"Workflow {name} errored")
    shown = _text(phase)[:100]
    return Mapped(
        RUNNING,
        (
            _accepted(),
            Cond(
                "Running",
                "True",
                "WorkflowPhaseUnknown",
                f"Workflow {name} reports phase {shown!r}, unknown to this operator; "
                "treated as running",
            ),
        ),
    )


def not_created(operation: Obj) -> Mapped:
    """The Pending row before the Workflow exists."""
    meta = _dict(operation.get("metadata"))
    name = _text(meta.get("name"))
    return Mapped(
        PENDING,
        (
            _accepted(),
            Cond("Running", "False", "Pending", f"Waiting for Workflow {name} to be created"),
        ),
    )


def workflow_missing(operation: Obj) -> Mapped:
    """Failed=True/WorkflowMissing: the Workflow was deleted before it finished."""
    meta = _dict(operation.get("metadata"))
    where = f"{_text(meta.get('namespace'))}/{_text(meta.get('name'))}"
    msg = f"Workflow {where} was deleted before it finished"
    return _failed(WORKFLOW_MISSING, msg, msg)


def _generation(operation: Obj) -> int | None:
    value = _dict(operation.get("metadata")).get("generation")
    usable = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if usable else None


def _logs_ref(workflow: Obj) -> Obj:
    meta = _dict(workflow.get("metadata"))
    return {
        "apiVersion": kinds.WORKFLOW.api_version,
        "kind": kinds.WORKFLOW.kind,
        "namespace": _text(meta.get("namespace")),
        "name": _text(meta.get("name")),
    }


def _merge_conditions(existing: Any, mapped: Mapped, now: str, generation: int | None) -> list[Obj]:
    old: dict[str, Obj] = {}
    foreign: list[Obj] = []
    for cond in existing if isinstance(existing, list) else ():
        if not isinstance(cond, dict) or not isinstance(cond.get("type"), str):
            continue
        if cond["type"] in old or any(f.get("type") == cond["type"] for f in foreign):
            continue  # one condition per type: the first one wins
        if cond["type"] in CONDITION_TYPES:
            old[cond["type"]] = cond
        else:
            foreign.append(cond)
    wanted = {c.type: c for c in mapped.conditions}
    kept = old.get("Accepted", {})
    if (
        kept.get("status") == "True"
        and isinstance(kept.get("reason"), str)
        and REASON.match(kept["reason"])
        and isinstance(kept.get("message"), str)
    ):
        wanted["Accepted"] = Cond("Accepted", "True", kept["reason"], kept["message"])
    running = wanted["Running"]
    for type_ in CONDITION_TYPES:
        if type_ in old and type_ not in wanted:
            reason = "WorkflowResumed" if running.status == "True" else running.reason
            wanted[type_] = Cond(type_, "False", reason, "")
    out: list[Obj] = []
    for type_ in CONDITION_TYPES:
        cond = wanted.get(type_)
        if cond is None:
            continue
        before = old.get(type_, {})
        unchanged = (
            before.get("status") == cond.status
            and isinstance(before.get("lastTransitionTime"), str)
            and nodes.parse_time(before["lastTransitionTime"]) is not None
        )
        written: Obj = {
            "type": cond.type,
            "status": cond.status,
            "reason": cond.reason,
            "message": bounded(cond.message),
            "lastTransitionTime": before["lastTransitionTime"] if unchanged else now,
        }
        if generation is not None:
            written["observedGeneration"] = generation
        out.append(written)
    return out + [copy.deepcopy(c) for c in foreign]


def _apply(
    operation: Obj, mapped: Mapped, workflow: Obj | None, now: datetime.datetime | str
) -> Obj:
    current = _dict(operation.get("status"))
    rewritten = ("conditions", "outputs") if workflow is not None else ("conditions",)
    status = {k: copy.deepcopy(v) for k, v in current.items() if k not in rewritten}
    generation = _generation(operation)
    status["phase"] = mapped.phase
    status["conditions"] = _merge_conditions(
        current.get("conditions"), mapped, rfc3339(now), generation
    )
    if workflow is not None:
        outputs = copy.deepcopy(_dict(current.get("outputs")))
        outputs["logsRef"] = _logs_ref(workflow)
        uid = _text(_dict(workflow.get("metadata")).get("uid"))
        if uid:
            outputs["runId"] = uid
        status["outputs"] = outputs
    if generation is not None:
        status["observedGeneration"] = generation
    return status


def is_terminal(operation: Obj) -> bool:
    """Whether the Operation's status phase is Succeeded or Failed."""
    return _phase(_dict(operation.get("status"))) in TERMINAL


def _phase(status: Obj) -> str:
    phase = status.get("phase")
    return phase if isinstance(phase, str) else ""


def operation_status(
    operation: Obj, workflow: Obj | None, now: datetime.datetime | str, *, missing: bool = False
) -> Obj:
    """The Operation's new `status` given the observed Workflow (see the module doc).

    `workflow` None means "no Workflow observed": with `missing=False` it has not been created
    yet (Pending; an Operation already past Pending keeps its status, as nothing new was
    observed); with `missing=True` the controller saw it exist before and now it is gone
    (Failed/WorkflowMissing). A terminal Operation's status is returned unchanged. `now` is a
    datetime (naive means UTC) or RFC3339 text.
    """
    current = _dict(operation.get("status"))
    if _phase(current) in TERMINAL:
        return copy.deepcopy(current)
    if workflow is None:
        if missing:
            return _apply(operation, workflow_missing(operation), None, now)
        if _phase(current) not in ("", PENDING):
            return copy.deepcopy(current)
        return _apply(operation, not_created(operation), None, now)
    return _apply(operation, map_workflow(workflow), workflow, now)


def failed_status(operation: Obj, reason: str, message: str, now: datetime.datetime | str) -> Obj:
    """Failed=True/<reason> for a failure the controller finds itself (NameConflict,
    TemplateNotFound, ...); a terminal Operation's status is returned unchanged."""
    current = _dict(operation.get("status"))
    if _phase(current) in TERMINAL:
        return copy.deepcopy(current)
    return _apply(operation, _failed(reason, message, message), None, now)
