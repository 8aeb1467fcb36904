"""Status mapping: every row of DESIGN's table on real Argo fixtures and hand-written Workflows."""

from __future__ import annotations

import copy
import datetime
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from reconciler import status
from tests import strategies

NOW = datetime.datetime(2026, 5, 28, 10, 0, 0, tzinfo=datetime.UTC)
LATER = NOW + datetime.timedelta(minutes=5)
NOW_TEXT = "2026-05-28T10:00:00Z"
LATER_TEXT = "2026-05-28T10:05:00Z"


def cond(result: dict[str, Any], type_: str) -> dict[str, Any]:
    found = [c for c in result["conditions"] if c["type"] == type_]
    assert len(found) == 1, result["conditions"]
    return found[0]


def brief(result: dict[str, Any], type_: str) -> tuple[str, str]:
    c = cond(result, type_)
    return c["status"], c["reason"]


def with_status(operation: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(operation)
    out["status"] = new
    return out


def fixture(argo_reference: Path, name: str, *, json_times: bool = False) -> dict[str, Any]:
    data = yaml.safe_load((argo_reference / "status-examples" / name).read_text())
    if json_times:  # as the apiserver sends it: timestamps as RFC3339 text
        data = json.loads(json.dumps(data, default=lambda v: v.isoformat()))
    return data


def node(
    display: str,
    type_: str,
    phase: str,
    started: str | None = None,
    finished: str | None = None,
    message: str | None = None,
    children: list[str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"id": display, "displayName": display, "type": type_, "phase": phase}
    for key, value in (
        ("startedAt", started),
        ("finishedAt", finished),
        ("message", message),
        ("children", children),
    ):
        if value is not None:
            out[key] = value
    return out


def workflow(phase: str | None, nodes: list[dict[str, Any]] = (), **spec: Any) -> dict[str, Any]:
    wf: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": "nextcloud-myteam-migrate-2026-05-28",
            "namespace": "org-myteam",
            "uid": "5b0e9a52-1111-4c1e-9d0a-76b5c0ffee00",
        },
        "spec": {"workflowTemplateRef": {"name": "app-migration-with-snapshot"}, **spec},
        "status": {"nodes": {n["id"]: n for n in nodes}},
    }
    if phase is not None:
        wf["status"]["phase"] = phase
    return wf


# --- the table, on the real Argo fixtures -------------------------------------------------------
FIXTURE_ROWS = [
    (
        "dag-disable-fail-fast.yaml",
        "Failed",
        {"Running": ("False", "WorkflowFailed"), "Failed": ("True", "WorkflowFailed")},
        ("Failed", "C(0): failed with exit code 2"),
    ),
    (
        "dag-exhausted-retries-xfail.yaml",
        "Running",
        {"Running": ("True", "WorkflowInProgress")},
        ("Running", "Workflow retry-with-dags is running"),
    ),
    (
        "dag_xfail.yaml",
        "Running",
        {"Running": ("True", "WorkflowInProgress")},
        ("Running", "Workflow dag-fail-r4gvc is running"),
    ),
    (
        "error-steps-lifecycle-hook.from-hooks_test.go.yaml",
        "Failed",
        {"Running": ("False", "WorkflowError"), "Failed": ("True", "WorkflowError")},
        ("Failed", "step1: Error"),
    ),
    (
        "failed-steps-child-failed.from-util_test.go.yaml",
        "Failed",
        {"Running": ("False", "WorkflowFailed"), "Failed": ("True", "WorkflowFailed")},
        ("Failed", "fail: failed with exit code 1"),
    ),
    (
        "running-suspend-node-deadline.from-operator_test.go.yaml",
        "Running",
        {"Running": ("True", "WorkflowSuspended"), "Blocked": ("True", "AwaitingResume")},
        ("Running", "Node: approve"),
    ),
    (
        "succeeded-dag-diamond.from-util_test.go.yaml",
        "Succeeded",
        {"Running": ("False", "WorkflowSucceeded"), "Succeeded": ("True", "WorkflowSucceeded")},
        ("Succeeded", "Workflow dag-diamond-82q7s succeeded"),
    ),
]


