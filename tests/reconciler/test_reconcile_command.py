"""`opgate reconcile`: its help, usage errors, and a real process against the simulator."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from webhooks import cli

REPO = Path(__file__).resolve().parents[2]


def test_help_explains_the_options(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["reconcile", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for text in (
        "--kubeconfig PATH",
        "--policy PATH",
        "--namespace NS",
        "--leader-elect",
        "--no-leader-elect",
        "Lease",
        "status subresource",
    ):
        assert text in out


def test_unreadable_kubeconfig_is_a_usage_error(tmp_path, capsys) -> None:
    missing = tmp_path / "nope"
    assert cli.main(["reconcile", "--kubeconfig", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "opgate reconcile: error: cannot load the cluster config" in err
    assert str(missing) in err


def test_bad_workers_is_a_usage_error(capsys) -> None:
    assert cli.main(["reconcile", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


@pytest.mark.slow
def test_process_reconciles_and_stops_on_sigterm(cluster, wait) -> None:
    op = yaml.safe_load((REPO / "deploy" / "examples" / "operation.yaml").read_text())
    proc = subprocess.Popen(
        [sys.executable, "-m", "webhooks.cli", "reconcile", "--kubeconfig",
         str(cluster.kubeconfig), "--namespace", "org-myteam", "--no-leader-elect",
         "--log-level", "warning"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        cluster.store.create(op)
        name = op["metadata"]["name"]
        wait(
            "the Workflow",
            lambda: cluster.store.find("argoproj.io", "Workflow", "org-myteam", name),
        )
        wait(
            "Pending",
            lambda: (
                (cluster.store.find("ops.vworkspace.io", "Operation", "org-myteam", name) or {})
                .get("status", {})
                .get("phase")
                == "Pending"
            ),
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("opgate reconcile did not stop on SIGTERM")
    assert proc.returncode == 0, err
