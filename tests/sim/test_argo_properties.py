"""Property tests: random DAG workflows through the fake Argo controller and the status mapping.

Random tasks (dependencies or `depends` expressions, `when` on parameters and on dependency
results, outcomes per attempt, retries, suspend gates, durations, deadlines, failFast) must end
terminal; every node must agree with its dependencies (nothing starts before they finish,
Omitted exactly where the depends logic is false); a green run is Succeeded; the Operation's
status is DESIGN's mapping of the final Workflow; the same input gives the same result.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from reconciler import status as op_status
from sim.argo import engine, nodes, world
from tests.sim import argofixtures as fx

NAMES = [f"t{i}" for i in range(7)]
OUTCOMES = st.builds(
    world.Outcome,
    phase=st.sampled_from(["Succeeded", "Succeeded", "Succeeded", "Failed", "Error"]),
    result=st.sampled_from(["ok", "bad"]),
    duration=st.integers(0, 40),
    message=st.sampled_from(["", "boom"]),
)


@st.composite
def scenarios(draw: Any) -> tuple[dict, world.StaticWorld, bool]:
    count = draw(st.integers(1, len(NAMES)))
    tasks, outcomes = [], {}
    plain: set[str] = set()  # tasks whose result is always there when they succeed
    for i in range(count):
        name = NAMES[i]
        deps = sorted(draw(st.sets(st.sampled_from(NAMES[:i]), max_size=3))) if i else []
        task: dict[str, Any] = {"name": name}
        kind = draw(st.sampled_from(["script", "script", "retry", "gate"]))
        task["template"] = {"script": "s", "retry": "r", "gate": "g"}[kind]
        style = draw(st.sampled_from(["dependencies", "depends"])) if deps else "none"
        if style == "dependencies":
            task["dependencies"] = deps
            if draw(st.booleans()) and kind != "gate":
                task["continueOn"] = {"failed": True}
        elif style == "depends":
            picks = [
                f"{d}.{draw(st.sampled_from(['Succeeded', 'Failed', 'Omitted']))}" for d in deps
            ]
            task["depends"] = draw(st.sampled_from([" || ", " && "])).join(picks)
        when = draw(st.sampled_from(["", "param", "result"]))
        result_deps = [d for d in deps if d in plain] if style == "dependencies" else []
        if when == "param":
            task["when"] = "{{workflow.parameters.mode}} == " + draw(st.sampled_from(["a", "b"]))
        elif when == "result" and result_deps:
            dep = draw(st.sampled_from(result_deps))
            task["when"] = "{{tasks." + dep + ".outputs.result}} != bad"
        if "when" not in task and kind != "gate":
            plain.add(name)
        tasks.append(task)
        outcomes[name] = draw(OUTCOMES)
        if kind == "retry" and draw(st.booleans()):
            outcomes[f"{name}(0)"] = world.Outcome(
                phase="Failed", duration=draw(st.integers(0, 20))
            )
    templates = [
        fx.dag(tasks, failFast=draw(st.booleans())),
        fx.script("s"),
        fx.script("r") | {"retryStrategy": {"limit": draw(st.integers(0, 2))}},
        {"name": "g", "suspend": draw(st.sampled_from([{}, {"duration": "25s"}]))},
    ]
    deadline = draw(st.one_of(st.none(), st.integers(5, 200)))
    wf = fx.workflow(
        templates, params={"mode": draw(st.sampled_from(["a", "b"]))}, deadline=deadline
    )
    return wf, world.StaticWorld(outcomes), draw(st.booleans())


def _run(wf: dict, w: world.StaticWorld, step: int) -> dict:
    """Advance until terminal, resuming suspended workflows; bounded."""
    wf = copy.deepcopy(wf)
    t = 0
    wf["status"] = engine.advance(wf, w, w, fx.T0)
    for _ in range(200):
        if engine.is_terminal(wf):
            break
        t += step
        now = fx.T0 + dt.timedelta(seconds=t)
        if engine.is_suspended(wf) and t % 300 == 0:
            wf = engine.resume(wf, now)
        wf["status"] = engine.advance(wf, w, w, now)
    return wf


def _tasks(wf: dict) -> dict[str, dict]:
    return {t["name"]: t for t in wf["spec"]["templates"][0]["dag"]["tasks"]}


def _logic_holds(task: dict, phases: dict[str, str], tasks: dict[str, dict]) -> bool:
    """An independent reading of Argo's depends rules."""
    if "depends" in task:
        result = None
        for part in task["depends"].replace(" && ", " & ").replace(" || ", " | ").split(" "):
            if part in ("&", "|"):
                op = part
                continue
            dep, outcome = part.split(".")
            value = phases[dep] == outcome
            result = (
                value if result is None else (result and value if op == "&" else result or value)
            )
        return bool(result)
    ok = True
    for dep in task.get("dependencies", []):
        allowed = {"Succeeded", "Skipped"}
        if tasks[dep].get("continueOn", {}).get("failed"):
            allowed.add("Failed")
        ok = ok and phases[dep] in allowed
    return ok