@pytest.mark.parametrize("json_times", [False, True], ids=["yaml-times", "json-times"])
@pytest.mark.parametrize(("name", "phase", "conditions", "message"), FIXTURE_ROWS)
def test_fixture_rows(
    argo_reference, operation, name, phase, conditions, message, json_times
) -> None:
    wf = fixture(argo_reference, name, json_times=json_times)
    got = status.operation_status(operation, wf, NOW)
    assert got["phase"] == phase
    assert brief(got, "Accepted") == ("True", "TemplateValidated")
    for type_, expected in conditions.items():
        assert brief(got, type_) == expected
    assert cond(got, message[0])["message"] == message[1]
    assert got["outputs"]["logsRef"] == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "namespace": wf["metadata"].get("namespace", ""),
        "name": wf["metadata"]["name"],
    }
    assert got["outputs"].get("runId") == wf["metadata"].get("uid")
    assert got["observedGeneration"] == 1
    assert status.operation_status(with_status(operation, got), wf, LATER) == got


# --- the table, on hand-written Workflows ------------------------------------------------------
def test_not_created_is_pending(operation) -> None:
    got = status.operation_status(operation, None, NOW)
    assert got["phase"] == "Pending"
    assert brief(got, "Accepted") == ("True", "TemplateValidated")
    assert brief(got, "Running") == ("False", "Pending")
    assert "outputs" not in got
    assert [c["lastTransitionTime"] for c in got["conditions"]] == [NOW_TEXT, NOW_TEXT]
    assert all(c["observedGeneration"] == 1 for c in got["conditions"])


@pytest.mark.parametrize("phase", [None, "", "Pending"])
def test_pending_workflow(operation, phase) -> None:
    got = status.operation_status(operation, workflow(phase), NOW)
    assert got["phase"] == "Pending"
    assert brief(got, "Running") == ("False", "Pending")
    assert got["outputs"]["runId"] == "5b0e9a52-1111-4c1e-9d0a-76b5c0ffee00"


def test_worked_example_end_to_end(operation) -> None:
    """Pending -> Running with `Node: take-snapshot` -> Succeeded with runId and logsRef."""
    op = with_status(operation, status.operation_status(operation, None, NOW))
    op = with_status(op, status.operation_status(op, workflow("Pending"), NOW))
    assert op["status"]["phase"] == "Pending"
    running = workflow(
        "Running",
        [
            node("migrate", "DAG", "Running", "2026-05-28T10:00:01Z"),
            node("prechecks", "Pod", "Succeeded", "2026-05-28T10:00:01Z", "2026-05-28T10:00:30Z"),
            node("quiesce", "Pod", "Succeeded", "2026-05-28T10:00:31Z", "2026-05-28T10:00:50Z"),
            node("take-snapshot", "Pod", "Running", "2026-05-28T10:00:51Z"),
        ],
    )
    op = with_status(op, status.operation_status(op, running, LATER))
    assert op["status"]["phase"] == "Running"
    assert brief(op["status"], "Running") == ("True", "WorkflowInProgress")
    assert cond(op["status"], "Running")["message"] == "Node: take-snapshot"
    assert cond(op["status"], "Running")["lastTransitionTime"] == LATER_TEXT
    assert cond(op["status"], "Accepted")["lastTransitionTime"] == NOW_TEXT
    done = workflow("Succeeded", [node("take-snapshot", "Pod", "Succeeded")])
    end = LATER + datetime.timedelta(minutes=20)
    op = with_status(op, status.operation_status(op, done, end))
    assert op["status"]["phase"] == "Succeeded"
    assert brief(op["status"], "Succeeded") == ("True", "WorkflowSucceeded")
    assert brief(op["status"], "Running") == ("False", "WorkflowSucceeded")
    assert op["status"]["outputs"] == {
        "logsRef": {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "namespace": "org-myteam",
            "name": "nextcloud-myteam-migrate-2026-05-28",
        },
        "runId": "5b0e9a52-1111-4c1e-9d0a-76b5c0ffee00",
    }


def test_running_names_most_recently_started_running_step(operation) -> None:
    wf = workflow(
        "Running",
        [
            node("outer", "DAG", "Running", "2026-05-28T10:00:09Z"),
            node("group", "StepGroup", "Running", "2026-05-28T10:00:08Z"),
            node("old", "Pod", "Running", "2026-05-28T10:00:01Z"),
            node("new", "Container", "Running", "2026-05-28T10:00:05Z"),
            node("done", "Pod", "Succeeded", "2026-05-28T10:00:07Z"),
            node("waiting", "Pod", "Pending", "2026-05-28T10:00:06Z"),
        ],
    )
    got = status.operation_status(operation, wf, NOW)
    assert cond(got, "Running")["message"] == "Node: new"


