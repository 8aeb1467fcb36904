"""One reconcile of a Workflow at one instant: Argo's executeTemplate and its template kinds.

`Operation` holds the workflow, its status (mutated in place) and the instant: node
bookkeeping as Argo does it (ids, display names, children, outbound nodes), template
resolution and inputs, and executeTemplate with retries (`Retry` node with `name(n)` attempts,
`No more retries left`). Pods, resources, suspensions and the clock are in `sim.argo.pods`,
DAGs in `sim.argo.dag`, steps in `sim.argo.steps`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sim.argo import dag as dag_mod
from sim.argo import errors, nodes, pods, spec, world
from sim.argo import steps as steps_mod

Obj = dict[str, Any]

# Task/step fields that expand into several nodes; the simulator refuses them explicitly.
LOOP_FIELDS = ("withItems", "withParam", "withSequence")


class Operation:
    """The workflow being reconciled at `now`; status is updated in place."""

    def __init__(
        self,
        workflow: Obj,
        status: Obj,
        lookup: world.TemplateLookup,
        the_world: world.World,
        now: dt.datetime,
        *,
        cache: dict[str, Any] | None = None,
    ) -> None:
        meta = workflow.get("metadata") or {}
        self.workflow = workflow
        self.name = str(meta.get("name") or "")
        self.namespace = str(meta.get("namespace") or "")
        self.status = status
        self.nodes: nodes.Nodes = status.setdefault("nodes", {})
        self.spec: Obj = status.get("storedWorkflowTemplateSpec") or workflow.get("spec") or {}
        cache = {} if cache is None else cache  # what stays the same across one advance()
        if cache.get("spec") is not self.spec:
            cache.clear()
            cache["spec"] = self.spec
            cache["templates"] = spec.templates_by_name(self.spec)
            cache["globals"] = self._globals(meta)
        self.templates: dict[str, Obj] = cache["templates"]
        self.globals: dict[str, str] = cache["globals"]
        self.lookup = lookup
        self.world = the_world
        self.now = now
        self.ts = nodes.timestamp(now)

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

    def container_node(
        self, name: str, type_: str, tmpl: Obj, holder: Obj, boundary_id: str | None
    ) -> Obj:
        """The DAG or Steps node `name`: the existing one, or a new Running one."""
        return self.node(name) or self.init_node(
            name, type_, boundary_id, nodes.RUNNING, str(tmpl.get("name") or ""), holder=holder
        )

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
            pods.create_resource(self, node, tmpl)
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
        if deadline is not None and self.now >= deadline:  # never a new attempt at the deadline
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

    def deadline(self) -> dt.datetime | None:
        """startedAt (whole seconds) + activeDeadlineSeconds, or None."""
        seconds = self.workflow.get("spec", {}).get("activeDeadlineSeconds")
        if seconds is None:
            seconds = self.spec.get("activeDeadlineSeconds")
        started = nodes.parse_time(self.status.get("startedAt"))
        if started is None or isinstance(seconds, bool) or not isinstance(seconds, int):
            return None
        return started + dt.timedelta(seconds=seconds)

    def suspended(self) -> bool:
        """`spec.suspend: true` on the live Workflow."""
        return (self.workflow.get("spec") or {}).get("suspend") is True

    def reconcile_pods(self) -> None:
        """Finish pods whose time is up, check resource conditions, expire timed suspensions."""
        pods.reconcile_pods(self)

    def enforce_deadline(self) -> None:
        """Past the deadline, fail pending/running pods and waiting Suspend nodes."""
        pods.enforce_deadline(self)

    def pending_events(self) -> list[dt.datetime]:
        """Times at which a running node finishes by itself, and the deadline."""
        return pods.pending_events(self)

    def waits_on_objects(self) -> bool:
        """Whether a resource step is waiting for its object's conditions (polled)."""
        return pods.waits_on_objects(self)

    def run_entry(self) -> Obj | None:
        """Execute the entry template; returns the entry node."""
        entry = str(self.spec.get("entrypoint") or "")
        args = (self.spec.get("arguments") or {}).get("parameters") or []
        return self.execute(self.name, {"template": entry}, list(args), None)
