"""`opgate simulate`: exit codes, text and JSON output, --explain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.sim import argofixtures as fx
from webhooks import cli

SCENARIOS = fx.REPO / "sim" / "scenarios"
STATE = [
    "--cluster-state",
    str(fx.REPO / "deploy/examples/cluster-state"),
    "--cluster-state",
    str(fx.REPO / "deploy/workflows"),
    "--cluster-state",
    str(fx.REPO / "deploy/crds"),
]


def test_passing_scenario_exits_0_with_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["simulate", str(SCENARIOS / "verify-fails.yaml")])
    out = capsys.readouterr().out
    assert code == 0
    assert "verify: Failed - main: Error (exit code 1): postchecks failed" in out
    assert "unquiesce: Omitted - omitted: depends condition not met" in out
    assert "PASS verify fails, dependents omitted" in out
    assert "1/1 scenario(s) passed" in out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["simulate", "-o", "json", str(SCENARIOS / "engine-not-installed.yaml")])
    body = json.loads(capsys.readouterr().out)
    assert code == 0
    assert body["decisions"][0]["reason"] == "EngineNotInstalled"
    assert any(o["kind"] == "CustomResourceDefinition" for o in body["objects"])
    assert body["scenarios"][0]["ok"] is True


def test_failed_expectation_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "wrong.yaml"
    path.write_text(
        f"clusterState: [{fx.REPO}/deploy/crds, {fx.REPO}/deploy/examples/cluster-state]\n"
        "timeline:\n"
        f"  - create: {{file: {fx.REPO}/deploy/examples/bad/05-parameters-invalid.yaml, expect: {{allowed: true}}}}\n",
        encoding="utf-8",
    )
    assert cli.main(["simulate", str(path)]) == 1
    assert "FAIL wrong" in capsys.readouterr().out


def test_bad_scenario_exits_2_naming_file_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("timeline:\n  - advance: later\n", encoding="utf-8")
    assert cli.main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: timeline[0].advance: must be seconds" in err


def test_no_scenario_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["simulate"]) == 2
    assert "at least one SCENARIO" in capsys.readouterr().err


def test_explain_lists_checks_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    bad = fx.REPO / "deploy/examples/bad/08-service-account-not-allowed.yaml"
    code = cli.main(["simulate", "--explain", str(bad), *STATE])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0].split()[:3] == ["1.", "UnknownEngine", "pass"]
    assert out[7].split()[:3] == ["8.", "ServiceAccountNotAllowed", "fail"]
    assert out[-1].startswith("DENIED 403 ServiceAccountNotAllowed: ")
    assert out[-1].count("ServiceAccountNotAllowed") == 1


def test_explain_json_for_an_admitted_operation(capsys: pytest.CaptureFixture[str]) -> None:
    op = fx.REPO / "deploy/examples/operation.yaml"
    code = cli.main(["simulate", "--explain", str(op), "-o", "json", *STATE])
    body = json.loads(capsys.readouterr().out)
    assert code == 0
    assert body["decision"]["allowed"] is True
    assert [c["outcome"] for c in body["checks"]][:2] == ["pass", "pass"]
    assert len(body["checks"]) >= 8


def test_explain_lists_the_checks_a_failure_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    bad = fx.REPO / "deploy/examples/bad/04-target-not-found.yaml"
    assert cli.main(["simulate", "--explain", str(bad), "-o", "json", *STATE]) == 1
    body = json.loads(capsys.readouterr().out)
    outcomes = {c["check"]: c["outcome"] for c in body["checks"]}
    assert outcomes["TargetNotFound"] == "fail"
    assert outcomes["ParametersInvalid"] == outcomes["ServiceAccountNotAllowed"] == "not-run"
    assert len(body["checks"]) == 8


def test_explain_judges_an_operation_already_in_the_cluster_as_an_update(
    capsys: pytest.CaptureFixture[str],
) -> None:
    changed = fx.REPO / "deploy/examples/bad/09-field-immutable.yaml"
    assert cli.main(["simulate", "--explain", str(changed), "-o", "json", *STATE]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["decision"]["operation"] == "UPDATE"
    assert body["decision"]["reason"] == "FieldImmutable"
    last = body["checks"][-1]
    assert (last["check"], last["outcome"], last["code"]) == ("FieldImmutable", "fail", 422)
    assert last["message"].startswith("spec of Operation ")


def test_explain_shows_the_defaults_the_mutating_webhook_adds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    op = yaml.safe_load((fx.REPO / "deploy/examples/operation.yaml").read_text())
    del op["spec"]["engine"]
    path = tmp_path / "op.yaml"
    path.write_text(yaml.safe_dump(op))
    assert cli.main(["simulate", "--explain", str(path), "-o", "json", *STATE]) == 0
    patch = json.loads(capsys.readouterr().out)["decision"]["patch"]
    assert {"op": "add", "path": "/spec/engine", "value": "workflow"} in patch


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--explain", "x.yaml", "s.yaml"], "not both"),
        (["s.yaml", "--cluster-state", "c"], "--cluster-state goes with --explain"),
    ],
)
def test_explain_flags_that_would_be_ignored_are_errors(
    argv: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["simulate", *argv]) == 2
    assert problem in capsys.readouterr().err


def test_progress_bar_only_on_a_terminal() -> None:
    import io

    from sim import printers

    stream = io.StringIO()
    bar = printers.Progress(3, stream)
    bar.update(1, "x")
    bar.close()
    assert stream.getvalue() == ""


def test_object_of_an_unknown_kind_is_a_bad_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gadget.yaml"
    path.write_text(
        "objects:\n  - {apiVersion: example.com/v1, kind: Gadget, metadata: {name: g, namespace: default}}\n",
        encoding="utf-8",
    )
    assert cli.main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: clusterState/objects: Gadget default/g cannot be stored" in err
