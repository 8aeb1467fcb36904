"""Steps templates with Argo's semantics (argo-workflows `workflow/controller/steps.go`).

Each group `name[i]` is a StepGroup node whose steps (`name[i].step`) run in parallel; the next
group starts when every step of the previous one is fulfilled. A failed step (without
`continueOn`) fails its group with `child '<id>' failed` and the Steps node with the same
message. `when` is substituted with `steps.*` outputs of earlier groups and evaluated as in DAGs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.argo import dag, errors, expressions, nodes, substitute

if TYPE_CHECKING:
    from sim.argo.execute import Operation

Obj = dict[str, Any]


def _continues(step: Obj, phase: str) -> bool:
    cont = step.get("continueOn") or {}
    return bool(
        (phase == nodes.FAILED and cont.get("failed"))
        or (phase == nodes.ERROR and cont.get("error"))
    )


def _group(
    op: Operation, group: list[Obj], sg_name: str, boundary_id: str, scope: dict[str, str]
) -> Obj:
    """Argo's executeStepGroup; returns the StepGroup node."""
    sg = op.node(sg_name)
    assert sg is not None
    if nodes.fulfilled(sg["phase"]):
        return sg
    # The groups before this one are fulfilled, so a value still missing never comes (a step
    # killed at the deadline leaves no result): an unresolved `when` tag makes the expression
    # invalid and an unresolved argument errors the group, as in Argo, rather than waiting.
    resolved: list[tuple[Obj, str, list[Obj]]] = []
    try:
        for step in group:
            when = substitute.substitute(str(step.get("when") or ""), scope)
            args = []
            for param in (step.get("arguments") or {}).get("parameters") or []:
                param = dict(param)
                if "value" in param:
                    param["value"] = substitute.substitute(
                        str(param["value"]), scope, ("tasks", "steps")
                    )
                args.append(param)
            resolved.append((step, when, args))
    except substitute.MissingVariable as exc:
        return op.mark(sg, nodes.ERROR, str(exc))
    by_child: dict[str, Obj] = {}
    for step, when, args in resolved:
        child_name = f"{sg_name}.{step.get('name')}"
        tmpl_name = str(step.get("template") or "")
        try:
            proceed = expressions.evaluate(when)
        except expressions.WhenError as exc:
            if op.node(child_name) is None:
                op.init_node(
                    child_name, nodes.SKIPPED_TYPE, boundary_id, nodes.ERROR, tmpl_name,
                    str(exc), step,
                )  # fmt: skip
            op.add_child(sg_name, child_name)
            return op.mark(sg, nodes.ERROR, str(exc))
        if not proceed:
            if op.node(child_name) is None:
                op.init_node(
                    child_name, nodes.SKIPPED_TYPE, boundary_id, nodes.SKIPPED, tmpl_name,
                    f"when '{when}' evaluated false", step,
                )  # fmt: skip
                op.add_child(sg_name, child_name)
            continue
        try:
            op.execute(child_name, step, args, boundary_id)
        except errors.TemplateError as exc:
            op.add_child(sg_name, child_name)
            return op.mark(
                sg, nodes.ERROR, f"step group deemed errored due to child {child_name} error: {exc}"
            )
        by_child[child_name] = step
        op.add_child(sg_name, child_name)
    children = [op.nodes[c] for c in sg.get("children") or [] if c in op.nodes]
    if not all(nodes.fulfilled(c["phase"]) for c in children):
        return sg
    for child in children:
        step = by_child.get(child["name"], {})
        if nodes.failed_or_error(child["phase"]) and not _continues(step, child["phase"]):
            return op.mark(sg, nodes.FAILED, f"child '{child['id']}' failed")
    return op.mark(sg, nodes.SUCCEEDED)


def execute(
    op: Operation,
    name: str,
    tmpl: Obj,
    holder: Obj,
    boundary_id: str | None,
    inputs: list[Obj] | None = None,
) -> Obj:
    """Run (one reconcile of) a steps template as node `name`; returns the Steps node."""
    node = op.container_node(name, nodes.STEPS, tmpl, holder, boundary_id)
    if nodes.fulfilled(node["phase"]):
        return node
    scope = op.scope(inputs or [])
    groups = [g for g in tmpl.get("steps") or [] if isinstance(g, list)]
    tmpl_name = str(tmpl.get("name") or "")
    for i, group in enumerate(groups):
        sg_name = f"{name}[{i}]"
        if op.node(sg_name) is None:
            op.init_node(sg_name, nodes.STEP_GROUP, node["id"], nodes.RUNNING, tmpl_name)
        if i == 0:
            op.add_child(name, sg_name)
        else:
            prev = op.node(f"{name}[{i - 1}]") or {}
            prev_children = prev.get("children") or []
            if not prev_children:
                op.add_child(prev["name"], sg_name)
            for child in prev_children:
                for out in op.outbound(child):
                    op.add_child(op.nodes[out]["name"], sg_name)
        sg = _group(op, [s for s in group if isinstance(s, dict)], sg_name, node["id"], scope)
        if not nodes.fulfilled(sg["phase"]):
            return node
        if nodes.failed_or_error(sg["phase"]):
            _set_outbound(op, node, sg)
            return op.mark(node, nodes.FAILED, str(sg.get("message") or ""))
        for step in group:
            child = op.node(f"{sg_name}.{step.get('name')}")
            if child is not None:
                dag.node_scope("steps", str(step.get("name")), child, scope)
    last = op.node(f"{name}[{len(groups) - 1}]") if groups else None
    if last is not None:
        _set_outbound(op, node, last)
    return op.mark(node, nodes.SUCCEEDED)


def _set_outbound(op: Operation, node: Obj, last_group: Obj) -> None:
    outbound: list[str] = []
    for child in last_group.get("children") or []:
        outbound.extend(op.outbound(child))
    node["outboundNodes"] = outbound