def test_running_falls_back_to_pending_step(operation) -> None:
    wf = workflow("Running", [node("scheduling", "Pod", "Pending", "2026-05-28T10:00:06Z")])
    assert cond(status.operation_status(operation, wf, NOW), "Running")["message"] == (
        "Node: scheduling"
    )


@pytest.mark.parametrize(
    ("nodes", "spec", "message"),
    [
        ([], {"suspend": True}, "Workflow nextcloud-myteam-migrate-2026-05-28 is suspended"),
        ([node("approve", "Suspend", "Running", "2026-05-28T10:00:00Z")], {}, "Node: approve"),
    ],
    ids=["spec.suspend", "suspend-node"],
)
def test_suspended(operation, nodes, spec, message) -> None:
    got = status.operation_status(operation, workflow("Running", nodes, **spec), NOW)
    assert got["phase"] == "Running"
    assert brief(got, "Running") == ("True", "WorkflowSuspended")
    assert brief(got, "Blocked") == ("True", "AwaitingResume")
    assert cond(got, "Running")["message"] == message
    assert "argo resume" in cond(got, "Blocked")["message"]


def test_literal_suspended_phase(operation) -> None:
    got = status.operation_status(operation, workflow("Suspended"), NOW)
    assert got["phase"] == "Running"
    assert brief(got, "Blocked") == ("True", "AwaitingResume")


def test_resume_clears_blocked_and_keeps_running_transition(operation) -> None:
    op = with_status(
        operation, status.operation_status(operation, workflow("Running", suspend=True), NOW)
    )
    got = status.operation_status(
        op, workflow("Running", [node("verify", "Pod", "Running", "2026-05-28T10:01:00Z")]), LATER
    )
    assert brief(got, "Blocked") == ("False", "WorkflowResumed")
    assert cond(got, "Blocked")["lastTransitionTime"] == LATER_TEXT
    assert brief(got, "Running") == ("True", "WorkflowInProgress")
    assert cond(got, "Running")["lastTransitionTime"] == NOW_TEXT


def test_suspend_node_finished_is_not_suspended(operation) -> None:
    wf = workflow("Running", [node("approve", "Suspend", "Succeeded")])
    assert brief(status.operation_status(operation, wf, NOW), "Running") == (
        "True",
        "WorkflowInProgress",
    )


def test_failed_first_failing_node(operation) -> None:
    wf = workflow(
        "Failed",
        [
            node("migrate", "DAG", "Failed", "2026-05-28T10:00:00Z", "2026-05-28T10:09:00Z", "x"),
            node("late", "Pod", "Failed", "2026-05-28T10:00:00Z", "2026-05-28T10:08:00Z", "late"),
            node("early", "Pod", "Error", "2026-05-28T10:05:00Z", "2026-05-28T10:06:00Z", "oom"),
            node("skip", "Skipped", "Omitted", "2026-05-28T10:00:00Z", "2026-05-28T10:00:00Z"),
            node("no-time", "Pod", "Failed", message="never started"),
        ],
    )
    wf["status"]["message"] = "child 'late' failed"
    got = status.operation_status(operation, wf, NOW)
    assert got["phase"] == "Failed"
    assert brief(got, "Failed") == ("True", "WorkflowFailed")
    assert cond(got, "Failed")["message"] == "early: oom"


def test_failed_retry_attempt_that_was_retried_successfully_does_not_count(operation) -> None:
    wf = workflow(
        "Failed",
        [
            node("b", "Retry", "Succeeded", children=["b(0)", "b(1)"]),
            node("b(0)", "Pod", "Failed", "2026-05-28T10:00:00Z", "2026-05-28T10:00:01Z", "flake"),
            node("b(1)", "Pod", "Succeeded", "2026-05-28T10:00:02Z", "2026-05-28T10:00:03Z"),
            node("c", "Pod", "Failed", "2026-05-28T10:00:04Z", "2026-05-28T10:00:05Z", "bad"),
        ],
    )
    assert cond(status.operation_status(operation, wf, NOW), "Failed")["message"] == "c: bad"


