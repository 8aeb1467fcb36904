"""The fake Argo workflow controller's step function: `advance(workflow, lookup, world, now)`.

One call brings a Workflow's status up to `now`: it replays every event between the last one it
saw and `now` in time order (a pod finishing, a suspension expiring, the deadline passing) and,
at each, runs Argo's reconcile to a fixpoint: pod reconciliation, deadline enforcement,
`spec.suspend`, then the entry template (DAG, steps, pod, resource, suspend) with Argo's rules
for dependencies, `when`, Skipped/Omitted nodes, retries and failFast. It is pure except for the
objects resource templates and steps create through the `World`. Time is what the caller says:
a pod node that started at t finishes at t + its outcome's duration.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import orjson

from sim.argo import errors, execute, nodes, spec, world

Obj = dict[str, Any]

# Upper bounds that keep a call finite whatever the template says.
MAX_EVENTS = 10_000
MAX_FIXPOINT = 64

WORKFLOW_PHASE = {
    nodes.SUCCEEDED: "Succeeded",
    nodes.SKIPPED: "Succeeded",
    nodes.OMITTED: "Succeeded",
    nodes.FAILED: "Failed",
    nodes.ERROR: "Error",
}
# A tuple: membership of a malformed (maybe unhashable) phase must not raise.
TERMINAL = ("Succeeded", "Failed", "Error")


def is_terminal(workflow: Obj) -> bool:
    """Whether a Workflow's phase is Succeeded, Failed or Error."""
    return str((workflow.get("status") or {}).get("phase") or "") in TERMINAL


def is_suspended(workflow: Obj) -> bool:
    """Argo's IsWorkflowSuspended: `spec.suspend` or an active Suspend node."""
    if (workflow.get("spec") or {}).get("suspend") is True:
        return True
    status_nodes = (workflow.get("status") or {}).get("nodes") or {}
    return any(nodes.is_active_suspend(n) for n in status_nodes.values())


def advance(
    workflow: Obj, lookup: world.TemplateLookup, the_world: world.World, now: dt.datetime
) -> Obj:
    """The Workflow's status at `now` (a new dict; the input is not modified)."""
    run = _Run(workflow, lookup, the_world)
    if run.status.get("phase") in TERMINAL:
        return run.status
    for _ in range(MAX_EVENTS):
        nxt = run.next_event()
        if nxt is None or nxt >= now:
            break
        run.reconcile(nxt)
    run.reconcile(now)
    return run.status


def next_event(
    workflow: Obj, lookup: world.TemplateLookup, the_world: world.World
) -> dt.datetime | None:
    """When a running Workflow next changes by itself (a pod ends, the deadline), or None."""
    return _Run(workflow, lookup, the_world, private=False).next_event()


def polls(workflow: Obj, lookup: world.TemplateLookup, the_world: world.World) -> bool:
    """Whether a running Workflow waits on cluster objects (and must be re-checked often)."""
    if str((workflow.get("status") or {}).get("phase") or "") != "Running":
        return False
    run = _Run(workflow, lookup, the_world, private=False)
    return run._ops(dt.datetime.min.replace(tzinfo=dt.UTC)).waits_on_objects()


def resume(workflow: Obj, now: dt.datetime) -> Obj:
    """The Workflow after `argo resume`: `spec.suspend` cleared, active Suspend nodes Succeeded."""
    out = copy.deepcopy(workflow)
    out.get("spec", {}).pop("suspend", None)
    for node in ((out.get("status") or {}).get("nodes") or {}).values():
        if nodes.is_active_suspend(node):
            node["phase"] = nodes.SUCCEEDED
            node["finishedAt"] = nodes.timestamp(now)
    return out


def suspend(workflow: Obj) -> Obj:
    """The Workflow after `argo suspend`: `spec.suspend: true`."""
    out = copy.deepcopy(workflow)
    out.setdefault("spec", {})["suspend"] = True
    return out


class _Run:
    """One `advance` call: the workflow being operated and its clock."""

    def __init__(
        self,
        workflow: Obj,
        lookup: world.TemplateLookup,
        the_world: world.World,
        *,
        private: bool = True,
    ) -> None:
        self.workflow = workflow
        self.lookup = lookup
        self.world = the_world
        status = workflow.get("status") or {}
        if private:  # nodes change in place; the stored spec and the rest are only replaced
            status = dict(status)
            if "nodes" in status:
                status["nodes"] = orjson.loads(orjson.dumps(status["nodes"]))
        self.status: Obj = status
        self.last: dt.datetime | None = None
        self._cache: dict[str, Any] = {}

    # --- time ------------------------------------------------------------------------------
    def next_event(self) -> dt.datetime | None:
        """The earliest time after the last reconcile at which something changes by itself."""
        if self.status.get("phase") != "Running":
            return None
        ops = self._ops(self.last or dt.datetime.min.replace(tzinfo=dt.UTC))
        times = [t for t in ops.pending_events() if self.last is None or t > self.last]
        return min(times) if times else None

    def _ops(self, now: dt.datetime) -> execute.Operation:
        return execute.Operation(
            self.workflow, self.status, self.lookup, self.world, now, cache=self._cache
        )

    # --- one reconcile ---------------------------------------------------------------------
    def reconcile(self, now: dt.datetime) -> None:
        """Argo's operate() at `now`, repeated while something is already due at `now`
        (a pod that takes no time, a step started past the deadline)."""
        self.last = now
        for _ in range(MAX_FIXPOINT):
            if self.status.get("phase") in TERMINAL:
                return
            self._operate(now)
            if self.status.get("phase") != "Running":
                return
            if not any(t <= now for t in self._ops(now).pending_events()):
                return

    def _operate(self, now: dt.datetime) -> None:
        status = self.status
        if not status.get("phase"):
            try:
                stored = spec.resolve(self.workflow, self.lookup)
                spec.validate(stored, self.workflow)
            except errors.SpecError as exc:
                self._finish(exc.phase, exc.message, now)
                return
            status["phase"] = "Running"
            status["startedAt"] = nodes.timestamp(now)
            if (self.workflow.get("spec") or {}).get("workflowTemplateRef"):
                status["storedWorkflowTemplateSpec"] = stored
            status.setdefault("nodes", {})
        ops = self._ops(now)
        ops.reconcile_pods()
        ops.enforce_deadline()
        if not ops.suspended():
            try:
                entry = ops.run_entry()
            except errors.TemplateError as exc:
                self._finish("Error", f"error in entry template execution: {exc}", now)
                return
            if entry is not None and nodes.fulfilled(entry["phase"]):
                phase = WORKFLOW_PHASE[entry["phase"]]
                self._finish(phase, str(entry.get("message") or ""), now)
                return
        status["progress"] = nodes.progress(status.get("nodes") or {})

    def _finish(self, phase: str, message: str, now: dt.datetime) -> None:
        status = self.status
        status["phase"] = phase
        status.setdefault("startedAt", nodes.timestamp(now))
        status["finishedAt"] = nodes.timestamp(now)
        if message:
            status["message"] = message
        else:
            status.pop("message", None)
        entry = (status.get("nodes") or {}).get(self.workflow["metadata"]["name"])
        if phase == "Error" and entry is not None and entry.get("phase") == nodes.RUNNING:
            entry["phase"] = nodes.ERROR
            entry["message"] = "Workflow operation error"
            entry["finishedAt"] = nodes.timestamp(now)
        status["progress"] = nodes.progress(status.get("nodes") or {})
        status["conditions"] = [
            {"type": "PodRunning", "status": "False"},
            {"type": "Completed", "status": "True"},
        ]
