"""Argo node definitions: most recently started running node, first failing node, suspension."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from reconciler import nodes


def wf(*node_list: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"spec": spec, "status": {"nodes": {n["id"]: n for n in node_list}}}


def n(id_: str, type_: str, phase: str, **fields: Any) -> dict[str, Any]:
    return {"id": id_, "displayName": id_, "type": type_, "phase": phase, **fields}


def test_active_node_ignores_structure_and_prefers_running() -> None:
    w = wf(
        n("dag", "DAG", "Running", startedAt="2026-05-28T10:09:00Z"),
        n("retry", "Retry", "Running", startedAt="2026-05-28T10:08:00Z"),
        n("a", "Pod", "Running", startedAt="2026-05-28T10:01:00Z"),
        n("b", "HTTP", "Running", startedAt="2026-05-28T10:02:00Z"),
        n("c", "Pod", "Pending", startedAt="2026-05-28T10:07:00Z"),
    )
    assert nodes.active_node(w) == "b"
    assert nodes.active_node(wf(n("c", "Pod", "Pending"))) == "c"
    assert nodes.active_node(wf(n("d", "DAG", "Running"))) is None


def test_active_node_ties_and_missing_times_are_deterministic() -> None:
    w = wf(
        n("x", "Pod", "Running"),
        n("y", "Pod", "Running"),
        n("z", "Pod", "Running", startedAt="garbage"),
    )
    assert nodes.active_node(w) == "z"  # no usable time anywhere: the largest id


def test_first_failure() -> None:
    w = wf(
        n("retry", "Retry", "Succeeded", children=["t(0)", "t(1)"]),
        n("t(0)", "Pod", "Failed", finishedAt="2026-05-28T10:00:00Z", message="flake"),
        n("t(1)", "Pod", "Succeeded"),
        n("skipped", "Skipped", "Omitted", finishedAt="2026-05-28T09:00:00Z"),
        n("late", "Container", "Error", finishedAt="2026-05-28T10:05:00Z"),
        n("early", "Pod", "Failed", startedAt="2026-05-28T10:01:00Z", message=" exit 2 "),
    )
    assert nodes.first_failure(w) == "early: exit 2"
    assert nodes.first_failure(wf(n("late", "Pod", "Error"))) == "late: Error"
    assert nodes.first_failure(wf(n("ok", "Pod", "Succeeded"))) is None


def test_first_failure_skips_failures_that_did_not_fail_the_run() -> None:
    """A failed attempt inside a retried template that went on to succeed, and a tolerated
    failure (continueOn) in a DAG that succeeded, are not the culprit."""
    w = wf(
        n("x", "Retry", "Succeeded", children=["x(0)", "x(1)"]),
        n("x(0)", "DAG", "Failed", children=["flaky"], boundaryID="main"),
        n("main", "DAG", "Failed", children=["x", "verify"]),
        n("flaky", "Pod", "Failed", finishedAt="2026-05-28T10:00:01Z", boundaryID="x(0)"),
        n("x(1)", "DAG", "Succeeded"),
        n("inner", "DAG", "Succeeded", children=["optional-lint"]),
        n(
            "optional-lint",
            "Pod",
            "Failed",
            boundaryID="inner",
            finishedAt="2026-05-28T10:00:02Z",
            message="exit 1",
        ),
        n(
            "verify",
            "Pod",
            "Failed",
            boundaryID="main",
            finishedAt="2026-05-28T10:00:05Z",
            message="not ok",
        ),
    )
    assert nodes.first_failure(w) == "verify: not ok"


def test_first_failure_never_raises_on_odd_children() -> None:
    w = wf(
        n("r", "Retry", "Succeeded", children=["a", 5, ["b"], "r"]),
        n("a", "Pod", "Failed", boundaryID=["x"], children="a"),
        n("loop1", "DAG", "Failed", boundaryID="loop2"),
        n("loop2", "DAG", "Failed", boundaryID="loop1"),
    )
    assert nodes.first_failure(w) is None


@pytest.mark.parametrize(
    ("workflow", "suspended"),
    [
        (wf(suspend=True), True),
        (wf(suspend="true"), False),
        (wf(n("approve", "Suspend", "Running")), True),
        (wf(n("approve", "Suspend", "Succeeded")), False),
        (wf(n("pod", "Pod", "Running")), False),
    ],
)
def test_is_suspended(workflow, suspended) -> None:
    assert nodes.is_suspended(workflow) is suspended


def test_parse_time() -> None:
    utc = datetime.UTC
    assert nodes.parse_time("2026-05-28T10:00:00Z") == datetime.datetime(
        2026, 5, 28, 10, tzinfo=utc
    )
    assert nodes.parse_time(datetime.datetime(2026, 5, 28, 10)) == datetime.datetime(
        2026, 5, 28, 10, tzinfo=utc
    )
    for bad in ("", "soon", None, 3, ["2026"]):
        assert nodes.parse_time(bad) is None


def test_items_tolerates_any_keys_and_values() -> None:
    w = {"status": {"nodes": {1: {"phase": "Running"}, "1": {"phase": "Failed"}, "x": 3}}}
    assert [k for k, _ in nodes.items(w)] == ["1", "1"]
    assert nodes.items({"status": {"nodes": []}}) == []
    assert nodes.items({"status": None}) == []
