"""Scenario loading: the shipped files load; bad ones name the file, the path and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import scenario
from tests.sim import argofixtures as fx

SHIPPED = sorted((fx.REPO / "sim" / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenarios_load(path: Path) -> None:
    loaded = scenario.load(path)
    assert loaded.timeline
    assert loaded.name


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("colour: red\n", "colour", "unknown key"),
        ("timeline: {}\n", "timeline", "expected a list, got dict"),
        ("timeline:\n  - jump: 3\n", "timeline[0].jump", "unknown action"),
        ("timeline:\n  - advance: soon\n", "timeline[0].advance", "seconds"),
        ("timeline:\n  - create: {user: a}\n", "timeline[0].create", "exactly one of object"),
        (
            "timeline:\n  - create: {object: {apiVersion: v1, kind: X, metadata: {}}}\n",
            "timeline[0].create.object",
            "metadata.name",
        ),
        ("timeline:\n  - create: {file: nope.yaml}\n", "timeline[0].create.file", "cannot load"),
        ("steps: {verify: {phase: Done}}\n", "steps.verify.phase", "Succeeded, Failed or Error"),
        ("steps: {verify: {duration: -3}}\n", "steps.verify.duration", "duration"),
        ("steps: {verify: {colour: 1}}\n", "steps.verify.colour", "unknown key"),
        ("seed: x\n", "seed", "integer"),
        ("name: 5\n", "name", "must be a string, got int"),
        ("description: [1]\n", "description", "must be a string, got list"),
        ("expect:\n  - pod: {name: x}\n", "expect[0]", "operation, workflow, object"),
        ("expect:\n  - object: {name: x}\n", "expect[0].object.apiVersion", "non-empty string"),
        ("expect:\n  - workflow: {name: w}\n", "expect[0].workflow.namespace", "non-empty string"),
        (
            "expect:\n  - operation: {namespace: n, name: o, phse: Failed}\n",
            "expect[0].operation.phse",
            "unknown key",
        ),
        (
            "expect:\n  - operation: {namespace: n, name: o, conditions: {Failed: {statsu: x}}}\n",
            "expect[0].operation.conditions.Failed.statsu",
            "unknown key",
        ),
        (
            "expect:\n  - operation: {namespace: n, name: o, conditions: [1]}\n",
            "expect[0].operation.conditions",
            "expected a mapping",
        ),
        (
            "expect:\n  - object: {apiVersion: v1, kind: C, name: c, exists: 'no'}\n",
            "expect[0].object.exists",
            "true or false",
        ),
        (
            "expect:\n  - operation: {namespace: n, name: o, phase: Done}\n",
            "expect[0].operation.phase",
            "Pending, Running, Succeeded, Failed",
        ),
        ("timeline:\n  - restartController: kube\n", "timeline[0].restartController", "argo"),
        ("a: [1\n", "line 2", "not valid YAML"),
        ("- 1\n", "(top level)", "expected a mapping"),
        (
            "timeline:\n  - create: {object: {apiVersion: v1, kind: X, metadata: {name: a}}, "
            "expect: {reason: X}}\n",
            "timeline[0].create.expect.allowed",
            "true or false",
        ),
    ],
)
def test_bad_scenarios_say_where_and_what(
    tmp_path: Path, text: str, where: str, problem: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(scenario.ScenarioError) as info:
        scenario.load(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert where in message
    assert problem in message


def test_paths_are_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "ns.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n", encoding="utf-8"
    )
    path = _write(tmp_path, "clusterState: [state]\nseed: 3\n")
    loaded = scenario.load(path)
    assert [o["metadata"]["name"] for o in loaded.objects] == ["team"]
    assert loaded.seed == 3
    assert loaded.name == "s"


def test_discover_takes_yaml_files_of_a_directory(tmp_path: Path) -> None:
    _write(tmp_path, "{}\n")
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "x.yaml").write_text("{}\n", encoding="utf-8")
    assert scenario.discover([str(tmp_path)]) == [tmp_path / "s.yaml"]
    with pytest.raises(scenario.ScenarioError, match="no such file"):
        scenario.discover([str(tmp_path / "missing.yaml")])
