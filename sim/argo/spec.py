"""The executable spec of a Workflow: `workflowTemplateRef` resolution, merge and validation.

Resolution follows Argo exactly: without `clusterScope` the WorkflowTemplate is looked up in the
Workflow's own namespace only; with it, the ClusterWorkflowTemplate. A missing template is a
workflow Error with the informer's NotFound message (`workflowtemplates.argoproj.io "x" not
found`). The Workflow's fields override the template's; arguments merge by name. Validation
failures (a parameter without value, an undefined template, a dependency cycle) fail the
workflow with `invalid spec: ...` as Argo's controller does (phase Failed).
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from sim.argo import depends, errors, world

Obj = dict[str, Any]


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def merge_parameters(first: list[Any], second: list[Any]) -> list[Obj]:
    """Parameters of `first`, then those of `second` whose name `first` lacks (MergeParameters)."""
    out = [dict(p) for p in first if isinstance(p, dict)]
    names = {p.get("name") for p in out}
    out.extend(dict(p) for p in second if isinstance(p, dict) and p.get("name") not in names)
    return out


def resolve(workflow: Obj, lookup: world.TemplateLookup) -> Obj:
    """The merged executable spec of a Workflow; raises errors.SpecError (Error) when unresolvable."""
    spec = _dict(workflow.get("spec"))
    ref = spec.get("workflowTemplateRef")
    if not isinstance(ref, dict):
        return copy.deepcopy(spec)
    name = str(ref.get("name") or "")
    namespace = str(_dict(workflow.get("metadata")).get("namespace") or "")
    if ref.get("clusterScope"):
        template = lookup.cluster_workflow_template(name)
        missing = f'clusterworkflowtemplates.argoproj.io "{name}" not found'
    else:
        template = lookup.workflow_template(namespace, name)
        missing = f'workflowtemplates.argoproj.io "{name}" not found'
    if template is None:
        raise errors.SpecError("Error", missing)
    merged = orjson.loads(orjson.dumps(_dict(template.get("spec"))))
    for key, value in spec.items():
        if key in ("workflowTemplateRef", "arguments"):
            continue
        merged[key] = copy.deepcopy(value)
    wf_args = _dict(spec.get("arguments")).get("parameters") or []
    tmpl_args = _dict(merged.get("arguments")).get("parameters") or []
    merged.setdefault("arguments", {})
    merged["arguments"] = dict(_dict(merged["arguments"]))
    merged["arguments"]["parameters"] = merge_parameters(wf_args, tmpl_args)
    return merged


def templates_by_name(spec: Obj) -> dict[str, Obj]:
    """The templates of a spec by name."""
    return {str(t.get("name")): t for t in spec.get("templates") or [] if isinstance(t, dict)}


def validate(spec: Obj, workflow: Obj) -> None:
    """Raise errors.SpecError (Failed, `invalid spec: ...`) where Argo's validation would."""

    def invalid(message: str) -> errors.SpecError:
        return errors.SpecError("Failed", f"invalid spec: {message}")

    for param in _dict(spec.get("arguments")).get("parameters") or []:
        if isinstance(param, dict) and "value" not in param and "valueFrom" not in param:
            name = param.get("name")
            raise invalid(
                f"spec.arguments.{name}.value or spec.arguments.{name}.valueFrom is required"
            )
    entry = spec.get("entrypoint")
    if not entry:
        raise invalid("spec.entrypoint is required")
    templates = templates_by_name(spec)
    if entry not in templates:
        ref = _dict(_dict(workflow.get("spec")).get("workflowTemplateRef"))
        if ref:
            raise invalid(f"template reference {ref.get('name')}.{entry} not found")
        raise invalid(f"template name '{entry}' undefined")
    seen: set[str] = set()
    pending = [str(entry)]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending.extend(_validate_template(templates[name], templates, invalid))


def _validate_template(tmpl: Obj, templates: dict[str, Obj], invalid: Any) -> list[str]:
    name = tmpl.get("name")
    used: list[str] = []
    dag = _dict(tmpl.get("dag"))
    tasks = {str(t.get("name")): t for t in dag.get("tasks") or [] if isinstance(t, dict)}
    for task_name, task in tasks.items():
        if "templateRef" in task:
            continue
        target = str(task.get("template") or "")
        if target not in templates:
            raise invalid(f"templates.{name}.tasks.{task_name} template name '{target}' undefined")
        used.append(target)
        if task.get("depends") and task.get("dependencies"):
            raise invalid(
                f"templates.{name} cannot use both 'depends' and 'dependencies' in the same DAG template"
            )
        for dep in depends.dependencies(task):
            if dep not in tasks:
                raise invalid(f"templates.{name}.tasks.{task_name} dependency '{dep}' not defined")
    _check_cycles(str(name), tasks, invalid)
    for i, group in enumerate(tmpl.get("steps") or []):
        for step in group if isinstance(group, list) else []:
            if not isinstance(step, dict) or "templateRef" in step:
                continue
            target = str(step.get("template") or "")
            if target not in templates:
                raise invalid(
                    f"templates.{name}.steps[{i}].{step.get('name')} template name '{target}' undefined"
                )
            used.append(target)
    return used


def _check_cycles(name: str, tasks: dict[str, Obj], invalid: Any) -> None:
    visited: set[str] = set()

    def visit(task_name: str, path: list[str]) -> None:
        if task_name in visited:
            return
        for dep in depends.dependencies(tasks[task_name]):
            if dep in path:
                raise invalid(
                    f"templates.{name}.tasks dependency cycle detected: {'->'.join(path)}->{dep}"
                )
            path.append(dep)
            visit(dep, path)
            path.pop()
        visited.add(task_name)

    for task_name in tasks:
        visit(task_name, [])
