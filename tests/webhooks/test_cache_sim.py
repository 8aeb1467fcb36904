"""The live view and caBundle injection against the simulator's Kubernetes API facade."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certs import authority, inject
from webhooks import cache, kinds, manifests

sys.path.insert(0, str(Path(__file__).parent))  # helpers beside this file (no conftest)
import serverfixtures as sf

apiserver = pytest.importorskip("sim.apiserver")
store = pytest.importorskip("sim.store")

WFT = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "WorkflowTemplate",
    "metadata": {"name": "from-the-sim", "namespace": "org-myteam"},
    "spec": {"entrypoint": "main", "templates": [{"name": "main", "suspend": {}}]},
}


@pytest.fixture
def sim_api(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    cluster = store.Store(seed=1)
    cluster.load(manifests.load([sf.REPO / "deploy" / "crds"]) + sf.state_objects())
    url, stop = apiserver.serve_in_thread(cluster, bookmark_interval=0.1)
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "kubeconfig", url)
    api = cache.connect(str(kubeconfig))
    try:
        yield cluster, api
    finally:
        api.close()
        stop()


def test_live_view_syncs_and_follows_the_simulator(sim_api) -> None:
    cluster, api = sim_api
    live = cache.LiveView(api, watch_seconds=2)
    try:
        live.start()
        sf.eventually(lambda: live.synced, "sync against the simulator")
        for obj in sf.state_objects():
            key = kinds.key_of(obj)
            if key in {k.key for k in kinds.VIEW_KINDS}:
                ns = obj["metadata"].get("namespace", "")
                assert live.index.get(*key, ns, obj["metadata"]["name"]) is not None, obj
        assert live.index.get(
            "apps.vworkspace.io", "ApplicationInstance", "org-myteam", "nextcloud-myteam"
        )
        cluster.create(WFT)
        sf.eventually(
            lambda: live.index.get("argoproj.io", "WorkflowTemplate", "org-myteam", "from-the-sim"),
            "a WorkflowTemplate created in the simulator",
        )
        cluster.delete("argoproj.io", "WorkflowTemplate", "org-myteam", "from-the-sim")
        sf.eventually(
            lambda: (
                live.index.get("argoproj.io", "WorkflowTemplate", "org-myteam", "from-the-sim")
                is None
            ),
            "the deletion",
        )
    finally:
        live.stop()


def test_inject_ca_into_the_shipped_webhook_configurations(sim_api) -> None:
    cluster, api = sim_api
    configs = manifests.load(
        [sf.REPO / "deploy" / "webhook" / "validatingwebhookconfiguration.yaml",
         sf.REPO / "deploy" / "webhook" / "mutatingwebhookconfiguration.yaml"]
    )  # fmt: skip
    cluster.load(configs)
    pem = authority.generate("opgate-webhook", "vworkspace-system", days=1).ca_crt
    done = inject.inject(api, ["opgate"], pem)
    assert {d.kind for d in done} == {
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        stored = cluster.get("admissionregistration.k8s.io", kind, "", "opgate")
        assert stored["webhooks"]
        for hook in stored["webhooks"]:
            assert base64.b64decode(hook["clientConfig"]["caBundle"]) == pem
