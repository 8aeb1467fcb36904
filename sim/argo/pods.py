"""Pod-like steps of the fake Argo controller: pods, resource templates, suspend nodes, time.

A pod step finishes at startedAt + its outcome's duration, with Argo's outputs (result, exitCode,
declared output parameters) and messages (`main: Error (exit code N): ...`). A resource step
creates its manifest, then waits for `successCondition` / `failureCondition`. Past the workflow's
deadline, waiting pods and Suspend nodes fail with `Step exceeded its deadline`; a pod that
outlives its template's own `activeDeadlineSeconds` (the pod spec's, enforced by the kubelet)
fails with the kubelet's `Pod was active on the node longer than the specified deadline`.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import TYPE_CHECKING, Any

import orjson
import yaml

from sim.argo import conditions, errors, nodes, substitute, world

if TYPE_CHECKING:
    from sim.argo.execute import Operation

Obj = dict[str, Any]

DEADLINE_MESSAGE = "Step exceeded its deadline"
POD_DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_RETRIED = re.compile(r"^(.*)\((\d+)\)$")
# libyaml's safe loader when available (the pure-Python one is an order of magnitude slower).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_duration(value: Any) -> int | None:
    """Seconds of an Argo duration (`30`, `30s`, `5m`, `2h`), or None when unparseable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    match = _DURATION.match(str(value or ""))
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else None


@functools.lru_cache(maxsize=4096)
def _parse_manifest(text: str) -> bytes:
    """A resource manifest parsed once per distinct text (kept as JSON bytes)."""
    return orjson.dumps(yaml.load(text, Loader=_LOADER))


def step_ref(op: Operation, node: Obj) -> world.StepRef:
    """How the world names a pod node."""
    display = str(node.get("displayName") or node["name"])
    attempt = 0
    if node.get("nodeFlag", {}).get("retried"):
        match = _RETRIED.match(display)
        if match:
            display, attempt = match.group(1), int(match.group(2))
    template = str(node.get("templateName") or (node.get("templateRef") or {}).get("template"))
    return world.StepRef(op.name, op.namespace, node["name"], display, template, attempt)


def render_manifest(op: Operation, node: Obj, tmpl: Obj) -> Obj:
    scope = op.scope((node.get("inputs") or {}).get("parameters") or [])
    text = substitute.substitute(str((tmpl.get("resource") or {}).get("manifest") or ""), scope)
    try:
        manifest = orjson.loads(_parse_manifest(text))
    except yaml.YAMLError as exc:
        raise errors.TemplateError(f"resource manifest is not valid YAML: {exc}") from None
    if not isinstance(manifest, dict):
        raise errors.TemplateError("resource manifest is not a mapping")
    meta = manifest.setdefault("metadata", {})
    if not meta.get("namespace"):
        meta["namespace"] = op.namespace
    return manifest


def create_resource(op: Operation, node: Obj, tmpl: Obj) -> None:
    resource = tmpl.get("resource") or {}
    action = str(resource.get("action") or "")
    try:
        manifest = render_manifest(op, node, tmpl)
    except errors.TemplateError as exc:
        op.mark(node, nodes.ERROR, str(exc))
        return
    if action in ("create", "apply"):
        error = op.world.create_object(manifest, action=action)
        if error:
            op.mark(node, nodes.FAILED, error)
            return
    elif action != "get":
        op.mark(node, nodes.ERROR, f"resource action '{action}' is not simulated")
        return
    check_resource(op, node, tmpl)


def check_resource(op: Operation, node: Obj, tmpl: Obj) -> None:
    resource = tmpl.get("resource") or {}
    success = str(resource.get("successCondition") or "")
    failure = str(resource.get("failureCondition") or "")
    if not success and not failure:
        op.mark(node, nodes.SUCCEEDED)
        return
    try:
        manifest = render_manifest(op, node, tmpl)
    except errors.TemplateError as exc:
        op.mark(node, nodes.ERROR, str(exc))
        return
    meta = manifest.get("metadata") or {}
    obj = op.world.get_object(
        str(manifest.get("apiVersion") or ""), str(manifest.get("kind") or ""),
        str(meta.get("namespace") or ""), str(meta.get("name") or ""),
    )  # fmt: skip
    if obj is None:
        op.mark(
            node, nodes.FAILED,
            "The resource has been deleted while its status was still being checked. "
            "Will not be retried",
        )  # fmt: skip
        return
    try:
        phase, message = conditions.check(obj, success, failure)
    except conditions.ConditionError as exc:
        op.mark(node, nodes.ERROR, f"success condition '{success}' failed to parse: {exc}")
        return
    if phase != nodes.RUNNING:
        op.mark(node, phase, message)


