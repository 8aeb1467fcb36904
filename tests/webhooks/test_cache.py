"""The live view against a real HTTP server speaking list/watch: initial sync, watch events,
410 Gone relists, error backoff, readiness only after sync, and admission reading it live."""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from kubernetes import client

from policies import loader
from webhooks import cache, clusterview, handler, kinds, manifests, metrics, review

sys.path.insert(0, str(Path(__file__).parent))  # helpers beside this file (no conftest)
import kubeapi
import serverfixtures as sf

tls_dir = sf.tls_dir  # a fixture

WFT = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "WorkflowTemplate",
    "metadata": {"name": "custom-migration", "namespace": "org-myteam"},
    "spec": {"entrypoint": "main", "templates": [{"name": "main", "suspend": {}}]},
}


@pytest.fixture
def fake() -> Iterator[kubeapi.FakeKubeApi]:
    api = kubeapi.FakeKubeApi(sf.state_objects(), bookmark_every=0.05)
    api.base = api.start()  # type: ignore[attr-defined]
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def live(fake: kubeapi.FakeKubeApi) -> Iterator[cache.LiveView]:
    cfg = client.Configuration(host=fake.base)  # type: ignore[attr-defined]
    cfg.connection_pool_maxsize = cache.POOL_SIZE
    api = client.ApiClient(cfg)
    view = cache.LiveView(api, metrics_=metrics.Metrics(), watch_seconds=2)
    try:
        yield view
    finally:
        view.stop()
        api.close()


def _names(view: clusterview.ClusterIndex) -> set[tuple[str, str, str, str]]:
    out = set()
    for group, kind in view.kinds():
        for obj in view.list(group, kind):
            out.add((group, kind, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))
    return out


