"""The main job: `opgate demo --exit` serves the example over TLS and drives the worked example."""

from __future__ import annotations

import re
import socket
import subprocess
import sys


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_runs_the_worked_example_against_the_server_over_https(tmp_path):
    port, health = free_port(), free_port()
    cmd = [sys.executable, "-m", "webhooks.cli", "demo", "--exit", "--workdir", str(tmp_path)]
    cmd += ["--port", str(port), "--health-port", str(health)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "PASS source document migration succeeds" in out.stdout
    assert re.search(
        r"Operation org-myteam/nextcloud-myteam-migrate-2026-05-28: Succeeded", out.stdout
    )
    curl = re.search(r"^  curl --cacert (\S+) .* --data @(\S+) (https://\S+)$", out.stdout, re.M)
    assert curl, out.stdout
    assert (tmp_path / "tls" / "ca.crt").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert '"kind": "AdmissionReview"' in (tmp_path / "example-review.json").read_text()
    assert curl.group(3) == f"https://127.0.0.1:{port}/validate/operations"
