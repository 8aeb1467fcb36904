"""Fixtures for the simulator tests: a fresh store, and the store served over REST."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from certs import authority, files
from sim import apiserver, store
from tests.sim import storebuilders
from webhooks import server, tlsreload

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cluster() -> store.Store:
    """A fresh store with the Widget CRD installed."""
    s = store.Store(seed=7)
    s.create(storebuilders.crd())
    return s


@pytest.fixture
def served(cluster: store.Store, tmp_path: Path) -> Iterator[tuple[store.Store, str, Path]]:
    """The cluster served on a free 127.0.0.1 port: (store, url, kubeconfig path)."""
    url, stop = apiserver.serve_in_thread(cluster, bookmark_interval=0.2)
    try:
        yield cluster, url, apiserver.write_kubeconfig(tmp_path / "kubeconfig", url)
    finally:
        stop()


class WebhookServer:
    """The real admission application (webhooks.server) over TLS on 127.0.0.1:0, in a thread."""

    def __init__(self, state: Any, tls: Path, paths: tuple[str, ...] = server.PATHS) -> None:
        context = tlsreload.server_context(tls / "tls.crt", tls / "tls.key")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def start() -> int:
            handler = server.admission_server(state, paths)
            self.runner = web.ServerRunner(handler, shutdown_timeout=1.0)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=context)
            await site.start()
            return int(self.runner.addresses[0][1])

        port = asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)
        self.url = f"https://127.0.0.1:{port}"

    def stop(self) -> None:
        """Stop the server and its loop."""
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="session")
def webhook_tls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca.crt, tls.crt, tls.key for the webhook Service names (one per test worker)."""
    out = tmp_path_factory.mktemp("sim-tls")
    bundle = authority.generate("opgate-webhook", "vworkspace-system", days=2, localhost=True)
    files.write(out, bundle)
    return out


def ca_bundle(tls: Path) -> str:
    """The base64 caBundle of a TLS folder's CA, as webhook configurations carry it."""
    return base64.b64encode((tls / "ca.crt").read_bytes()).decode("ascii")