def _expected(objects: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    watched = {k.key for k in kinds.VIEW_KINDS} | {("apps.vworkspace.io", "ApplicationInstance")}
    return {
        (*kinds.key_of(o), o["metadata"].get("namespace", ""), o["metadata"]["name"])
        for o in objects
        if kinds.key_of(o) in watched
    }


def test_initial_sync_fills_the_index_and_target_kinds(fake, live) -> None:
    assert live.synced is False
    live.start()
    sf.eventually(lambda: live.synced, "sync")
    assert _names(live.index) == _expected(sf.state_objects())
    target = live.index.get(
        "apps.vworkspace.io", "ApplicationInstance", "org-myteam", "nextcloud-myteam"
    )
    assert target is not None and target["kind"] == "ApplicationInstance"
    sa = live.index.list("", "ServiceAccount")
    assert sa and all(o["apiVersion"] == "v1" for o in sa)  # list items get apiVersion/kind
    text = live.metrics.exposition().decode()  # type: ignore[union-attr]
    assert "opgate_cache_synced 1.0" in text
    assert 'opgate_cache_syncs_total{kind="WorkflowTemplate"} 1.0' in text


def test_readiness_flips_only_after_sync(fake, live, tls_dir) -> None:
    fake.hold_lists.clear()
    state = sf.make_state(view=live.index, ready=lambda: live.synced)
    with sf.Running(state, tls_dir) as srv:
        live.start()
        time.sleep(0.1)  # the reflectors are now waiting on their first list
        assert live.synced is False
        assert srv.health("/readyz")[0] == 503
        op = manifests.load([sf.EXAMPLES / "operation.yaml"])[0]
        _, _, body = srv.post("/validate/operations", sf.review_json(op))
        assert orjson.loads(body)["response"]["status"]["code"] == 503
        fake.hold_lists.set()
        sf.eventually(lambda: live.synced, "sync")
        assert srv.health("/readyz")[0] == 200
        _, _, body = srv.post("/validate/operations", sf.review_json(op))
        assert orjson.loads(body)["response"]["allowed"] is True


def test_added_workflow_template_becomes_visible_to_admission(fake, live, tls_dir) -> None:
    live.start()
    sf.eventually(lambda: live.synced, "sync")
    op = manifests.load([sf.EXAMPLES / "operation.yaml"])[0]
    op["spec"]["parameters"]["template"] = "custom-migration"
    state = sf.make_state(view=live.index, ready=lambda: live.synced)
    with sf.Running(state, tls_dir) as srv:
        _, _, body = srv.post("/validate/operations", sf.review_json(op))
        assert orjson.loads(body)["response"]["status"]["reason"] == "TemplateNotFound"
        fake.upsert(WFT)
        sf.eventually(
            lambda: live.index.get(
                "argoproj.io", "WorkflowTemplate", "org-myteam", "custom-migration"
            ),
            "the added WorkflowTemplate in the index",
        )
        _, _, body = srv.post("/validate/operations", sf.review_json(op))
        assert orjson.loads(body)["response"]["allowed"] is True
        fake.delete(WFT)
        sf.eventually(
            lambda: live.index.get("argoproj.io", "WorkflowTemplate", "org-myteam", "custom-migration")
            is None,
            "the deleted WorkflowTemplate gone",
        )  # fmt: skip
        assert live.index.workflow_template_namespaces("custom-migration") == []


def test_modified_object_replaces_the_old_one(fake, live) -> None:
    live.start()
    sf.eventually(lambda: live.synced, "sync")
    changed = copy.deepcopy(WFT)
    fake.upsert(changed)
    changed["spec"]["entrypoint"] = "other"
    fake.upsert(changed)
    sf.eventually(
        lambda: (live.index.get("argoproj.io", "WorkflowTemplate", "org-myteam", "custom-migration") or {})
        .get("spec", {}).get("entrypoint") == "other",
        "the MODIFIED event applied",
    )  # fmt: skip


def test_410_gone_triggers_a_relist(fake, live) -> None:
    live.start()
    sf.eventually(lambda: live.synced, "sync")
    fake.upsert(WFT)
    sf.eventually(
        lambda: live.index.get("argoproj.io", "WorkflowTemplate", "org-myteam", "custom-migration"),
        "the WorkflowTemplate",
    )
    # While the watch is down the template is deleted and history is compacted: only a relist
    # can notice.
    fake.delete_silently(WFT)
    fake.compact_and_drop_watches()
    sf.eventually(
        lambda: (
            live.index.get("argoproj.io", "WorkflowTemplate", "org-myteam", "custom-migration")
            is None
        ),
        "the relist dropping the deleted template",
    )
    text = live.metrics.exposition().decode()  # type: ignore[union-attr]
    assert 'opgate_cache_syncs_total{kind="WorkflowTemplate"} 2.0' in text
    assert live.synced is True


def test_list_errors_back_off_and_recover(fake, live) -> None:
    fake.fail_lists["/apis/argoproj.io/v1alpha1/clusterworkflowtemplates"] = 2
    live.start()
    sf.eventually(lambda: live.synced, "sync despite two failed lists")
    text = live.metrics.exposition().decode()  # type: ignore[union-attr]
    assert 'opgate_cache_errors_total{kind="ClusterWorkflowTemplate"} 2.0' in text
    lists = [
        r for r in fake.requests
        if r.startswith("/apis/argoproj.io/v1alpha1/clusterworkflowtemplates") and "watch" not in r
    ]  # fmt: skip
    assert len(lists) == 3


def test_watch_uses_resource_version_and_bookmarks(fake, live) -> None:
    live.start()
    sf.eventually(lambda: live.synced, "sync")
    reflector = live._reflectors[kinds.WORKFLOW_TEMPLATE.key]
    listed = int(reflector.resource_version)
    fake.upsert({**WFT, "metadata": {"name": "other", "namespace": "org-x"}})
    sf.eventually(lambda: int(reflector.resource_version) > listed, "resourceVersion advanced")
    watches = [r for r in fake.requests if "watch=true" in r and "workflowtemplates" in r]
    assert watches and all("allowWatchBookmarks=true" in w for w in watches)
    assert any(f"resourceVersion={listed}" in w for w in watches)
    # Bookmarks move the CRD reflector's resourceVersion although no CRD changed.
    crd = live._reflectors[kinds.CRD.key]
    before = int(crd.resource_version)
    fake.upsert({**WFT, "metadata": {"name": "third", "namespace": "org-x"}})
    sf.eventually(lambda: int(crd.resource_version) > before, "a bookmark moved the CRD reflector")


def test_stop_ends_every_thread(fake, live) -> None:
    live.start()
    sf.eventually(lambda: live.synced, "sync")
    threads = [r._thread for r in live._reflectors.values()]
    live.stop()
    assert not any(t.is_alive() for t in threads)


def test_collection_paths() -> None:
    assert cache.collection_path(kinds.SERVICE_ACCOUNT) == "/api/v1/serviceaccounts"
    assert (
        cache.collection_path(kinds.WORKFLOW_TEMPLATE)
        == "/apis/argoproj.io/v1alpha1/workflowtemplates"
    )


def test_connect_without_credentials_says_what_to_pass(tmp_path, monkeypatch) -> None:
    from webhooks import errors

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(errors.UsageError, match="pass --kubeconfig PATH"):
        cache.connect(str(tmp_path / "missing-kubeconfig"))


def test_relist_never_hides_an_object_that_stays(fake, live) -> None:
    """While a relist replaces a kind, readers keep seeing the objects present before and after."""
    live.start()
    sf.eventually(lambda: live.synced, "sync")
    reflector = live._reflectors[kinds.CLUSTER_WORKFLOW_TEMPLATE.key]
    seen_missing = []
    index = live.index
    original_delete = index.delete

    def watching_delete(obj: dict[str, Any]) -> None:
        original_delete(obj)
        if (
            index.get("argoproj.io", "ClusterWorkflowTemplate", "", "app-migration-with-snapshot")
            is None
        ):
            seen_missing.append(obj["metadata"]["name"])

    index.delete = watching_delete  # type: ignore[method-assign]
    gone = {"apiVersion": "argoproj.io/v1alpha1", "kind": "ClusterWorkflowTemplate",
            "metadata": {"name": "stale-one"}}  # fmt: skip
    index.upsert(gone)
    reflector.list_once()
    assert index.get("argoproj.io", "ClusterWorkflowTemplate", "", "stale-one") is None
    assert index.get("argoproj.io", "ClusterWorkflowTemplate", "", "app-migration-with-snapshot")
    assert seen_missing == []


def test_target_kind_from_crd_or_builtin() -> None:
    view = clusterview.ClusterIndex(sf.state_objects())
    found = cache.target_kind(view, "apps.vworkspace.io/v1alpha1", "ApplicationInstance")
    assert found == kinds.Kind(
        "apps.vworkspace.io", "v1alpha1", "ApplicationInstance", "applicationinstances", True
    )
    assert cache.target_kind(view, "apps/v1", "Deployment") == kinds.Kind(
        "apps", "v1", "Deployment", "deployments", True
    )
    assert cache.target_kind(view, "example.com/v1", "Unknown") is None


def test_a_target_kind_opgate_may_not_list_does_not_hold_readiness(fake, live) -> None:
    """A target kind the webhook has no RBAC for (403) is judged absent instead of keeping
    /readyz at 503, which would fail every Operation and Workflow closed."""
    fake.forbidden.add("/apis/apps.vworkspace.io/v1alpha1/applicationinstances")
    live.start()
    sf.eventually(lambda: live.synced, "sync without the forbidden target kind")
    assert live.index.list("apps.vworkspace.io", "ApplicationInstance") == []
    op = manifests.load([sf.EXAMPLES / "operation.yaml"])[0]
    decision = handler.handle(
        "/validate/operations", review.request_review(op), live.index, loader.load_policy()
    )
    assert decision.reason == "TargetNotFound"


def test_a_target_kind_named_after_sync_is_watched_without_unreadiness(fake, live) -> None:
    live.start()
    sf.eventually(lambda: live.synced, "sync")
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.io"},
        "spec": {
            "group": "example.io",
            "scope": "Namespaced",
            "names": {"kind": "Gadget", "plural": "gadgets"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    gadget = {
        "apiVersion": "example.io/v1",
        "kind": "Gadget",
        "metadata": {"name": "g", "namespace": "org-myteam"},
    }
    template = copy.deepcopy(
        next(o for o in sf.state_objects() if o["kind"] == "OperationTemplate")
    )
    template["metadata"]["name"] = "gadget-runbook"
    template["spec"]["type"] = "Runbook"
    template["spec"]["targetKinds"] = [{"apiVersion": "example.io/v1", "kind": "Gadget"}]
    readiness: list[bool] = []
    for obj in (crd, gadget, template):
        fake.upsert(obj)
        readiness.append(live.synced)
    sf.eventually(
        lambda: live.index.get("example.io", "Gadget", "org-myteam", "g"), "the new target kind"
    )
    assert all(readiness) and live.synced


def test_a_relist_tells_of_changes_no_watch_event_carried(fake, live) -> None:
    """After a watch gap the relist alone may hold a new OperationTemplate: the reflector
    reports it as a change (so its target kinds get watched), the first list does not."""
    changes: list[int] = []
    reflector = cache.Reflector(
        live.api,
        kinds.OPERATION_TEMPLATE,
        clusterview.ClusterIndex(),
        on_change=lambda: changes.append(1),
    )
    reflector.list_once()
    assert changes == [] and reflector.synced.is_set()
    reflector.list_once()
    assert changes == [1]
