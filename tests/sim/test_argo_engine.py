"""The fake Argo controller's behaviour: template resolution, when/depends, retries, suspend,
deadlines, resource templates and timestamps."""

from __future__ import annotations

import copy
import datetime as dt

from sim.argo import engine, nodes, world
from tests.sim import argofixtures as fx


def _ref_workflow(name: str = "app", cluster_scope: bool = False, **params: str) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "wf", "namespace": "org-a", "uid": "u-1"},
        "spec": {
            "workflowTemplateRef": {"name": name, "clusterScope": cluster_scope},
            "arguments": {"parameters": [{"name": k, "value": v} for k, v in params.items()]},
        },
    }


def _template(kind: str, namespace: str | None, params: list[dict]) -> dict:
    meta = {"name": "app"} | ({"namespace": namespace} if namespace else {})
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": kind,
        "metadata": meta,
        "spec": {
            "entrypoint": "main",
            "arguments": {"parameters": params},
            "templates": [fx.dag([{"name": "a", "template": "s"}]), fx.script("s")],
        },
    }


def test_template_in_another_namespace_is_not_found() -> None:
    wf = _ref_workflow()
    w = world.StaticWorld(objects=[_template("WorkflowTemplate", "vworkspace-system", [])])
    fx.run(wf, w)
    assert wf["status"]["phase"] == "Error"
    assert wf["status"]["message"] == 'workflowtemplates.argoproj.io "app" not found'
    assert wf["status"]["startedAt"] == wf["status"]["finishedAt"]


def test_missing_cluster_template_is_an_error() -> None:
    wf = _ref_workflow(cluster_scope=True)
    fx.run(wf)
    assert wf["status"]["phase"] == "Error"
    assert wf["status"]["message"] == 'clusterworkflowtemplates.argoproj.io "app" not found'


def test_cluster_template_runs_and_is_stored() -> None:
    wf = _ref_workflow(cluster_scope=True, x="1")
    w = world.StaticWorld(objects=[_template("ClusterWorkflowTemplate", None, [{"name": "x"}])])
    fx.run(wf, w)
    assert wf["status"]["phase"] == "Succeeded"
    assert wf["status"]["storedWorkflowTemplateSpec"]["entrypoint"] == "main"
    assert fx.by_display(wf)["a"]["phase"] == "Succeeded"


def test_missing_argument_fails_with_argos_validation_message() -> None:
    wf = _ref_workflow()
    w = world.StaticWorld(objects=[_template("WorkflowTemplate", "org-a", [{"name": "x"}])])
    fx.run(wf, w)
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == (
        "invalid spec: spec.arguments.x.value or spec.arguments.x.valueFrom is required"
    )


def test_template_default_fills_argument() -> None:
    wf = _ref_workflow()
    params = [{"name": "x", "value": "d"}]
    w = world.StaticWorld(objects=[_template("WorkflowTemplate", "org-a", params)])
    fx.run(wf, w)
    assert wf["status"]["phase"] == "Succeeded"


def test_when_false_is_skipped_with_substituted_expression() -> None:
    tasks = [
        {"name": "check", "template": "s"},
        {
            "name": "go",
            "template": "s",
            "dependencies": ["check"],
            "when": "{{tasks.check.outputs.result}} == ok && {{workflow.parameters.mode}} == x",
        },
    ]
    wf = fx.workflow([fx.dag(tasks), fx.script("s")], params={"mode": "x"})
    fx.run(wf, world.StaticWorld({"check": world.Outcome(result="degraded")}))
    go = fx.by_display(wf)["go"]
    assert (go["type"], go["phase"]) == ("Skipped", "Skipped")
    assert go["message"] == "when 'degraded == ok && x == x' evaluated false"
    assert wf["status"]["phase"] == "Succeeded"


