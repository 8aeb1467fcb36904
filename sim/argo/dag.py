"""DAG templates with Argo's semantics (argo-workflows `workflow/controller/dag.go`).

Target tasks (default: the leaves) are driven depth-first through their dependencies. A task runs
once every dependency is fulfilled and its depends logic holds; otherwise it becomes an
`Omitted` node (`omitted: depends condition not met`). Its `when` is substituted and
evaluated; false gives a `Skipped` node (`when '<expr>' evaluated false`), an invalid
expression (a dependency's value that does not exist stays an unresolved tag) an Error node. The DAG's phase follows Argo's branch
assessment: an Omitted or Skipped node inherits its branch's phase, so a failure below a target
fails the DAG; `failFast` (default true) stops at the first failed target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.argo import depends, errors, expressions, nodes, substitute

if TYPE_CHECKING:
    from sim.argo.execute import Operation

Obj = dict[str, Any]
OMITTED_MESSAGE = "omitted: depends condition not met"


def node_scope(prefix: str, name: str, node: Obj, out: dict[str, str]) -> None:
    """Add `<prefix>.<name>.*` (id, status, outputs...) of a node to a scope."""
    base = f"{prefix}.{name}"
    out[f"{base}.id"] = str(node.get("id"))
    out[f"{base}.status"] = str(node.get("phase"))
    out[f"{base}.startedAt"] = str(node.get("startedAt") or "")
    out[f"{base}.finishedAt"] = str(node.get("finishedAt") or "")
    outputs = node.get("outputs") or {}
    if "result" in outputs:
        out[f"{base}.outputs.result"] = str(outputs["result"])
    if "exitCode" in outputs:
        out[f"{base}.outputs.exitCode"] = str(outputs["exitCode"])
    for param in outputs.get("parameters") or []:
        if isinstance(param, dict) and "value" in param:
            out[f"{base}.outputs.parameters.{param.get('name')}"] = str(param["value"])


class _Dag:
    def __init__(
        self, op: Operation, name: str, tmpl: Obj, boundary: Obj, inputs: list[Obj]
    ) -> None:
        self.op = op
        self.base = op.scope(inputs)
        self.name = name
        self.tmpl = tmpl
        self.spec = tmpl.get("dag") or {}
        self.boundary = boundary
        self.tasks: dict[str, Obj] = {
            str(t.get("name")): t for t in self.spec.get("tasks") or [] if isinstance(t, dict)
        }
        self.visited: set[str] = set()

    def task_node_name(self, task: str) -> str:
        return f"{self.name}.{task}"

    def task_node(self, task: str) -> Obj | None:
        return self.op.node(self.task_node_name(task))

    def targets(self) -> list[str]:
        target = self.spec.get("target")
        if isinstance(target, str) and target.strip():
            return target.split(" ")
        has_dependents = {d for t in self.tasks.values() for d in depends.dependencies(t)}
        return sorted(t for t in self.tasks if t not in has_dependents)

    def connect(self, task: str, node_name: str) -> None:
        deps = depends.dependencies(self.tasks[task])
        if not deps:
            self.op.add_child(self.name, node_name)
            return
        for dep in deps:
            dep_node = self.task_node(dep)
            if dep_node is None:
                continue
            for out in self.op.outbound(dep_node["id"]):
                self.op.add_child(self.op.nodes[out]["name"], node_name)

    def scope(self, task: str) -> dict[str, str]:
        scope = dict(self.base)
        for name in self.tasks:
            node = self.task_node(name)
            if node is not None and name != task:
                node_scope("tasks", name, node, scope)
        return scope

    def run_task(self, task_name: str) -> None:
        """Argo's executeDAGTask."""
        if task_name in self.visited or task_name not in self.tasks:
            return
        self.visited.add(task_name)
        task = self.tasks[task_name]
        node_name = self.task_node_name(task_name)
        node = self.task_node(task_name)
        if node is not None and nodes.fulfilled(node["phase"]):
            return
        if node is None:
            logic = depends.logic(task, self.tasks)
            if logic:
                deps = depends.dependencies(task)
                for dep in deps:
                    self.run_task(dep)
                results: dict[str, dict[str, bool]] = {}
                for dep in deps:
                    dep_node = self.task_node(dep)
                    if dep_node is None or not nodes.fulfilled(dep_node["phase"]):
                        return
                    phase = dep_node["phase"]
                    results[dep] = {
                        "Succeeded": phase == nodes.SUCCEEDED,
                        "Failed": phase == nodes.FAILED,
                        "Errored": phase == nodes.ERROR,
                        "Skipped": phase == nodes.SKIPPED,
                        "Omitted": phase == nodes.OMITTED,
                    }
                try:
                    run = depends.evaluate(logic, results)
                except depends.DependsError as exc:
                    message = f"unable to evaluate expression '{logic}': {exc}"
                    self._settle(task_name, nodes.ERROR, message)
                    return
                if not run:
                    self._settle(task_name, nodes.OMITTED, OMITTED_MESSAGE)
                    return
            scope = self.scope(task_name)
            # Every dependency is fulfilled here, so a value still missing (the result of a
            # dependency that failed) never comes: as Argo, the tag stays unresolved and the
            # expression is invalid, an Error node (waiting would hang the DAG for ever).
            when = substitute.substitute(str(task.get("when") or ""), scope)
            try:
                proceed = expressions.evaluate(when)
            except expressions.WhenError as exc:
                self._settle(task_name, nodes.ERROR, str(exc))
                return
            if not proceed:
                self._settle(task_name, nodes.SKIPPED, f"when '{when}' evaluated false")
                return
            try:
                args = self._arguments(task_name, task)
            except substitute.MissingVariable as exc:  # as for `when`: it never comes
                self._settle(task_name, nodes.ERROR, str(exc))
                return
            self.connect(task_name, node_name)
        else:  # already started: its arguments resolved when it was created
            args = self._arguments(task_name, task)
        try:
            self.op.execute(node_name, task, args, self.boundary["id"])
        except errors.TemplateError as exc:
            failed = self.op.node(node_name)
            if failed is not None:
                self.op.mark(failed, nodes.ERROR, f"task '{node_name}' errored: {exc}")

    def _settle(self, task_name: str, phase: str, message: str) -> None:
        """A task that will not run: a Skipped-type node in `phase`, wired to its dependencies."""
        task = self.tasks[task_name]
        self.op.init_node(
            self.task_node_name(task_name), nodes.SKIPPED_TYPE, self.boundary["id"], phase,
            str(task.get("template") or ""), message, task,
        )  # fmt: skip
        self.connect(task_name, self.task_node_name(task_name))

    def _arguments(self, task_name: str, task: Obj) -> list[Obj]:
        scope = self.scope(task_name)
        out = []
        for param in (task.get("arguments") or {}).get("parameters") or []:
            if not isinstance(param, dict):
                continue
            param = dict(param)
            if "value" in param:
                param["value"] = substitute.substitute(
                    str(param["value"]), scope, ("tasks", "steps")
                )
            out.append(param)
        return out

    def assess(self, targets: list[str]) -> str:
        """Argo's assessDAGPhase: Running, Succeeded, Failed or Error."""
        target_ids = {nodes.node_id(self.op.name, self.task_node_name(t)): t for t in targets}
        branch_of: dict[str, str] = dict.fromkeys(target_ids, "")
        seen: set[tuple[str, str]] = set()
        queue: list[tuple[str, str]] = []

        def add(ids: list[str], phase: str) -> None:
            for nid in ids:
                if (nid, phase) not in seen:
                    seen.add((nid, phase))
                    queue.append((nid, phase))

        add(list(self.boundary.get("children") or []), nodes.SUCCEEDED)
        while queue:
            nid, branch = queue.pop(0)
            node = self.op.nodes.get(nid)
            if node is None or not nodes.fulfilled(node["phase"]):
                return nodes.RUNNING
            if nodes.completed(node["phase"]):
                branch = node["phase"]
            if nid in branch_of and not nodes.failed_or_error(branch_of[nid]):
                branch_of[nid] = branch
            if node["type"] == nodes.RETRY:
                children = []
                for attempt in reversed(node.get("children") or []):
                    children.extend((self.op.nodes.get(attempt) or {}).get("children") or [])
            else:
                children = list(node.get("children") or [])
            add(children, branch)
        fail_fast = self.spec.get("failFast") is not False
        result = nodes.SUCCEEDED
        for nid, task_name in target_ids.items():
            branch = branch_of[nid]
            if branch == "":
                result = nodes.RUNNING
                if not fail_fast:
                    break
            elif nodes.failed_or_error(branch):
                cont = self.tasks.get(task_name, {}).get("continueOn") or {}
                if (branch == nodes.FAILED and cont.get("failed")) or (
                    branch == nodes.ERROR and cont.get("error")
                ):
                    continue
                result = branch
                if fail_fast:
                    break
        return result

    def set_outbound(self, targets: list[str]) -> None:
        outbound: list[str] = []
        for task in targets:
            node = self.task_node(task)
            if node is not None:
                outbound.extend(self.op.outbound(node["id"]))
        self.boundary["outboundNodes"] = outbound


def execute(
    op: Operation,
    name: str,
    tmpl: Obj,
    holder: Obj,
    boundary_id: str | None,
    inputs: list[Obj] | None = None,
) -> Obj:
    """Run (one reconcile of) a DAG template as node `name`; returns the DAG node."""
    node = op.container_node(name, nodes.DAG, tmpl, holder, boundary_id)
    if nodes.fulfilled(node["phase"]):
        return node
    dag = _Dag(op, name, tmpl, node, inputs or [])
    targets = dag.targets()
    for target in targets:
        dag.run_task(target)
    phase = dag.assess(targets)
    if phase == nodes.RUNNING:
        return node
    dag.set_outbound(targets)
    return op.mark(node, phase)
