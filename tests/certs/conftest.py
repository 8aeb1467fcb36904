"""Fixtures for the certs tests: a small real Kubernetes admissionregistration API server."""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Iterator
from typing import Any

import jsonpatch
import pytest
from aiohttp import web
from kubernetes import client

ADMREG = "/apis/admissionregistration.k8s.io/v1"
PLURALS = {
    "validatingwebhookconfigurations": "ValidatingWebhookConfiguration",
    "mutatingwebhookconfigurations": "MutatingWebhookConfiguration",
}


def webhook_config(kind: str, name: str, hooks: list[str]) -> dict[str, Any]:
    """A webhook configuration as kube-apiserver returns it (no caBundle yet)."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name, "resourceVersion": "1"},
        "webhooks": [
            {
                "name": hook,
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "clientConfig": {
                    "service": {"name": "opgate", "namespace": "vworkspace-system", "path": "/x"}
                },
            }
            for hook in hooks
        ],
    }


class FakeAdmissionApi:
    """GET and JSON-patch PATCH of webhook configurations, as kube-apiserver serves them."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.patches: list[tuple[str, str, str, Any]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(ADMREG + "/{plural}/{name}", self.get)
        app.router.add_patch(ADMREG + "/{plural}/{name}", self.patch)
        return app

    def _key(self, request: web.Request) -> tuple[str, str]:
        return (PLURALS.get(request.match_info["plural"], "?"), request.match_info["name"])

    def _not_found(self, key: tuple[str, str]) -> web.Response:
        return web.json_response(
            {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404,
             "reason": "NotFound", "message": f"{key[0]} {key[1]} not found"},
            status=404,
        )  # fmt: skip

    async def get(self, request: web.Request) -> web.Response:
        key = self._key(request)
        if key not in self.objects:
            return self._not_found(key)
        return web.json_response(self.objects[key])

    async def patch(self, request: web.Request) -> web.Response:
        key = self._key(request)
        if key not in self.objects:
            return self._not_found(key)
        body = await request.json()
        self.patches.append((*key, request.content_type, body))
        if request.content_type != "application/json-patch+json":
            return web.json_response({"code": 415, "kind": "Status"}, status=415)
        try:
            new = jsonpatch.apply_patch(copy.deepcopy(self.objects[key]), body)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            return web.json_response(
                {"kind": "Status", "code": 422, "reason": "Invalid", "message": str(exc)},
                status=422,
            )
        self.objects[key] = new
        return web.json_response(new)


@pytest.fixture
def admission_api() -> Iterator[tuple[FakeAdmissionApi, client.ApiClient]]:
    """A fake admissionregistration API on 127.0.0.1 (own thread and loop) and a client for it."""
    fake = FakeAdmissionApi()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(fake.app())
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    cfg = client.Configuration(host=f"http://127.0.0.1:{port}")
    api = client.ApiClient(cfg)
    try:
        yield fake, api
    finally:
        api.close()
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@pytest.fixture
def make_webhook_config() -> Any:
    """The `webhook_config(kind, name, hooks)` builder."""
    return webhook_config