def test_failed_dependency_omits_dependents_and_fails_workflow() -> None:
    tasks = [
        {"name": "a", "template": "s"},
        {"name": "b", "template": "s", "dependencies": ["a"]},
        {"name": "c", "template": "s", "dependencies": ["b"]},
    ]
    wf = fx.workflow([fx.dag(tasks), fx.script("s")])
    fail = world.Outcome(phase="Failed", message="boom", exit_code=3)
    fx.run(wf, world.StaticWorld({"a": fail}))
    n = fx.by_display(wf)
    assert n["a"]["message"] == "main: Error (exit code 3): boom"
    assert n["a"]["outputs"]["exitCode"] == "3"
    for name in ("b", "c"):
        assert (n[name]["type"], n[name]["phase"]) == ("Skipped", "Omitted")
        assert n[name]["message"] == "omitted: depends condition not met"
    assert wf["status"]["phase"] == "Failed"
    assert "message" not in wf["status"]  # a failed DAG node carries no message in Argo


def test_depends_on_failure_runs_the_handler() -> None:
    tasks = [
        {"name": "a", "template": "s"},
        {"name": "cleanup", "template": "s", "depends": "a.Failed"},
        {"name": "next", "template": "s", "depends": "a"},
    ]
    wf = fx.workflow([fx.dag(tasks), fx.script("s")])
    fx.run(wf, world.StaticWorld({"a": world.Outcome(phase="Failed")}))
    n = fx.by_display(wf)
    assert n["cleanup"]["phase"] == "Succeeded"
    assert n["next"]["phase"] == "Omitted"
    assert wf["status"]["phase"] == "Failed"


def test_continue_on_failed_keeps_the_dag_green() -> None:
    tasks = [
        {"name": "a", "template": "s", "continueOn": {"failed": True}},
        {"name": "b", "template": "s", "dependencies": ["a"]},
    ]
    wf = fx.workflow([fx.dag(tasks), fx.script("s")])
    fx.run(wf, world.StaticWorld({"a": world.Outcome(phase="Failed")}))
    assert fx.by_display(wf)["b"]["phase"] == "Succeeded"
    assert wf["status"]["phase"] == "Succeeded"


def test_invalid_when_errors_the_node() -> None:
    tasks = [
        {"name": "a", "template": "s"},
        {
            "name": "b",
            "template": "s",
            "dependencies": ["a"],
            "when": "{{tasks.a.outputs.result}} == ok",
        },
    ]
    wf = fx.workflow([fx.dag(tasks), fx.script("s")])
    fx.run(wf)  # empty result: " == ok" does not parse, as in Argo
    b = fx.by_display(wf)["b"]
    assert b["phase"] == "Error"
    assert b["message"].startswith("Invalid 'when' expression ' == ok'")
    assert wf["status"]["phase"] == "Error"


def test_a_result_a_failed_dependency_never_produced_errors_the_task() -> None:
    """`a` is killed at the workflow's deadline (continueOn) and leaves no result: `b`'s when
    and `c`'s argument can never be resolved, so both are Error nodes at once (as in Argo)
    rather than waiting for ever, and the workflow ends."""
    tasks = [
        {"name": "a", "template": "s", "continueOn": {"failed": True}},
        {
            "name": "b",
            "template": "s",
            "dependencies": ["a"],
            "when": "{{tasks.a.outputs.result}} != bad",
        },
        {
            "name": "c",
            "template": "p",
            "dependencies": ["a"],
            "arguments": {"parameters": [{"name": "x", "value": "{{tasks.a.outputs.result}}"}]},
        },
    ]
    param = fx.script("p") | {"inputs": {"parameters": [{"name": "x"}]}}
    wf = fx.workflow([fx.dag(tasks, failFast=False), fx.script("s"), param], deadline=10)
    fx.run(wf, world.StaticWorld({"a": world.Outcome(duration=100)}), until=600, step=60)
    assert engine.is_terminal(wf)
    found = fx.by_display(wf)
    assert found["b"]["phase"] == "Error"
    assert found["b"]["message"].startswith(
        "Invalid 'when' expression '{{tasks.a.outputs.result}} != bad': Invalid token: '{{'"
    )
    assert found["c"]["phase"] == "Error"
    assert found["c"]["message"] == "failed to resolve {{tasks.a.outputs.result}}"