def finish_pod(
    op: Operation, node: Obj, tmpl: Obj, outcome: world.Outcome, at: dt.datetime
) -> None:
    phase = outcome.phase if outcome.phase in (nodes.FAILED, nodes.ERROR) else nodes.SUCCEEDED
    node["outputs"] = {"result": outcome.result, "exitCode": str(outcome.code)}
    given = dict(outcome.parameters)
    declared = (tmpl.get("outputs") or {}).get("parameters") or []
    params = []
    for param in declared:
        if not isinstance(param, dict):
            continue
        name = str(param.get("name"))
        default = (param.get("valueFrom") or {}).get("default", param.get("default", ""))
        params.append({"name": name, "value": str(given.get(name, default))})
    if params:
        node["outputs"]["parameters"] = params
    node["phase"] = phase
    node["finishedAt"] = nodes.timestamp(at)
    if phase == nodes.FAILED:
        suffix = f": {outcome.message}" if outcome.message else ""
        node["message"] = f"main: Error (exit code {outcome.code}){suffix}"
    elif phase == nodes.ERROR:
        node["message"] = outcome.message or f"main: Error (exit code {outcome.code})"
    elif outcome.message:
        node["message"] = outcome.message
    if phase == nodes.SUCCEEDED:
        scope = op.scope((node.get("inputs") or {}).get("parameters") or [])
        for obj in outcome.creates:
            op.world.create_object(substitute.substitute_data(obj, scope), action="apply")


def pod_deadline(op: Operation, tmpl: Obj, started: dt.datetime) -> dt.datetime | None:
    """When the kubelet kills the pod for its template's `activeDeadlineSeconds`, if that comes
    before the workflow's own deadline (which then decides, with its own message)."""
    seconds = parse_duration(tmpl.get("activeDeadlineSeconds"))
    if seconds is None:
        return None
    at = started + dt.timedelta(seconds=seconds)
    workflow = op.deadline()
    return at if workflow is None or at < workflow else None


def reconcile_pods(op: Operation) -> None:
    """Finish pods whose time is up, check resource conditions, expire timed suspensions."""
    for node in list(op.nodes.values()):
        if nodes.fulfilled(node["phase"]):
            continue
        started = nodes.parse_time(node.get("startedAt")) or op.now
        if node["type"] == nodes.POD:
            tmpl = op.template_of(node) or {}
            killed = pod_deadline(op, tmpl, started)
            if "resource" in tmpl:
                check_resource(op, node, tmpl)
                if killed is not None and killed <= op.now and not nodes.fulfilled(node["phase"]):
                    op.mark(node, nodes.FAILED, POD_DEADLINE_MESSAGE)
                continue
            outcome = op.world.outcome(step_ref(op, node))
            end = started + dt.timedelta(seconds=max(0, outcome.duration))
            if killed is not None and killed < end:
                if killed <= op.now:
                    op.mark(node, nodes.FAILED, POD_DEADLINE_MESSAGE)
                    node["finishedAt"] = nodes.timestamp(killed)
            elif end <= op.now:
                finish_pod(op, node, tmpl, outcome, end)
        elif nodes.is_active_suspend(node):
            seconds = suspend_seconds(op, node)
            if seconds is not None and started + dt.timedelta(seconds=seconds) <= op.now:
                op.mark(node, nodes.SUCCEEDED)


def suspend_seconds(op: Operation, node: Obj) -> int | None:
    tmpl = op.template_of(node) or {}
    return parse_duration((tmpl.get("suspend") or {}).get("duration"))


def waits_on_objects(op: Operation) -> bool:
    """Whether a resource step is waiting for its object's conditions (polled)."""
    for node in op.nodes.values():
        pending = node["type"] == nodes.POD and not nodes.fulfilled(node["phase"])
        if pending and "resource" in (op.template_of(node) or {}):
            return True
    return False


def enforce_deadline(op: Operation) -> None:
    """Past the deadline, fail pending/running pods and waiting Suspend nodes."""
    deadline = op.deadline()
    if deadline is None or op.now < deadline:
        return
    for node in op.nodes.values():
        if nodes.fulfilled(node["phase"]):
            continue
        if node["type"] == nodes.POD or nodes.is_active_suspend(node):
            op.mark(node, nodes.FAILED, DEADLINE_MESSAGE)


def pending_events(op: Operation) -> list[dt.datetime]:
    """Times at which a running node finishes by itop, and the deadline."""
    out: list[dt.datetime] = []
    waiting = False
    for node in op.nodes.values():
        if nodes.fulfilled(node["phase"]):
            continue
        waiting = True
        started = nodes.parse_time(node.get("startedAt")) or op.now
        if node["type"] == nodes.POD:
            tmpl = op.template_of(node) or {}
            killed = pod_deadline(op, tmpl, started)
            if killed is not None:
                out.append(killed)
            if "resource" in tmpl:
                continue
            outcome = op.world.outcome(step_ref(op, node))
            out.append(started + dt.timedelta(seconds=max(0, outcome.duration)))
        elif nodes.is_active_suspend(node):
            seconds = suspend_seconds(op, node)
            if seconds is not None:
                out.append(started + dt.timedelta(seconds=seconds))
    deadline = op.deadline()
    if deadline is not None and waiting:
        out.append(deadline)
    return out
