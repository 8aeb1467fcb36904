"""The admission chain over real HTTPS (the opgate server application, TLS checked against
caBundle) decides exactly as the in-process path, and fails the way kube-apiserver does."""

from __future__ import annotations

import copy
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from policies import loader
from sim import admission, callers, errors, store
from tests.sim.conftest import WebhookServer, ca_bundle
from tests.sim.storebuilders import crd, widget
from tests.sim.test_admission import hook, mutating, toy_handle, validating
from webhooks import manifests, metrics, server

REPO = Path(__file__).resolve().parents[2]
POLICY = loader.load_policy(None)
TOY_PATHS = ("/deny", "/warn", "/count", "/mark", "/user", "/slow", "/allow")


@pytest.fixture
def toy_server(webhook_tls: Path) -> Iterator[WebhookServer]:
    """The server application answering with the toy webhooks (its view is unused)."""
    state = server.State(view=None, policy=POLICY, metrics=metrics.Metrics(), decide=toy_handle)  # type: ignore[arg-type]
    running = WebhookServer(state, webhook_tls, TOY_PATHS)
    try:
        yield running
    finally:
        running.stop()


def _cluster(configs: list[dict[str, Any]], caller: Any, bundle: str | None) -> store.Store:
    s = store.Store(seed=11)
    s.create(crd())
    for config in copy.deepcopy(configs):
        for entry in config["webhooks"]:
            if bundle is not None:
                entry["clientConfig"]["caBundle"] = bundle
        s.create(config)
    s.chain = admission.Chain(caller, seed=3)
    return s


def _outcome(s: store.Store, action: Any) -> tuple[str, Any, list[str]]:
    warnings: list[str] = []
    try:
        return "ok", action(s, warnings), warnings
    except errors.ApiError as exc:
        return "refused", exc.status, warnings