def test_retry_limit_gives_attempts_and_no_more_retries() -> None:
    tmpl = fx.script("s") | {"retryStrategy": {"limit": 2}}
    wf = fx.workflow([fx.dag([{"name": "a", "template": "s"}]), tmpl])
    fx.run(wf, world.StaticWorld({"a": world.Outcome(phase="Failed")}))
    n = fx.by_display(wf)
    assert n["a"]["type"] == "Retry"
    assert n["a"]["message"] == "No more retries left"
    assert [n[f"a({i})"]["phase"] for i in range(3)] == ["Failed"] * 3
    assert "a(3)" not in n


def test_retry_succeeds_on_a_later_attempt() -> None:
    tmpl = fx.script("s") | {"retryStrategy": {"limit": 3}}
    wf = fx.workflow([fx.dag([{"name": "a", "template": "s"}]), tmpl])
    outcomes = {"a(0)": world.Outcome(phase="Failed"), "a": world.Outcome(result="fine")}
    fx.run(wf, world.StaticWorld(outcomes))
    n = fx.by_display(wf)
    assert n["a"]["phase"] == "Succeeded"
    assert n["a"]["outputs"]["result"] == "fine"
    assert wf["status"]["phase"] == "Succeeded"


def test_suspend_template_waits_for_resume() -> None:
    tasks = [
        {"name": "approve", "template": "gate"},
        {"name": "after", "template": "s", "dependencies": ["approve"]},
    ]
    wf = fx.workflow([fx.dag(tasks), {"name": "gate", "suspend": {}}, fx.script("s")])
    fx.run(wf, until=600)
    assert wf["status"]["phase"] == "Running"
    assert engine.is_suspended(wf)
    wf = engine.resume(wf, fx.T0 + dt.timedelta(seconds=700))
    w = world.StaticWorld()
    for t in (700, 800):  # the controller reacts to the resume, then time passes
        wf["status"] = engine.advance(wf, w, w, fx.T0 + dt.timedelta(seconds=t))
    assert not engine.is_suspended(wf)
    assert fx.by_display(wf)["after"]["startedAt"] == "2026-05-28T12:11:40Z"
    assert wf["status"]["phase"] == "Succeeded"


def test_suspend_duration_resumes_by_itself() -> None:
    wf = fx.workflow(
        [
            fx.dag([{"name": "wait", "template": "gate"}]),
            {"name": "gate", "suspend": {"duration": "30s"}},
        ]
    )
    fx.run(wf, step=1000)
    assert fx.by_display(wf)["wait"]["finishedAt"] == "2026-05-28T12:00:30Z"
    assert wf["status"]["phase"] == "Succeeded"


def test_spec_suspend_holds_new_nodes_until_cleared() -> None:
    tasks = [{"name": "a", "template": "s"}, {"name": "b", "template": "s", "dependencies": ["a"]}]
    wf = fx.workflow([fx.dag(tasks), fx.script("s")], suspend=True)
    fx.run(wf, until=300, step=100)
    assert wf["status"]["phase"] == "Running"
    assert fx.by_display(wf) == {}  # suspended before the entry node was created
    wf = engine.resume(wf, fx.T0)
    w = world.StaticWorld()
    wf["status"] = engine.advance(wf, w, w, fx.T0 + dt.timedelta(seconds=400))
    assert fx.by_display(wf)["a"]["startedAt"] == "2026-05-28T12:06:40Z"
    wf["status"] = engine.advance(wf, w, w, fx.T0 + dt.timedelta(seconds=500))
    assert wf["status"]["phase"] == "Succeeded"


def test_deadline_fails_running_step_and_omits_the_rest() -> None:
    tasks = [
        {"name": "slow", "template": "s"},
        {"name": "b", "template": "s", "dependencies": ["slow"]},
    ]
    wf = fx.workflow([fx.dag(tasks), fx.script("s")], deadline=60)
    fx.run(wf, world.StaticWorld({"slow": world.Outcome(duration=600)}), step=30)
    n = fx.by_display(wf)
    assert n["slow"]["phase"] == "Failed"
    assert n["slow"]["message"] == "Step exceeded its deadline"
    assert n["slow"]["finishedAt"] == "2026-05-28T12:01:00Z"
    assert n["b"]["phase"] == "Omitted"
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["finishedAt"] == "2026-05-28T12:01:00Z"


