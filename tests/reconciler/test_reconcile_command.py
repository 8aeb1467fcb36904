"""`opgate reconcile`: its help, usage errors, and a real process against the simulator."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import threading
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
    health = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "webhooks.cli", "reconcile", "--kubeconfig",
         str(cluster.kubeconfig), "--namespace", "org-myteam", "--no-leader-elect",
         "--log-level", "warning", "--health-port", str(health)],
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
        assert _get(health, "/healthz") == (200, "ok\n")
        wait("ready", lambda: _get(health, "/readyz")[0] == 200)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("opgate reconcile did not stop on SIGTERM")
    assert proc.returncode == 0, err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def test_health_turns_503_when_a_controller_thread_dies(cluster, policy, wait) -> None:
    from reconciler import controller
    from webhooks.commands import reconcile

    ctl = controller.Controller(
        cluster.new_api(), policy, controller.Settings(leader_elect=False, watch_timeout=5)
    )
    ctl.start()
    server = reconcile.health_server(ctl, 0, host="127.0.0.1")
    port = server.server_address[1]
    try:
        wait("ready", lambda: _get(port, "/readyz")[0] == 200)
        assert _get(port, "/healthz") == (200, "ok\n")
        crashed = threading.Thread(target=lambda: None, name="worker-crashed")
        crashed.start()
        crashed.join()
        ctl._threads.append(crashed)  # as if a worker had died of an unexpected error
        assert _get(port, "/healthz") == (503, "dead threads: worker-crashed\n")
        assert _get(port, "/nope")[0] == 404
    finally:
        server.shutdown()
        ctl.stop()
        ctl.api.close()