def test_failed_without_step_nodes_uses_workflow_message(operation) -> None:
    wf = workflow("Failed", [node("d", "DAG", "Failed")])
    wf["status"]["message"] = "Step exceeded its deadline"
    assert cond(status.operation_status(operation, wf, NOW), "Failed")["message"] == (
        "Step exceeded its deadline"
    )
    wf["status"].pop("message")
    assert cond(status.operation_status(operation, wf, NOW), "Failed")["message"] == (
        "Workflow nextcloud-myteam-migrate-2026-05-28 failed"
    )


def test_error_prefers_workflow_message(operation) -> None:
    wf = workflow("Error")
    wf["status"]["message"] = (
        'workflowtemplates.argoproj.io "app-migration-with-snapshot" not found'
    )
    got = status.operation_status(operation, wf, NOW)
    assert got["phase"] == "Failed"
    assert brief(got, "Failed") == ("True", "WorkflowError")
    assert brief(got, "Running") == ("False", "WorkflowError")
    assert "not found" in cond(got, "Failed")["message"]


@pytest.mark.parametrize("phase", ["Paused", "Retrying", 42, ["Running"]])
def test_unknown_phase_is_running(operation, phase) -> None:
    got = status.operation_status(operation, workflow(phase), NOW)
    assert got["phase"] == "Running"
    assert brief(got, "Running") == ("True", "WorkflowPhaseUnknown")


def test_missing_after_running_fails(operation) -> None:
    op = with_status(operation, status.operation_status(operation, workflow("Running"), NOW))
    got = status.operation_status(op, None, LATER, missing=True)
    assert got["phase"] == "Failed"
    assert brief(got, "Failed") == ("True", "WorkflowMissing")
    assert brief(got, "Running") == ("False", "WorkflowMissing")
    assert got["outputs"]["runId"] == "5b0e9a52-1111-4c1e-9d0a-76b5c0ffee00"


def test_not_observed_keeps_a_running_status(operation) -> None:
    op = with_status(operation, status.operation_status(operation, workflow("Running"), NOW))
    assert status.operation_status(op, None, LATER) == op["status"]


@pytest.mark.parametrize("final", ["Succeeded", "Failed", "Error"])
def test_terminal_is_absorbing(operation, final) -> None:
    op = with_status(operation, status.operation_status(operation, workflow(final), NOW))
    for later in (workflow("Running"), workflow("Pending"), workflow("Succeeded"), None):
        assert status.operation_status(op, later, LATER) == op["status"]
    assert status.operation_status(op, None, LATER, missing=True) == op["status"]
    assert status.failed_status(op, "NameConflict", "x", LATER) == op["status"]


def test_failed_status_for_controller_failures(operation) -> None:
    got = status.failed_status(operation, "NameConflict", "Workflow x is not ours", NOW)
    assert got["phase"] == "Failed"
    assert brief(got, "Failed") == ("True", "NameConflict")
    assert cond(got, "Failed")["message"] == "Workflow x is not ours"
    assert brief(got, "Accepted") == ("True", "TemplateValidated")


def test_accepted_stays_as_first_written(operation) -> None:
    accepted = {
        "type": "Accepted",
        "status": "True",
        "reason": "TemplateValidated",
        "message": "earlier words",
        "lastTransitionTime": "2026-05-27T00:00:00Z",
        "observedGeneration": 1,
    }
    op = with_status(operation, {"phase": "Pending", "conditions": [accepted]})
    got = status.operation_status(op, workflow("Running"), NOW)
    assert cond(got, "Accepted") == accepted


def test_messages_are_bounded_and_foreign_conditions_kept(operation) -> None:
    foreign = {
        "type": "Audited",
        "status": "True",
        "reason": "Done",
        "message": "",
        "lastTransitionTime": "2026-05-27T00:00:00Z",
    }
    op = with_status(operation, {"conditions": [foreign, dict(foreign)]})
    wf = workflow("Failed", [node("x" * 3000, "Pod", "Failed", message="y" * 3000)])
    got = status.operation_status(op, wf, NOW)
    assert len(cond(got, "Failed")["message"]) == status.MESSAGE_LIMIT
    assert cond(got, "Failed")["message"].endswith("...")
    assert [c for c in got["conditions"] if c["type"] == "Audited"] == [foreign]


# --- properties over generated Workflows -------------------------------------------------------
NODE_TYPES = [
    "Pod",
    "Container",
    "Steps",
    "StepGroup",
    "DAG",
    "TaskGroup",
    "Retry",
    "Skipped",
    "Suspend",
    "HTTP",
    "Plugin",
]
NODE_PHASES = ["Pending", "Running", "Succeeded", "Skipped", "Failed", "Error", "Omitted"]
WORKFLOW_PHASES = ["", "Pending", "Running", "Succeeded", "Failed", "Error", "Suspended"]
REASON = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