def test_template_deadline_kills_the_pod_first_as_the_kubelet_does() -> None:
    """A template's activeDeadlineSeconds becomes the pod's: the kubelet ends it first."""
    tmpl = fx.script("s") | {"activeDeadlineSeconds": "30"}
    wf = fx.workflow([fx.dag([{"name": "slow", "template": "s"}]), tmpl], deadline=600)
    fx.run(wf, world.StaticWorld({"slow": world.Outcome(duration=100)}), step=1000)
    slow = fx.by_display(wf)["slow"]
    assert (slow["phase"], slow["finishedAt"]) == ("Failed", "2026-05-28T12:00:30Z")
    assert slow["message"] == "Pod was active on the node longer than the specified deadline"
    assert wf["status"]["phase"] == "Failed"


def test_the_earlier_deadline_decides() -> None:
    """With the workflow's deadline first, the step fails with the workflow's message."""
    tmpl = fx.script("s") | {"activeDeadlineSeconds": 300}
    wf = fx.workflow([fx.dag([{"name": "slow", "template": "s"}]), tmpl], deadline=60)
    fx.run(wf, world.StaticWorld({"slow": world.Outcome(duration=600)}), step=30)
    slow = fx.by_display(wf)["slow"]
    assert (slow["message"], slow["finishedAt"]) == (
        "Step exceeded its deadline",
        "2026-05-28T12:01:00Z",
    )
    quick = fx.workflow([fx.dag([{"name": "slow", "template": "s"}]), tmpl], deadline=600)
    fx.run(quick, world.StaticWorld({"slow": world.Outcome(duration=20)}), step=1000)
    assert fx.by_display(quick)["slow"]["phase"] == "Succeeded"  # done well within both


def test_no_retry_is_started_at_the_workflow_deadline() -> None:
    tmpl = fx.script("s") | {"retryStrategy": {"limit": 3}}
    wf = fx.workflow([fx.dag([{"name": "slow", "template": "s"}]), tmpl], deadline=30)
    fx.run(wf, world.StaticWorld({"slow": world.Outcome(duration=100)}), step=1000)
    n = fx.by_display(wf)
    assert "slow(1)" not in n
    assert n["slow(0)"]["message"] == "Step exceeded its deadline"
    assert n["slow"]["message"] == "retry exceeded workflow deadline 2026-05-28 12:00:30 +0000 UTC"
    assert wf["status"]["phase"] == "Failed"


def test_resource_template_waits_for_success_condition() -> None:
    res = {
        "name": "snap",
        "resource": {
            "action": "create",
            "successCondition": "status.readyToUse == true",
            "failureCondition": "status.error",
            "manifest": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s-{{workflow.uid}}\n",
        },
    }
    wf = fx.workflow([fx.dag([{"name": "snapshot", "template": "snap"}]), res])
    w = world.StaticWorld()
    fx.run(wf, w, until=100)
    assert wf["status"]["phase"] == "Running"
    created = w.get_object("v1", "ConfigMap", "ns", "s-uid-1")
    assert created is not None
    created["status"] = {"readyToUse": True}
    wf["status"] = engine.advance(wf, w, w, fx.T0 + dt.timedelta(seconds=200))
    assert wf["status"]["phase"] == "Succeeded"


def test_resource_failure_condition_fails_the_node() -> None:
    res = {
        "name": "snap",
        "resource": {
            "action": "create",
            "successCondition": "status.readyToUse == true",
            "failureCondition": "status.phase in (Failed,Error)",
            "manifest": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n",
        },
    }
    wf = fx.workflow([fx.dag([{"name": "snapshot", "template": "snap"}]), res])
    w = world.StaticWorld()
    fx.run(wf, w, until=10)
    w.get_object("v1", "ConfigMap", "ns", "s")["status"] = {"phase": "Failed"}
    wf["status"] = engine.advance(wf, w, w, fx.T0 + dt.timedelta(seconds=20))
    node = fx.by_display(wf)["snapshot"]
    assert node["phase"] == "Failed"
    assert node["message"] == "failure condition 'status.phase in (Error,Failed)' evaluated true"


