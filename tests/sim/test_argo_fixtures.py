"""The fake Argo controller against real Argo status fixtures: same node ids, names and phases.

Each fixture's spec is run with the pod outcomes its status shows (a Failed pod fails with its
exit code); every node the fixture has finished must exist here with the same id, name,
displayName, type, phase, boundary and children.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.argo import nodes, world
from tests.sim import argofixtures as fx

EXAMPLES = fx.REFERENCE / "status-examples"
FIXTURES = [
    "succeeded-dag-diamond.from-util_test.go.yaml",
    "dag-disable-fail-fast.yaml",
    "failed-steps-child-failed.from-util_test.go.yaml",
    "dag-exhausted-retries-xfail.yaml",
]


def _load(name: str) -> dict[str, Any]:
    if not EXAMPLES.is_dir():
        pytest.skip(f"reference fixtures not found at {EXAMPLES} (../shared/reference/argo)")
    return yaml.safe_load(Path(EXAMPLES / name).read_text(encoding="utf-8"))


def _outcomes(fixture: dict[str, Any]) -> world.StaticWorld:
    outcomes: dict[str, world.Outcome] = {}
    for node in fixture["status"]["nodes"].values():
        if node.get("type") == "Pod" and node.get("phase") == "Failed":
            code = int((node.get("outputs") or {}).get("exitCode") or 1)
            outcomes[node["displayName"]] = world.Outcome(phase="Failed", exit_code=code)
    return world.StaticWorld(outcomes)


@pytest.mark.parametrize("name", FIXTURES)
def test_nodes_match_fixture(name: str) -> None:
    fixture = _load(name)
    wf = copy.deepcopy(fixture)
    wf.pop("status")
    wf["metadata"].setdefault("namespace", "argo")
    fx.run(wf, _outcomes(fixture), step=60)
    ours = wf["status"]["nodes"]
    for node_id, theirs in fixture["status"]["nodes"].items():
        if not nodes.fulfilled(theirs["phase"]):
            continue
        assert node_id in ours, f"{theirs['name']} missing: have {sorted(ours)}"
        mine = ours[node_id]
        for field in ("name", "displayName", "type", "phase", "boundaryID", "templateName"):
            if field in theirs:  # 2019 fixtures predate templateName
                assert mine.get(field) == theirs[field], (node_id, field)
        assert set(mine.get("children") or []) == set(theirs.get("children") or []), node_id


def test_diamond_status_fields() -> None:
    fixture = _load("succeeded-dag-diamond.from-util_test.go.yaml")
    wf = copy.deepcopy(fixture)
    wf.pop("status")
    fx.run(wf, step=60)
    status = wf["status"]
    assert status["phase"] == fixture["status"]["phase"] == "Succeeded"
    assert status["progress"] == fixture["status"]["progress"] == "4/4"
    root = status["nodes"]["dag-diamond-82q7s"]
    assert root["outboundNodes"] == ["dag-diamond-82q7s-1226654358"]
    assert root["progress"] == "4/4"
    assert {c["type"] for c in status["conditions"]} == {"PodRunning", "Completed"}


def test_steps_failure_message_is_argos() -> None:
    fixture = _load("failed-steps-child-failed.from-util_test.go.yaml")
    wf = copy.deepcopy(fixture)
    wf.pop("status")
    wf["metadata"].setdefault("namespace", "argo")
    fx.run(wf, _outcomes(fixture), step=60)
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == fixture["status"]["message"]


def test_suspend_node_past_deadline_fails() -> None:
    fixture = _load("running-suspend-node-deadline.from-operator_test.go.yaml")
    wf = copy.deepcopy(fixture)
    wf.pop("status")
    fx.run(wf, step=1, until=10)
    status = wf["status"]
    assert status["phase"] == "Failed"
    approve = status["nodes"]["steps-9fvnv-3700512507"]
    assert approve["type"] == "Suspend"
    assert approve["phase"] == "Failed"
    assert approve["message"] == "Step exceeded its deadline"
    assert approve["finishedAt"] == "2026-05-28T12:00:03Z"


def test_failed_dag_workflow_has_no_message_like_argo() -> None:
    fixture = _load("dag-disable-fail-fast.yaml")
    wf = copy.deepcopy(fixture)
    wf.pop("status")
    wf["metadata"].setdefault("namespace", "argo")
    fx.run(wf, _outcomes(fixture), step=60)
    assert wf["status"]["phase"] == fixture["status"]["phase"] == "Failed"
    assert "message" not in wf["status"] and "message" not in fixture["status"]
    retry = wf["status"]["nodes"]["dag-disable-fail-fast-r6xdc-3945213918"]
    assert (retry["type"], retry["phase"]) == ("Retry", "Succeeded")