moments = st.datetimes(
    min_value=datetime.datetime(2000, 1, 1),
    max_value=datetime.datetime(2100, 1, 1),
    timezones=st.just(datetime.UTC),
)
timestamps = st.none() | moments.map(status.rfc3339) | st.sampled_from(["", "yesterday", "0"])
json_values = strategies.json_values(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    max_leaves=6,
)


@st.composite
def node_graphs(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(st.from_regex(r"n[0-9]{1,3}", fullmatch=True), max_size=10, unique=True))
    nodes = {}
    for node_id in ids:
        n: dict[str, Any] = {
            "id": node_id,
            "name": f"wf.{node_id}",
            "type": draw(st.sampled_from(NODE_TYPES) | st.text(max_size=5) | json_values),
            "phase": draw(st.sampled_from(NODE_PHASES) | st.text(max_size=5) | json_values),
        }
        for key, strategy in (
            ("displayName", st.text(max_size=12)),
            ("startedAt", timestamps),
            ("finishedAt", timestamps),
            ("message", st.text(max_size=40)),
            ("children", st.lists(st.sampled_from(ids), max_size=3) if ids else st.just([])),
        ):
            if draw(st.booleans()):
                n[key] = draw(strategy)
        nodes[node_id] = n
    return nodes


@st.composite
def workflows(draw: st.DrawFn) -> dict[str, Any]:
    wf: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": "wf",
            "namespace": "org-myteam",
            "uid": draw(st.sampled_from(["u1", "u2"])),
        },
        "spec": {},
        "status": {"nodes": draw(node_graphs())},
    }
    phase = draw(st.sampled_from([*WORKFLOW_PHASES, None]) | st.text(max_size=8))
    if phase is not None:
        wf["status"]["phase"] = phase
    suspend = draw(st.sampled_from([None, True, False, "true", 1]))
    if suspend is not None:
        wf["spec"]["suspend"] = suspend
    if draw(st.booleans()):
        wf["status"]["message"] = draw(st.text(max_size=2000))
    return wf


@st.composite
def crd_shaped_workflows(draw: st.DrawFn) -> Any:
    """Anything the minimal CRD admits: objects whose spec/status preserve unknown fields."""
    return draw(
        st.fixed_dictionaries(
            {},
            optional={
                "metadata": st.dictionaries(
                    st.sampled_from(["name", "namespace", "uid"]), json_values
                ),
                "spec": st.dictionaries(st.sampled_from(["suspend", "entrypoint"]), json_values),
                "status": st.dictionaries(
                    st.sampled_from(["phase", "message", "nodes"]),
                    json_values | st.dictionaries(st.text(max_size=4), json_values, max_size=4),
                ),
            },
        )
    )


