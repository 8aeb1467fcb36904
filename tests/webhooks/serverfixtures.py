"""Shared helpers for the server tests: TLS material, an in-thread server, HTTPS clients.

Imported by `test_server*.py` (the folder's conftest.py belongs to the policy-core tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import http.client
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from certs import authority, files
from policies import loader, model
from tests.webhooks import builders
from webhooks import clusterview, metrics, server, tlsreload

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "deploy" / "examples"


def state_objects() -> list[dict[str, Any]]:
    """The example cluster state and the shipped WorkflowTemplate library."""
    return builders.example_objects()


def eventually(check: Callable[[], Any], what: str, attempts: int = 1000) -> Any:
    """Poll `check` (every 10 ms, bounded) until it is truthy; its value."""
    for _ in range(attempts):
        value = check()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def review_json(
    obj: dict[str, Any] | None,
    *,
    operation: str = "CREATE",
    old: dict[str, Any] | None = None,
    uid: str = "2f7a1c1e-0000-4000-8000-000000000001",
    username: str = "alice@example.com",
    dry_run: bool = False,
) -> dict[str, Any]:
    """An AdmissionReview v1 request as kube-apiserver sends it for a manifest."""
    src = obj if obj is not None else old or {}
    api_version = str(src.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    meta = src.get("metadata") or {}
    plural = str(src.get("kind", "")).lower() + "s"
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": group, "version": version, "kind": src.get("kind", "")},
            "resource": {"group": group, "version": version, "resource": plural},
            "requestKind": {"group": group, "version": version, "kind": src.get("kind", "")},
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "operation": operation,
            "userInfo": {"username": username, "groups": ["system:authenticated"]},
            "object": obj,
            "oldObject": old,
            "dryRun": dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


@pytest.fixture(scope="session")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca.crt, ca.key, tls.crt, tls.key for localhost/127.0.0.1 (one per test worker)."""
    out = tmp_path_factory.mktemp("tls")
    files.write(out, authority.generate("opgate", "test", days=2, localhost=True), ca_key=True)
    return out


def client_context(ca: Path) -> ssl.SSLContext:
    """A client context trusting only the generated CA (hostname checked)."""
    return ssl.create_default_context(cafile=str(ca))


class Running:
    """A `server.Server` on 127.0.0.1 (ports 0) in its own thread and event loop."""

    def __init__(self, state: server.State, tls: Path, *, grace: float = 5.0) -> None:
        self.state = state
        self.tls = tls
        self.ssl_context = tlsreload.server_context(tls / "tls.crt", tls / "tls.key")
        self.server = server.Server(
            state, self.ssl_context, host="127.0.0.1", port=0, health_port=0, grace=grace
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        self.call(self.server.start())
        self.port, self.health_port = self.server.ports
        return self

    def call(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        """Drain and stop the server (idempotent)."""
        if self.loop.is_closed():
            return
        with contextlib.suppress(Exception):
            self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def post(
        self, path: str, body: bytes | dict[str, Any], **kw: Any
    ) -> tuple[int, dict[str, str], bytes]:
        """POST over HTTPS on a new connection; (status, headers, body)."""
        return post(self.port, self.tls / "ca.crt", path, body, **kw)

    def health(self, path: str) -> tuple[int, bytes]:
        """GET on the plain-HTTP health port."""
        conn = http.client.HTTPConnection("127.0.0.1", self.health_port, timeout=10)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()


def post(
    port: int,
    ca: Path,
    path: str,
    body: bytes | dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    conn: http.client.HTTPSConnection | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """POST a body (a dict is JSON-encoded) and read the whole response."""
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    own = conn is None
    if conn is None:
        conn = http.client.HTTPSConnection(
            "127.0.0.1", port, context=client_context(ca), timeout=20
        )
    try:
        conn.request(
            "POST", path, body=data, headers={"Content-Type": "application/json", **(headers or {})}
        )
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        if own:
            conn.close()


def make_state(
    objects: list[dict[str, Any]] | None = None,
    *,
    policy: model.Policy | None = None,
    view: Any = None,
    **kw: Any,
) -> server.State:
    """Server state over the example cluster (or the given objects) with fresh metrics."""
    if view is None:
        view = clusterview.ClusterIndex(copy.deepcopy(objects if objects else state_objects()))
    return server.State(
        view=view,
        policy=policy if policy is not None else loader.load_policy(),
        metrics=metrics.Metrics(),
        **kw,
    )


@pytest.fixture
def running(tls_dir: Path) -> Iterator[Running]:
    """A server on the example cluster state."""
    with Running(make_state(), tls_dir) as srv:
        yield srv