@given(scenarios())
def test_random_dags_end_terminal_and_respect_dependencies(case: tuple) -> None:
    wf, w, _ = case
    wf = _run(wf, w, 50)
    assert engine.is_terminal(wf), wf["status"]
    tasks = _tasks(wf)
    by_task = {
        n["displayName"]: n for n in wf["status"]["nodes"].values() if n.get("boundaryID") == "wf"
    }
    phases = {name: node["phase"] for name, node in by_task.items() if name in tasks}
    for name, node in by_task.items():
        if name not in tasks:
            continue
        deps = [d for d in tasks[name].get("dependencies", [])] or [
            p.split(".")[0] for p in tasks[name].get("depends", "").split() if "." in p
        ]
        assert all(d in phases and nodes.fulfilled(phases[d]) for d in deps), (name, phases)
        started = node["startedAt"]
        for dep in deps:
            assert by_task[dep]["finishedAt"] <= started, (name, dep)
        holds = _logic_holds(tasks[name], phases, tasks)
        assert (node["phase"] == "Omitted") == (not holds), (name, tasks[name], phases)
        if node["phase"] == "Omitted":
            assert node["message"] == "omitted: depends condition not met"


@given(scenarios())
def test_green_runs_succeed_and_failures_never_do(case: tuple) -> None:
    wf, w, _ = case
    wf = _run(wf, w, 50)
    status = wf["status"]
    all_nodes = list(status["nodes"].values())
    if all(n["phase"] in ("Succeeded", "Skipped") for n in all_nodes):
        assert status["phase"] == "Succeeded"
    if status["phase"] == "Succeeded":
        tasks = _tasks(wf)
        targets = set(tasks) - {d for t in tasks.values() for d in t.get("dependencies", [])}
        targets -= {
            p.split(".")[0]
            for t in tasks.values()
            for p in t.get("depends", "").split()
            if "." in p
        }
        for n in all_nodes:
            if n["displayName"] in targets and n.get("boundaryID") == "wf":
                cont = tasks[n["displayName"]].get("continueOn", {}).get("failed")
                assert n["phase"] not in ("Failed", "Error") or cont, n


@given(scenarios())
def test_operation_status_is_designs_mapping(case: tuple) -> None:
    wf, w, _ = case
    wf = _run(wf, w, 50)
    assert engine.is_terminal(wf), wf["status"]
    operation = {
        "apiVersion": "ops.vworkspace.io/v1alpha1",
        "kind": "Operation",
        "metadata": {"name": "wf", "namespace": "ns", "uid": "op-1", "generation": 1},
        "spec": {"engine": "workflow", "type": "Migration"},
    }
    got = op_status.operation_status(operation, wf, fx.T0 + dt.timedelta(days=1))
    conds = {c["type"]: c for c in got["conditions"]}
    phase = wf["status"]["phase"]
    expected = {"Succeeded": "Succeeded", "Failed": "Failed", "Error": "Failed"}[phase]
    assert got["phase"] == expected
    assert conds["Accepted"]["status"] == "True"
    assert conds["Running"]["status"] == "False"
    if phase == "Succeeded":
        assert (conds["Succeeded"]["status"], conds["Succeeded"]["reason"]) == (
            "True",
            "WorkflowSucceeded",
        )
        assert got["outputs"]["runId"] == wf["metadata"]["uid"]
    else:
        reason = "WorkflowFailed" if phase == "Failed" else "WorkflowError"
        assert (conds["Failed"]["status"], conds["Failed"]["reason"]) == ("True", reason)
        assert conds["Running"]["reason"] == reason


@given(scenarios())
def test_same_input_same_result_and_step_size_does_not_matter(case: tuple) -> None:
    wf, w, _ = case
    one = _run(wf, copy.deepcopy(w), 50)
    two = _run(wf, copy.deepcopy(w), 50)
    assert one["status"] == two["status"]
    if not any(t["template"] == "g" for t in _tasks(wf).values()):
        assert _run(wf, copy.deepcopy(w), 7)["status"] == one["status"]