def operations(draw_status: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    base = {
        "apiVersion": "ops.vworkspace.io/v1alpha1",
        "kind": "Operation",
        "metadata": {"name": "op", "namespace": "org-myteam", "uid": "op-uid"},
        "spec": {"engine": "workflow"},
    }

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        op = copy.deepcopy(base)
        generation = draw(st.none() | st.integers(1, 5) | st.just("x"))
        if generation is not None:
            op["metadata"]["generation"] = generation
        if draw_status and draw(st.booleans()):
            earlier = draw(st.none() | workflows())
            op["status"] = status.operation_status(op, earlier, NOW, missing=draw(st.booleans()))
        return op

    return build()


PLAIN_OPERATION = {
    "apiVersion": "ops.vworkspace.io/v1alpha1",
    "kind": "Operation",
    "metadata": {"name": "op", "namespace": "org-myteam", "uid": "op-uid", "generation": 1},
    "spec": {"engine": "workflow"},
}


def assert_well_formed(result: dict[str, Any], generation: Any) -> None:
    assert result["phase"] in ("Pending", "Running", "Succeeded", "Failed")
    types = [c["type"] for c in result["conditions"]]
    assert len(types) == len(set(types))
    assert cond(result, "Accepted")["status"] == "True"
    for c in result["conditions"]:
        if c["type"] not in status.CONDITION_TYPES:
            continue  # someone else's condition, kept as it was
        assert set(c) >= {"type", "status", "reason", "message", "lastTransitionTime"}
        assert c["status"] in ("True", "False")
        assert REASON.match(c["reason"]), c["reason"]
        assert isinstance(c["message"], str)
        assert len(c["message"]) <= status.MESSAGE_LIMIT
        assert TIME.match(c["lastTransitionTime"])
        if isinstance(generation, int):
            assert c["observedGeneration"] == generation
    terminal = {"Succeeded": "Succeeded", "Failed": "Failed"}.get(result["phase"])
    if terminal:
        assert cond(result, terminal)["status"] == "True"
        assert cond(result, "Running")["status"] == "False"


@given(op=operations(), wf=st.none() | workflows(), missing=st.booleans(), now=moments)
def test_property_invariants(op, wf, missing, now) -> None:
    before = copy.deepcopy(op)
    got = status.operation_status(op, wf, now, missing=missing)
    assert op == before  # pure: the input is not touched
    old = op.get("status") or {}
    if old.get("phase") in status.TERMINAL:
        assert got == old  # absorbing
        return
    assert_well_formed(got, op["metadata"].get("generation"))
    old_by_type = {c["type"]: c for c in old.get("conditions", [])}
    for c in got["conditions"]:
        prior = old_by_type.get(c["type"])
        if prior is not None and prior["status"] == c["status"]:
            assert c["lastTransitionTime"] == prior["lastTransitionTime"]
        elif c["lastTransitionTime"] != status.rfc3339(now):
            pytest.fail(f"{c['type']} changed status without a new lastTransitionTime")
    for type_ in old_by_type:
        assert type_ in {c["type"] for c in got["conditions"]}  # conditions are never dropped
    again = status.operation_status(
        with_status(op, got), wf, now + datetime.timedelta(hours=1), missing=missing
    )
    assert again == got  # idempotent, whatever the clock says


@given(op=operations(draw_status=False), seen=st.lists(workflows(), min_size=1, max_size=6))
def test_property_status_follows_last_workflow_until_terminal(op, seen) -> None:
    now = NOW
    first_terminal = None
    for wf in seen:
        now += datetime.timedelta(seconds=30)
        op = with_status(op, status.operation_status(op, wf, now))
        if first_terminal is None and op["status"]["phase"] in status.TERMINAL:
            first_terminal = copy.deepcopy(op["status"])
    if first_terminal is not None:
        assert op["status"] == first_terminal
    else:
        mapped = status.map_workflow(seen[-1])
        assert op["status"]["phase"] == mapped.phase
        for c in mapped.conditions:
            assert brief(op["status"], c.type) == (c.status, c.reason)


@given(op=operations(), wf=crd_shaped_workflows(), missing=st.booleans())
def test_property_never_raises_on_crd_shaped_workflows(op, wf, missing) -> None:
    got = status.operation_status(op, wf, NOW, missing=missing)
    if (op.get("status") or {}).get("phase") not in status.TERMINAL:
        assert_well_formed(got, op["metadata"].get("generation"))


@given(
    existing=st.lists(
        st.fixed_dictionaries(
            {"type": st.sampled_from([*status.CONDITION_TYPES, "Other"]) | st.text(max_size=4)},
            optional={
                "status": st.sampled_from(["True", "False", "Unknown"]),
                "lastTransitionTime": st.sampled_from([NOW_TEXT, 3, None, "yesterday"]),
                "reason": json_values,
            },
        )
        | json_values,
        max_size=6,
    ),
    phase=st.sampled_from(["", "Pending", "Running", None]) | json_values,
    wf=st.none() | workflows(),
)
def test_property_malformed_existing_status(existing, phase, wf) -> None:
    op = with_status(PLAIN_OPERATION, {"phase": phase, "conditions": existing})
    got = status.operation_status(op, wf, LATER)
    text_phase = phase if isinstance(phase, str) else ""
    if text_phase in status.TERMINAL or (wf is None and text_phase not in ("", "Pending")):
        assert got == op["status"]  # terminal, or nothing observed: kept as it was
        return
    assert_well_formed(got, 1)


def test_now_as_text_or_naive(operation) -> None:
    wf = workflow("Running")
    aware = status.operation_status(operation, wf, NOW)
    assert status.operation_status(operation, wf, NOW_TEXT) == aware
    assert status.operation_status(operation, wf, NOW.replace(tzinfo=None)) == aware
    with pytest.raises(ValueError, match="not an RFC3339 time"):
        status.operation_status(operation, wf, "soon")
