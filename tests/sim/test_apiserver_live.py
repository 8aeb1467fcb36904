"""Our own processes run against the fake apiserver unchanged: `opgate serve`'s live cache
(webhooks.cache.LiveView, list+watch through the `kubernetes` client) syncs from it and follows
its writes; kubectl shows admission denials as it does against a real cluster."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from policies import loader
from sim import admission, callers, store
from tests.sim.test_admission import hook, toy_handle, validating
from webhooks import cache, kinds, manifests

Served = tuple[store.Store, str, Path]


def _eventually(check: Callable[[], bool], what: str) -> None:
    """Poll until `check()` holds (bounded: the suite never hangs on a broken watch)."""
    for _ in range(600):
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def _names(index: object, kind: kinds.Kind) -> list[tuple[str, str]]:
    items = index.list(kind.group, kind.kind)  # type: ignore[attr-defined]
    return [(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in items]


REPO = Path(__file__).resolve().parents[2]
STATE = [REPO / "deploy" / "crds", REPO / "deploy" / "examples" / "cluster-state"]


@pytest.mark.skipif(
    not all(p.is_dir() for p in STATE), reason="deploy/crds or the example state is absent"
)
def test_live_cache_syncs_and_follows_the_fake_apiserver(served: Served) -> None:
    sim, _, kubeconfig = served
    sim.load(manifests.load([str(p) for p in STATE]))
    sim.create(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "runner", "namespace": "default"},
        }
    )
    live = cache.LiveView(cache.connect(str(kubeconfig)), watch_seconds=2)
    live.start()
    try:
        _eventually(lambda: live.synced, "the live view synced")
        for kind in kinds.VIEW_KINDS:
            assert _names(live.index, kind) == _names(sim.view, kind)
        assert len(live.index) == len(sim.view)
        sim.create(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "late", "namespace": "default"},
            }
        )
        sim.delete("", "ServiceAccount", "default", "runner")
        _eventually(
            lambda: (
                ("default", "late") in _names(live.index, kinds.SERVICE_ACCOUNT)
                and ("default", "runner") not in _names(live.index, kinds.SERVICE_ACCOUNT)
            ),
            "the live view followed a create and a delete",
        )
    finally:
        live.stop()


KUBECTL = shutil.which("kubectl")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_shows_admission_denials_as_from_a_real_cluster(served: Served) -> None:
    sim, _, kubeconfig = served
    sim.create(validating("v", hook("deny.example.io", "/deny")))
    sim.chain = admission.Chain(callers.InProcess(loader.load_policy(None), handle=toy_handle))
    manifest = "apiVersion: example.io/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 1}\n"
    result = subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(kubeconfig), "apply", "-f", "-"],
        input=manifest,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'Error from server (Nope): error when creating "STDIN": admission webhook '
        '"deny.example.io" denied the request: Nope: not today'
    )
    assert sim.find("example.io", "Widget", "default", "w1") is None