ACTIONS = {
    "create": lambda s, w: s.create(widget("a"), warnings=w),
    "dry-run": lambda s, w: s.create(widget("a"), dry_run=True, warnings=w),
    "update": lambda s, w: s.update(s.create(widget("b")) | {"spec": {"n": 1}}, warnings=w),
}
CONFIGS = {
    "deny": [validating("v", hook("deny.example.io", "/deny"))],
    "mutate": [
        mutating(
            "m",
            hook("count.example.io", "/count", reinvocationPolicy="IfNeeded"),
            hook("mark.example.io", "/mark"),
        )
    ],
    "warn": [validating("v", hook("warn.example.io", "/warn"))],
    "user": [validating("v", hook("who.example.io", "/user"))],
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_https_and_in_process_decide_the_same(
    toy_server: WebhookServer, webhook_tls: Path, config: str, action: str
) -> None:
    bundle = ca_bundle(webhook_tls)
    local = _cluster(CONFIGS[config], callers.InProcess(POLICY, handle=toy_handle), bundle)
    remote = _cluster(CONFIGS[config], callers.Https(toy_server.url), bundle)
    assert _outcome(remote, ACTIONS[action]) == _outcome(local, ACTIONS[action])
    assert remote.objects() == local.objects()


def _refusal(s: store.Store) -> dict[str, Any]:
    with pytest.raises(errors.ApiError) as info:
        s.create(widget("a"))
    return info.value.status


def test_untrusted_certificate_fails_closed_or_open(
    toy_server: WebhookServer, tmp_path: Path
) -> None:
    from certs import authority, files

    files.write(tmp_path, authority.generate("opgate-webhook", "vworkspace-system", days=1))
    other = ca_bundle(tmp_path)
    closed = _cluster(
        [validating("v", hook("t.example.io", "/allow"))], callers.Https(toy_server.url), other
    )
    status = _refusal(closed)
    assert status["code"] == 500
    assert status["message"].startswith(
        'Internal error occurred: failed calling webhook "t.example.io": failed to call webhook: '
        'Post "https://opgate-webhook.vworkspace-system.svc:443/allow?timeout=1s": tls: failed to verify certificate'
    )
    opened = _cluster(
        [validating("v", hook("t.example.io", "/allow", failurePolicy="Ignore"))],
        callers.Https(toy_server.url),
        other,
    )
    assert opened.create(widget("a"))["metadata"]["name"] == "a"


def test_unreachable_and_slow_webhooks(toy_server: WebhookServer, webhook_tls: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    down = _cluster(
        [validating("v", hook("d.example.io", "/allow"))],
        callers.Https(f"https://127.0.0.1:{free}"),
        ca_bundle(webhook_tls),
    )
    status = _refusal(down)
    assert status["code"] == 500 and 'failed calling webhook "d.example.io"' in status["message"]
    slow = _cluster(
        [validating("v", hook("s.example.io", "/slow"))],
        callers.Https(toy_server.url),
        ca_bundle(webhook_tls),
    )
    status = _refusal(slow)
    assert status["message"].endswith("context deadline exceeded")


def test_url_client_config_is_verified_for_its_host(
    toy_server: WebhookServer, webhook_tls: Path
) -> None:
    entry = hook("u.example.io", "/deny")
    entry["clientConfig"] = {"url": f"{toy_server.url.replace('127.0.0.1', 'localhost')}/deny"}
    s = _cluster([validating("v", entry)], callers.Https(), ca_bundle(webhook_tls))
    assert (
        _refusal(s)["message"]
        == 'admission webhook "u.example.io" denied the request: Nope: not today'
    )


# --- the policy core with the shipped configurations ------------------------------------------
STATE_DIRS = [
    REPO / "deploy" / "crds",
    REPO / "deploy" / "examples" / "cluster-state",
    REPO / "deploy" / "workflows",
]
BAD = REPO / "deploy" / "examples" / "bad"
needs_deploy = pytest.mark.skipif(
    not all(p.is_dir() for p in [*STATE_DIRS, BAD])
    or not (admission.DEPLOY / admission.CONFIG_FILES[1]).is_file(),
    reason="deploy/ (CRDs, examples, workflows, webhook configurations) is not in this checkout",
)


def _policy_cluster(caller: Any, bundle: str | None) -> store.Store:
    s = store.Store(seed=2)
    s.load(manifests.load([str(p) for p in STATE_DIRS]))
    s.load(admission.load_configurations(ca_bundle=bundle))
    s.chain = admission.Chain(caller, seed=9)
    return s


def _run_examples(s: store.Store) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    docs = [REPO / "deploy" / "examples" / "operation.yaml", *sorted(BAD.glob("*.yaml"))]
    for path in docs:
        for obj in manifests.load([str(path)]):
            for dry_run in (True, False):
                try:
                    out.append((path.name, s.apply(obj, dry_run=dry_run)))
                except errors.ApiError as exc:
                    out.append((path.name, exc.status))
    return out


@needs_deploy
def test_policy_core_over_https_matches_in_process(webhook_tls: Path) -> None:
    bundle = ca_bundle(webhook_tls)
    local = _policy_cluster(callers.InProcess(POLICY), bundle)
    expected = _run_examples(local)
    remote = _policy_cluster(callers.Https("https://127.0.0.1:1"), bundle)
    state = server.State(view=remote.view, policy=POLICY, metrics=metrics.Metrics())
    running = WebhookServer(state, webhook_tls)
    try:
        remote.chain = admission.Chain(callers.Https(running.url), seed=9)
        assert _run_examples(remote) == expected
    finally:
        running.stop()
    assert remote.objects() == local.objects()
    denied = {name: out["message"] for name, out in expected if out.get("kind") == "Status"}
    assert denied["01-unknown-engine.yaml"].startswith(
        'admission webhook "validate-operations.opgate.vworkspace.io" denied the request: UnknownEngine'
    )
    assert "operation.yaml" not in denied
