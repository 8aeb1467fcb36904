"""Graceful shutdown with requests in flight (in process and for `opgate serve` as a
subprocess), startup errors, and the JSON decision log."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from webhooks import cli, manifests

sys.path.insert(0, str(Path(__file__).parent))  # helpers beside this file (no conftest)
import serverfixtures as sf

tls_dir = sf.tls_dir  # a fixture

REPO = sf.REPO
OPGATE = Path(sys.executable).with_name("opgate")


def _op() -> dict[str, Any]:
    return manifests.load([sf.EXAMPLES / "operation.yaml"])[0]


class Pending:
    """An HTTPS request sent up to half its body; `finish` sends the rest and reads the answer."""

    def __init__(self, port: int, ca: Path, path: str, body: bytes) -> None:
        ctx = ssl.create_default_context(cafile=str(ca))
        raw = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        head = (
            f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        half = len(body) // 2
        self.sock.sendall(head + body[:half])
        self.rest = body[half:]

    def finish(self) -> tuple[int, bytes]:
        self.sock.sendall(self.rest)
        data = b""
        while chunk := self.sock.recv(65536):
            data += chunk
        self.sock.close()
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        if b"transfer-encoding: chunked" in head.lower():
            body = _unchunk(body)
        return status, body


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_in_process_shutdown_finishes_requests_in_flight(tls_dir: Path) -> None:
    srv = sf.Running(sf.make_state(), tls_dir, grace=20)
    with srv:
        pending = [
            Pending(
                srv.port,
                tls_dir / "ca.crt",
                "/validate/operations",
                orjson.dumps(sf.review_json(_op(), uid=f"inflight-{i}")),
            )
            for i in range(4)
        ]
        sf.eventually(lambda: srv.state.active == 4, "four requests in flight")
        assert "opgate_admission_requests_in_flight 4.0" in srv.health("/metrics")[1].decode()
        stopping = asyncio.run_coroutine_threadsafe(srv.server.stop(), srv.loop)
        sf.eventually(lambda: _refused(srv.port), "the listener closed")
        answers = [p.finish() for p in pending]
        stopping.result(30)
    for i, (status, body) in enumerate(answers):
        assert status == 200
        resp = orjson.loads(body)["response"]
        assert resp["uid"] == f"inflight-{i}"
        assert resp["allowed"] is True


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """The example cluster state, plus the library template when deploy/workflows is absent."""
    out = tmp_path / "state"
    out.mkdir()
    (out / "objects.json").write_bytes(
        orjson.dumps({"apiVersion": "v1", "kind": "List", "items": sf.state_objects()})
    )
    return out


@pytest.mark.slow
def test_subprocess_serve_answers_and_drains_on_sigterm(tmp_path: Path, state_dir: Path) -> None:
    tls = tmp_path / "tls"
    assert cli.main(["certs", "generate", "--out", str(tls), "--localhost"]) == 0
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    proc = subprocess.Popen(
        [str(OPGATE), "serve", "--tls-dir", str(tls), "--host", "127.0.0.1", "--port", "0",
         "--health-port", "0", "--cluster-state", str(state_dir), "--grace-period", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline().decode()
        match = re.search(r"https://127.0.0.1:(\d+) \(health: http://127.0.0.1:(\d+)\)", banner)
        assert match, banner
        port, health = int(match.group(1)), int(match.group(2))
        hint = proc.stdout.readline().decode()
        assert f"trusting {tls / 'ca.crt'}" in hint
        status, _, body = sf.post(
            port, tls / "ca.crt", "/validate/operations", sf.review_json(_op(), uid="sub-1")
        )
        assert status == 200
        assert orjson.loads(body)["response"] == {"uid": "sub-1", "allowed": True}
        if shutil.which("curl"):  # the README's way: curl trusting only the generated CA
            review_file = tmp_path / "review.json"
            review_file.write_bytes(orjson.dumps(sf.review_json(_op(), uid="curl-1")))
            out = subprocess.run(
                ["curl", "-sS", "--fail", "--cacert", str(tls / "ca.crt"),
                 "-H", "Content-Type: application/json", "--data", f"@{review_file}",
                 f"https://localhost:{port}/validate/operations"],
                capture_output=True, timeout=30, check=True,
            )  # fmt: skip
            assert orjson.loads(out.stdout)["response"] == {"uid": "curl-1", "allowed": True}
        bad = manifests.load([sf.EXAMPLES / "bad" / "01-unknown-engine.yaml"])[0]
        _, _, body = sf.post(
            port, tls / "ca.crt", "/validate/operations", sf.review_json(bad, uid="sub-2")
        )
        assert orjson.loads(body)["response"]["status"]["reason"] == "UnknownEngine"
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", health, timeout=10)
        conn.request("GET", "/metrics")
        exposition = conn.getresponse().read()
        assert b"opgate_admission_requests_total" in exposition
        assert b"process_resident_memory_bytes" in exposition
        conn.close()
        pending = Pending(
            port, tls / "ca.crt", "/validate/operations",
            orjson.dumps(sf.review_json(_op(), uid="sub-inflight")),
        )  # fmt: skip
        proc.send_signal(signal.SIGTERM)
        sf.eventually(lambda: _refused(port), "the listener closed after SIGTERM")
        status, body = pending.finish()
        assert status == 200
        assert orjson.loads(body)["response"]["uid"] == "sub-inflight"
        assert proc.wait(30) == 0
        assert proc.stderr is not None
        lines = [orjson.loads(line) for line in proc.stderr.read().splitlines() if line.strip()]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    decisions = [line for line in lines if line.get("msg") == "decision"]
    uids = [d["uid"] for d in decisions if d["uid"] != "curl-1"]
    assert uids == ["sub-1", "sub-2", "sub-inflight"]
    first = decisions[0]
    assert first["kind"] == "Operation"
    assert first["namespace"] == "org-myteam"
    assert first["name"] == "nextcloud-myteam-migrate-2026-05-28"
    assert first["user"] == "alice@example.com"
    assert first["allowed"] is True
    assert isinstance(first["duration_ms"], float)
    assert next(d for d in decisions if d["uid"] == "sub-2")["reason"] == "UnknownEngine"
    assert any(line.get("msg") == "stopped" for line in lines)


def test_serve_without_a_view_says_what_to_pass(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert cli.main(["serve", "--tls-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--cluster-state PATH" in err and "--kubeconfig PATH" in err
    assert "Traceback" not in err


def test_serve_without_certificates_says_how_to_make_them(tmp_path: Path, capsys) -> None:
    code = cli.main(
        ["serve", "--tls-dir", str(tmp_path), "--cluster-state", str(sf.EXAMPLES / "cluster-state")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "opgate certs generate --out" in err


def test_serve_rejects_a_bad_port(tmp_path: Path, capsys) -> None:
    code = cli.main(
        ["serve", "--tls-dir", str(tmp_path), "--port", "70000",
         "--cluster-state", str(sf.EXAMPLES / "cluster-state")]
    )  # fmt: skip
    assert code == 2
    assert "--port must be 0..65535" in capsys.readouterr().err


@pytest.mark.slow
def test_subprocess_serve_with_kubeconfig_is_ready_only_after_sync(tmp_path: Path) -> None:
    """`opgate serve --kubeconfig` lists+watches a real HTTP API; 503 until synced; SIGTERM 0."""
    import http.client

    import kubeapi

    fake = kubeapi.FakeKubeApi(sf.state_objects(), bookmark_every=0.05)
    base = fake.start()
    fake.hold_lists.clear()
    tls = tmp_path / "tls"
    assert cli.main(["certs", "generate", "--out", str(tls), "--localhost"]) == 0
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
        f"clusters: [{{name: t, cluster: {{server: '{base}'}}}}]\n"
        "users: [{name: t, user: {token: abc}}]\n"
        "contexts: [{name: t, context: {cluster: t, user: t}}]\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
    proc = subprocess.Popen(
        [str(OPGATE), "serve", "--tls-dir", str(tls), "--host", "127.0.0.1", "--port", "0",
         "--health-port", "0", "--kubeconfig", str(kubeconfig), "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip

    def readyz(port: int) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/readyz")
            return conn.getresponse().status
        finally:
            conn.close()

    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline().decode()
        match = re.search(r"https://127.0.0.1:(\d+) \(health: http://127.0.0.1:(\d+)\)", banner)
        assert match, banner
        port, health = int(match.group(1)), int(match.group(2))
        assert readyz(health) == 503
        review = sf.review_json(_op(), uid="live-1")
        _, _, body = sf.post(port, tls / "ca.crt", "/validate/operations", review)
        assert orjson.loads(body)["response"]["status"]["code"] == 503
        fake.hold_lists.set()
        sf.eventually(lambda: readyz(health) == 200, "readyz after the initial sync")
        _, _, body = sf.post(port, tls / "ca.crt", "/validate/operations", review)
        assert orjson.loads(body)["response"] == {"uid": "live-1", "allowed": True}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        fake.stop()


def test_serve_with_no_flags_names_every_missing_one(monkeypatch, capsys) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "--cluster-state PATH" in err and "--kubeconfig PATH" in err and "--tls-dir DIR" in err
    assert cli.main(["serve", "--cluster-state", str(sf.EXAMPLES / "cluster-state")]) == 2
    assert "--tls-dir DIR is required" in capsys.readouterr().err


def test_a_stalled_body_is_408_within_the_request_timeout(tls_dir: Path) -> None:
    """A client that stops sending half way gets a 408 once the request's timeout has passed
    and the server keeps answering others."""
    with sf.Running(sf.make_state(), tls_dir) as srv:
        body = orjson.dumps(sf.review_json(_op(), uid="stalled"))
        stalled = Pending(srv.port, tls_dir / "ca.crt", "/validate/operations?timeout=1s", body)
        started = time.monotonic()
        answer = stalled.sock.recv(65536)  # the answer comes before the connection lingers shut
        assert time.monotonic() - started < 8
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b"timeout of 1s" in answer or b"timeout of 1s" in stalled.sock.recv(65536)
        stalled.sock.close()
        status, _, _ = srv.post("/validate/operations", sf.review_json(_op(), uid="next"))
        assert status == 200
