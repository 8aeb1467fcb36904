"""List+watch through the real client against the simulator: resume after the server ends a
watch, 410 Gone for a too-old resourceVersion, relist after Gone."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from reconciler import errors, informer, kube
from webhooks import kinds, manifests

REPO = Path(__file__).resolve().parents[2]


def operation(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "ops.vworkspace.io/v1alpha1",
        "kind": "Operation",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "targetRef": {"apiVersion": "v1", "kind": "ConfigMap", "name": "x"},
            "type": "Runbook",
            "engine": "job",
        },
    }


@pytest.fixture
def small_history(tmp_path: Path):
    """A simulator that keeps only 3 watch events (so old resourceVersions expire)."""
    apiserver = pytest.importorskip("sim.apiserver", reason="the simulator (sim/) is not present")
    from sim import store as sim_store

    cluster = sim_store.Store(seed=1, history=3)
    cluster.load(manifests.load([REPO / "deploy" / "crds"]))
    url, stop = apiserver.serve_in_thread(cluster)
    api = kube.Api(kube.api_client(str(apiserver.write_kubeconfig(tmp_path / "kc", url))))
    yield cluster, api
    api.close()
    stop()


class GoneOnce(kube.Api):
    """The first watch answers 410 Gone, as after an etcd compaction."""

    def __init__(self, inner: kube.Api) -> None:
        super().__init__(inner.client)
        self.gone = 1

    def watch(self, *args: Any, **kwargs: Any) -> Any:
        if self.gone:
            self.gone -= 1
            raise errors.Gone(410, "Expired", "too old resource version")
        return super().watch(*args, **kwargs)


def run_informer(api: kube.Api, seen: list[tuple[str, str]]) -> tuple[informer.Informer, Any]:
    inf = informer.Informer(
        api,
        kinds.OPERATION,
        lambda t, o: seen.append((t, o["metadata"]["name"])),
        timeout_seconds=5,
    )
    stop = threading.Event()
    thread = threading.Thread(target=inf.run, args=(stop,), daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        while thread.is_alive():
            api.stop_watches()
            thread.join(0.05)

    return inf, halt


def test_resumes_after_the_server_ends_the_watch(small_history, wait) -> None:
    cluster, api = small_history
    cluster.create(operation("before"))
    seen: list[tuple[str, str]] = []
    inf, halt = run_informer(api, seen)
    try:
        wait("the list", inf.synced.is_set)
        assert ("LISTED", "before") in seen
        cluster.create(operation("one"))
        wait("ADDED one", lambda: ("ADDED", "one") in seen)
        cluster.close_watches()  # the apiserver ends every watch (a restart, a timeout)
        cluster.create(operation("two"))
        wait("ADDED two", lambda: ("ADDED", "two") in seen)
        cluster.delete("ops.vworkspace.io", "Operation", "default", "one")
        wait("DELETED one", lambda: ("DELETED", "one") in seen)
    finally:
        halt()


def test_too_old_resource_version_is_gone(small_history) -> None:
    cluster, api = small_history
    _, rv = api.list(kinds.OPERATION)
    for i in range(6):
        cluster.create(operation(f"op-{i}"))
    with pytest.raises(errors.Gone):
        list(api.watch(kinds.OPERATION, None, rv, timeout_seconds=2))


def test_gone_lists_again(small_history, wait) -> None:
    cluster, api = small_history
    cluster.create(operation("before"))
    seen: list[tuple[str, str]] = []
    flaky = GoneOnce(api)
    inf, halt = run_informer(flaky, seen)
    try:
        wait("a second list", lambda: inf.relists >= 2)
        cluster.create(operation("after"))
        wait("ADDED after", lambda: ("ADDED", "after") in seen)
        assert seen.count(("LISTED", "before")) == 2
    finally:
        halt()


class ErrorEvents:
    """An API whose watch answers with one ERROR Status event of the given code."""

    def __init__(self, code: int) -> None:
        self.code = code

    def list(self, *args: Any, **kwargs: Any) -> tuple[list[dict[str, Any]], str]:
        return [], "7"

    def watch(self, *args: Any, **kwargs: Any) -> Any:
        yield "ERROR", {"kind": "Status", "code": self.code, "reason": "X", "message": "m"}


@pytest.mark.parametrize(("code", "gone"), [(410, True), (500, False), (403, False)])
def test_only_a_410_error_event_is_gone(code: int, gone: bool) -> None:
    """410 makes the loop list again at once; any other ERROR event is a failure that backs
    off (relisting at once on a 500 would hammer a struggling apiserver)."""
    inf = informer.Informer(ErrorEvents(code), kinds.OPERATION, lambda *a: None)  # type: ignore[arg-type]
    inf.list_once()
    with pytest.raises(errors.ApiError) as info:
        inf.watch_once()
    assert isinstance(info.value, errors.Gone) is gone
    assert info.value.code == code
