"""One reconcile of a Workflow at one instant: Argo's executeTemplate and its template kinds.

`Operation` holds the workflow, its status (mutated in place) and the instant. Its parts mirror
argo-workflows' controller: pod reconciliation (a pod finishes at startedAt + duration),
deadline enforcement (`Step exceeded its deadline`), then the entry template: pods (container,
script), resource templates (create the manifest, then wait for successCondition /
failureCondition), suspend templates, retries (`Retry` node with `name(n)` attempts, `No more
retries left`), DAGs (see `sim.argo.dag`) and steps (see `sim.argo.steps`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

import orjson
import yaml

from sim.argo import conditions, errors, nodes, spec, substitute, world
from sim.argo import dag as dag_mod
from sim.argo import steps as steps_mod

Obj = dict[str, Any]

DEADLINE_MESSAGE = "Step exceeded its deadline"
# Task/step fields that expand into several nodes; the simulator refuses them explicitly.
LOOP_FIELDS = ("withItems", "withParam", "withSequence")
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


class Operation:
    """The workflow being reconciled at `now`; status is updated in place."""

    def __init__(
        self,
        workflow: Obj,
        status: Obj,
        lookup: world.TemplateLookup,
        the_world: world.World,
        now: dt.datetime,
    ) -> None:
        meta = workflow.get("metadata") or {}
        self.workflow = workflow
        self.name = str(meta.get("name") or "")
        self.namespace = str(meta.get("namespace") or "")
        self.status = status
        self.nodes: nodes.Nodes = status.setdefault("nodes", {})
        self.spec: Obj = status.get("storedWorkflowTemplateSpec") or workflow.get("spec") or {}
        self.templates = spec.templates_by_name(self.spec)
        self.lookup = lookup
        self.world = the_world
        self.now = now
        self.ts = nodes.timestamp(now)
        self.globals = self._globals(meta)

    def _globals(self, meta: Obj) -> dict[str, str]:
        scope = {
            "workflow.name": self.name,
            "workflow.namespace": self.namespace,
            "workflow.uid": str(meta.get("uid") or ""),
            "workflow.serviceAccountName": str(self.spec.get("serviceAccountName") or ""),
            "workflow.mainEntrypoint": str(self.spec.get("entrypoint") or ""),
            "workflow.creationTimestamp": str(meta.get("creationTimestamp") or ""),
        }
        for param in (self.spec.get("arguments") or {}).get("parameters") or []:
            if isinstance(param, dict) and "value" in param:
                scope[f"workflow.parameters.{param.get('name')}"] = str(param["value"])
        for key, value in (meta.get("labels") or {}).items():
            scope[f"workflow.labels.{key}"] = str(value)
        for key, value in (meta.get("annotations") or {}).items():
            scope[f"workflow.annotations.{key}"] = str(value)
        return scope

    # --- node bookkeeping ------------------------------------------------------------------
    def node(self, name: str) -> Obj | None:
        """The node called `name`, if it exists."""
        return self.nodes.get(nodes.node_id(self.name, name))

    def init_node(
        self,
        name: str,
        type_: str,
        boundary_id: str | None,
        phase: str,
        template: str,
        message: str = "",
        holder: Obj | None = None,
        retried: bool = False,
    ) -> Obj:
        """A new node, as Argo's initializeNode makes it."""
        nid = nodes.node_id(self.name, name)
        boundary = self.nodes.get(boundary_id or "")
        node: Obj = {
            "id": nid,
            "name": name,
            "displayName": nodes.display_name(name, boundary["name"] if boundary else None),
            "type": type_,
            "templateName": template,
            "templateScope": f"local/{self.name}",
            "phase": phase,
            "startedAt": self.ts,
        }
        if holder and isinstance(holder.get("templateRef"), dict):
            node["templateRef"] = dict(holder["templateRef"])
            node.pop("templateName")
        if boundary_id:
            node["boundaryID"] = boundary_id
        if retried:
            node["nodeFlag"] = {"retried": True}
        if message:
            node["message"] = message
        if nodes.fulfilled(phase):
            node["finishedAt"] = self.ts
        self.nodes[nid] = node
        return node

    def mark(self, node: Obj, phase: str, message: str | None = None) -> Obj:
        """Set a node's phase (and message); a fulfilled node gets its finishedAt."""
        node["phase"] = phase
        if message is not None:
            if message:
                node["message"] = message
            else:
                node.pop("message", None)
        if nodes.fulfilled(phase) and not node.get("finishedAt"):
            node["finishedAt"] = self.ts
        return node

    def add_child(self, parent_name: str, child_name: str) -> None:
        """Link child under parent (by name), once."""
        parent = self.node(parent_name)
        if parent is None:
            return
        child_id = nodes.node_id(self.name, child_name)
        children = parent.setdefault("children", [])
        if child_id not in children:
            children.append(child_id)

    def outbound(self, node_id: str) -> list[str]:
        """Argo's getOutboundNodes: the leaf nodes a node's dependents hang from."""
        node = self.nodes.get(node_id)
        if node is None:
            return []
        type_ = node.get("type")
        if type_ in (nodes.SKIPPED_TYPE, nodes.SUSPEND, nodes.POD, "HTTP", "Plugin"):
            return [node_id]
        if type_ == nodes.RETRY:
            children = node.get("children") or []
            return [children[-1]] if children else []
        out: list[str] = []
        for child in node.get("outboundNodes") or []:
            out.extend(self.outbound(child))
        return out

    # --- templates -------------------------------------------------------------------------
    def resolve(self, holder: Obj) -> Obj:
        """The template a task/step/entry names (local `template` or `templateRef`)."""
        ref = holder.get("templateRef")
        if isinstance(ref, dict):
            name, tmpl_name = str(ref.get("name") or ""), str(ref.get("template") or "")
            if ref.get("clusterScope"):
                source = self.lookup.cluster_workflow_template(name)
            else:
                source = self.lookup.workflow_template(self.namespace, name)
            if source is None:
                raise errors.TemplateError(f"workflow template {name} not found")
            found = spec.templates_by_name(source.get("spec") or {}).get(tmpl_name)
            if found is None:
                raise errors.TemplateError(
                    f"template {tmpl_name} not found in workflow template {name}"
                )
            return found
        tmpl_name = str(holder.get("template") or "")
        found = self.templates.get(tmpl_name)
        if found is None:
            raise errors.TemplateError(f"template {tmpl_name} not found")
        return found

    def template_of(self, node: Obj) -> Obj | None:
        """The template a node was created from, or None."""
        if "templateRef" in node:
            holder = {"templateRef": node["templateRef"]}
        else:
            holder = {"template": node.get("templateName")}
        try:
            return self.resolve(holder)
        except errors.TemplateError:
            return None

    def inputs(self, tmpl: Obj, args: list[Obj]) -> list[Obj]:
        """The template's input parameters with values from the arguments, value or default."""
        given = {str(a.get("name")): a for a in args if isinstance(a, dict)}
        out = []
        for param in (tmpl.get("inputs") or {}).get("parameters") or []:
            name = str(param.get("name"))
            arg = given.get(name)
            if arg is not None and "value" in arg:
                value = arg["value"]
            elif "value" in param:
                value = param["value"]
            elif "default" in param:
                value = param["default"]
            else:
                raise errors.TemplateError(f"inputs.parameters.{name} was not supplied")
            out.append({"name": name, "value": str(value)})
        return out

    def scope(self, inputs: list[Obj]) -> dict[str, str]:
        """Globals plus `inputs.parameters.*`."""
        scope = dict(self.globals)
        for param in inputs:
            scope[f"inputs.parameters.{param['name']}"] = str(param["value"])
        return scope

    def execute(self, name: str, holder: Obj, args: list[Obj], boundary_id: str | None) -> Obj:
        """Argo's executeTemplate for the node `name`; returns its node."""
        node = self.node(name)
        try:
            loops = [k for k in LOOP_FIELDS if holder.get(k)]
            if loops:
                raise errors.TemplateError(f"{loops[0]} loops are not simulated")
            tmpl = self.resolve(holder)
            inputs = self.inputs(tmpl, args)
        except errors.TemplateError as exc:
            if node is None:
                self.init_node(
                    name, nodes.SKIPPED_TYPE, boundary_id, nodes.ERROR,
                    str(holder.get("template") or ""), str(exc), holder,
                )  # fmt: skip
            else:
                self.mark(node, nodes.ERROR, str(exc))
            raise
        if node is not None and nodes.fulfilled(node["phase"]):
            return node
        retry = tmpl.get("retryStrategy") or self.spec.get("retryStrategy")
        if isinstance(retry, dict):
            return self._retry(name, holder, tmpl, inputs, boundary_id, retry)
        return self._kind(name, holder, tmpl, inputs, boundary_id, retried=False)

    def _kind(
        self, name: str, holder: Obj, tmpl: Obj, inputs: list[Obj], boundary_id: str | None,
        *, retried: bool,
    ) -> Obj:  # fmt: skip
        node = self.node(name)
        tmpl_name = str(tmpl.get("name") or "")
        if "dag" in tmpl:
            return dag_mod.execute(self, name, tmpl, holder, boundary_id, inputs)
        if "steps" in tmpl:
            return steps_mod.execute(self, name, tmpl, holder, boundary_id, inputs)
        if node is not None:
            return node
        if "container" in tmpl or "script" in tmpl or "containerSet" in tmpl or "resource" in tmpl:
            node = self.init_node(
                name, nodes.POD, boundary_id, nodes.RUNNING, tmpl_name, holder=holder,
                retried=retried,
            )  # fmt: skip
        elif "suspend" in tmpl:
            node = self.init_node(
                name, nodes.SUSPEND, boundary_id, nodes.RUNNING, tmpl_name, holder=holder,
                retried=retried,
            )  # fmt: skip
        else:
            message = f"Template '{tmpl_name}' missing specification"
            self.init_node(
                name, nodes.SKIPPED_TYPE, boundary_id, nodes.ERROR, tmpl_name, message, holder
            )
            raise errors.TemplateError(message)
        if inputs:
            node["inputs"] = {"parameters": inputs}
        if "resource" in tmpl:
            self._create_resource(node, tmpl)
        return node

    def _retry(
        self, name: str, holder: Obj, tmpl: Obj, inputs: list[Obj], boundary_id: str | None,
        strategy: Obj,
    ) -> Obj:  # fmt: skip
        parent = self.node(name) or self.init_node(
            name, nodes.RETRY, boundary_id, nodes.RUNNING, str(tmpl.get("name") or ""),
            holder=holder,
        )  # fmt: skip
        for _ in range(2):  # a finished attempt is judged at once, as Argo re-enters
            if nodes.fulfilled(parent["phase"]):
                return parent
            attempts = [
                c for c in parent.get("children") or []
                if (self.nodes.get(c) or {}).get("nodeFlag", {}).get("retried")
            ]  # fmt: skip
            last = self.nodes[attempts[-1]] if attempts else None
            if last is not None and nodes.fulfilled(last["phase"]):
                if not self._judge_retry(parent, last, len(attempts), strategy):
                    return parent
                attempt_name = f"{name}({len(attempts)})"
                self.add_child(name, attempt_name)
            elif last is not None:
                attempt_name = last["name"]
            else:
                attempt_name = f"{name}(0)"
                self.add_child(name, attempt_name)
            child = self._kind(attempt_name, holder, tmpl, inputs, boundary_id, retried=True)
            if not nodes.fulfilled(child["phase"]):
                return parent
        return parent

    def _judge_retry(self, parent: Obj, last: Obj, count: int, strategy: Obj) -> bool:
        """Settle the Retry node from its last attempt; True when another attempt is due.

        A settled Retry node carries its last attempt's outputs, whatever its phase (Argo).
        """
        if "outputs" in last:
            parent["outputs"] = dict(last["outputs"])
        if not nodes.failed_or_error(last["phase"]):
            self.mark(parent, nodes.SUCCEEDED)
            return False
        deadline = self.deadline()
        if deadline is not None and self.now > deadline:
            when = deadline.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
            self.mark(parent, last["phase"], f"retry exceeded workflow deadline {when}")
            return False
        policy = str(strategy.get("retryPolicy") or "OnFailure")
        retry_on = {
            "Always": (nodes.FAILED, nodes.ERROR),
            "OnError": (nodes.ERROR,),
            "OnTransientError": (),
            "OnFailure": (nodes.FAILED,),
        }.get(policy, (nodes.FAILED,))
        if last["phase"] not in retry_on:
            self.mark(parent, last["phase"], str(last.get("message") or ""))
            return False
        limit = strategy.get("limit")
        limit_n = int(limit) if isinstance(limit, int) or str(limit).isdigit() else None
        if limit_n is not None and count > limit_n:
            self.mark(parent, last["phase"], "No more retries left")
            return False
        return True

    # --- pods, resources, suspensions ------------------------------------------------------
    def step_ref(self, node: Obj) -> world.StepRef:
        """How the world names a pod node."""
        display = str(node.get("displayName") or node["name"])
        attempt = 0
        if node.get("nodeFlag", {}).get("retried"):
            match = _RETRIED.match(display)
            if match:
                display, attempt = match.group(1), int(match.group(2))
        template = str(node.get("templateName") or (node.get("templateRef") or {}).get("template"))
        return world.StepRef(self.name, self.namespace, node["name"], display, template, attempt)

    def _manifest(self, node: Obj, tmpl: Obj) -> Obj:
        scope = self.scope((node.get("inputs") or {}).get("parameters") or [])
        text = substitute.substitute(str((tmpl.get("resource") or {}).get("manifest") or ""), scope)
        try:
            manifest = orjson.loads(_parse_manifest(text))
        except yaml.YAMLError as exc:
            raise errors.TemplateError(f"resource manifest is not valid YAML: {exc}") from None
        if not isinstance(manifest, dict):
            raise errors.TemplateError("resource manifest is not a mapping")
        meta = manifest.setdefault("metadata", {})
        if not meta.get("namespace"):
            meta["namespace"] = self.namespace
        return manifest

    def _create_resource(self, node: Obj, tmpl: Obj) -> None:
        resource = tmpl.get("resource") or {}
        action = str(resource.get("action") or "")
        try:
            manifest = self._manifest(node, tmpl)
        except errors.TemplateError as exc:
            self.mark(node, nodes.ERROR, str(exc))
            return
        if action in ("create", "apply"):
            error = self.world.create_object(manifest, action=action)
            if error:
                self.mark(node, nodes.FAILED, error)
                return
        elif action != "get":
            self.mark(node, nodes.ERROR, f"resource action '{action}' is not simulated")
            return
        self._check_resource(node, tmpl)

    def _check_resource(self, node: Obj, tmpl: Obj) -> None:
        resource = tmpl.get("resource") or {}
        success = str(resource.get("successCondition") or "")
        failure = str(resource.get("failureCondition") or "")
        if not success and not failure:
            self.mark(node, nodes.SUCCEEDED)
            return
        try:
            manifest = self._manifest(node, tmpl)
        except errors.TemplateError as exc:
            self.mark(node, nodes.ERROR, str(exc))
            return
        meta = manifest.get("metadata") or {}
        obj = self.world.get_object(
            str(manifest.get("apiVersion") or ""), str(manifest.get("kind") or ""),
            str(meta.get("namespace") or ""), str(meta.get("name") or ""),
        )  # fmt: skip
        if obj is None:
            self.mark(
                node, nodes.FAILED,
                "The resource has been deleted while its status was still being checked. "
                "Will not be retried",
            )  # fmt: skip
            return
        try:
            phase, message = conditions.check(obj, success, failure)
        except conditions.ConditionError as exc:
            self.mark(node, nodes.ERROR, f"success condition '{success}' failed to parse: {exc}")
            return
        if phase != nodes.RUNNING:
            self.mark(node, phase, message)

    def _finish_pod(self, node: Obj, tmpl: Obj, outcome: world.Outcome, at: dt.datetime) -> None:
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
            scope = self.scope((node.get("inputs") or {}).get("parameters") or [])
            for obj in outcome.creates:
                self.world.create_object(substitute.substitute_data(obj, scope), action="apply")

    def reconcile_pods(self) -> None:
        """Finish pods whose time is up, check resource conditions, expire timed suspensions."""
        for node in list(self.nodes.values()):
            if nodes.fulfilled(node["phase"]):
                continue
            started = nodes.parse_time(node.get("startedAt")) or self.now
            if node["type"] == nodes.POD:
                tmpl = self.template_of(node) or {}
                if "resource" in tmpl:
                    self._check_resource(node, tmpl)
                    continue
                outcome = self.world.outcome(self.step_ref(node))
                end = started + dt.timedelta(seconds=max(0, outcome.duration))
                if end <= self.now:
                    self._finish_pod(node, tmpl, outcome, end)
            elif nodes.is_active_suspend(node):
                seconds = self._suspend_seconds(node)
                if seconds is not None and started + dt.timedelta(seconds=seconds) <= self.now:
                    self.mark(node, nodes.SUCCEEDED)

    def _suspend_seconds(self, node: Obj) -> int | None:
        tmpl = self.template_of(node) or {}
        return parse_duration((tmpl.get("suspend") or {}).get("duration"))

    def waits_on_objects(self) -> bool:
        """Whether a resource step is waiting for its object's conditions (polled)."""
        for node in self.nodes.values():
            pending = node["type"] == nodes.POD and not nodes.fulfilled(node["phase"])
            if pending and "resource" in (self.template_of(node) or {}):
                return True
        return False

    def deadline(self) -> dt.datetime | None:
        """startedAt (whole seconds) + activeDeadlineSeconds, or None."""
        seconds = self.workflow.get("spec", {}).get("activeDeadlineSeconds")
        if seconds is None:
            seconds = self.spec.get("activeDeadlineSeconds")
        started = nodes.parse_time(self.status.get("startedAt"))
        if started is None or isinstance(seconds, bool) or not isinstance(seconds, int):
            return None
        return started + dt.timedelta(seconds=seconds)

    def enforce_deadline(self) -> None:
        """Past the deadline, fail pending/running pods and waiting Suspend nodes."""
        deadline = self.deadline()
        if deadline is None or self.now < deadline:
            return
        for node in self.nodes.values():
            if nodes.fulfilled(node["phase"]):
                continue
            if node["type"] == nodes.POD or nodes.is_active_suspend(node):
                self.mark(node, nodes.FAILED, DEADLINE_MESSAGE)

    def suspended(self) -> bool:
        """`spec.suspend: true` on the live Workflow."""
        return (self.workflow.get("spec") or {}).get("suspend") is True

    def pending_events(self) -> list[dt.datetime]:
        """Times at which a running node finishes by itself, and the deadline."""
        out: list[dt.datetime] = []
        waiting = False
        for node in self.nodes.values():
            if nodes.fulfilled(node["phase"]):
                continue
            waiting = True
            started = nodes.parse_time(node.get("startedAt")) or self.now
            if node["type"] == nodes.POD:
                if "resource" in (self.template_of(node) or {}):
                    continue
                outcome = self.world.outcome(self.step_ref(node))
                out.append(started + dt.timedelta(seconds=max(0, outcome.duration)))
            elif nodes.is_active_suspend(node):
                seconds = self._suspend_seconds(node)
                if seconds is not None:
                    out.append(started + dt.timedelta(seconds=seconds))
        deadline = self.deadline()
        if deadline is not None and waiting:
            out.append(deadline)
        return out

    def run_entry(self) -> Obj | None:
        """Execute the entry template; returns the entry node."""
        entry = str(self.spec.get("entrypoint") or "")
        args = (self.spec.get("arguments") or {}).get("parameters") or []
        return self.execute(self.name, {"template": entry}, list(args), None)