def test_steps_names_and_step_outputs() -> None:
    steps = {
        "name": "main",
        "steps": [
            [{"name": "probe", "template": "s"}],
            [{"name": "act", "template": "s", "when": "{{steps.probe.outputs.result}} == go"}],
        ],
    }
    wf = fx.workflow([steps, fx.script("s")])
    fx.run(wf, world.StaticWorld({"probe": world.Outcome(result="go")}))
    names = {n["name"] for n in wf["status"]["nodes"].values()}
    assert names == {"wf", "wf[0]", "wf[0].probe", "wf[1]", "wf[1].act"}
    assert wf["status"]["nodes"][nodes.node_id("wf", "wf[1].act")]["phase"] == "Succeeded"


def test_a_step_result_that_never_came_errors_the_next_group() -> None:
    """`probe` is killed at the deadline (continueOn) with no result: the next group's `when`
    can never be resolved, so it is an Error at once and the workflow ends."""
    steps = {
        "name": "main",
        "steps": [
            [{"name": "probe", "template": "s", "continueOn": {"failed": True}}],
            [{"name": "act", "template": "s", "when": "{{steps.probe.outputs.result}} == go"}],
        ],
    }
    wf = fx.workflow([steps, fx.script("s")], deadline=10)
    fx.run(wf, world.StaticWorld({"probe": world.Outcome(duration=100)}), until=600, step=60)
    assert engine.is_terminal(wf)
    act = wf["status"]["nodes"][nodes.node_id("wf", "wf[1].act")]
    assert act["phase"] == "Error"
    assert act["message"].startswith("Invalid 'when' expression '{{steps.probe.outputs.result}}")


def test_same_inputs_give_same_status() -> None:
    tasks = [{"name": "a", "template": "s"}, {"name": "b", "template": "s", "dependencies": ["a"]}]
    base = fx.workflow([fx.dag(tasks), fx.script("s")], deadline=15)
    one, two = fx.run(copy.deepcopy(base), step=7), fx.run(copy.deepcopy(base), step=7)
    assert one["status"] == two["status"]


def test_advance_in_one_jump_equals_small_steps() -> None:
    tasks = [{"name": "a", "template": "s"}, {"name": "b", "template": "s", "dependencies": ["a"]}]
    base = fx.workflow([fx.dag(tasks), fx.script("s")])
    jump, small = fx.run(copy.deepcopy(base), step=3600), fx.run(copy.deepcopy(base), step=1)
    assert jump["status"] == small["status"]


def test_loops_are_refused_explicitly() -> None:
    task = {"name": "each", "template": "s", "withItems": ["a", "b"]}
    wf = fx.workflow([fx.dag([task]), fx.script("s")])
    fx.run(wf)
    node = fx.by_display(wf)["each"]
    assert node["phase"] == "Error"
    assert "withItems loops are not simulated" in node["message"]
    assert wf["status"]["phase"] == "Error"


def test_nested_dag_passes_its_inputs_down() -> None:
    outer = fx.dag(
        [
            {
                "name": "inner",
                "template": "sub",
                "arguments": {"parameters": [{"name": "who", "value": "x"}]},
            }
        ]
    )
    sub = {
        "name": "sub",
        "inputs": {"parameters": [{"name": "who"}]},
        "dag": {
            "tasks": [{"name": "leaf", "template": "s", "when": "{{inputs.parameters.who}} == x"}]
        },
    }
    wf = fx.workflow([outer, sub, fx.script("s")])
    fx.run(wf)
    names = {n["name"]: n["phase"] for n in wf["status"]["nodes"].values()}
    assert names == {"wf": "Succeeded", "wf.inner": "Succeeded", "wf.inner.leaf": "Succeeded"}
