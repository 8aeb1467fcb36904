"""Watches on the fake cluster: event order, resume from a resourceVersion, 410, selectors."""

from __future__ import annotations

import threading

import pytest

from sim import errors, store
from tests.sim.storebuilders import widget

W = ("example.io", "Widget")


def test_watch_from_now_sees_every_change_in_order(cluster: store.Store) -> None:
    watcher = cluster.watch(*W, resource_version=cluster.resource_version)
    obj = cluster.create(widget("a"))
    cluster.patch(*W, "default", "a", {"spec": {"x": 1}})
    cluster.delete(*W, "default", "a")
    events = watcher.drain()
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    rvs = [int(e.object["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3
    assert events[0].object["metadata"]["uid"] == obj["metadata"]["uid"]
    assert rvs[-1] == cluster.resource_version


def test_watch_without_resource_version_starts_with_current_objects(cluster: store.Store) -> None:
    cluster.create(widget("b"))
    cluster.create(widget("a"))
    events = cluster.watch(*W).drain()
    assert [(e.type, e.object["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
    ]


def test_resume_replays_history_and_too_old_is_gone() -> None:
    s = store.Store(history=5)
    start = s.resource_version
    s.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}
    )
    events = s.watch("", "ConfigMap", resource_version=start).drain()
    assert [e.type for e in events] == ["ADDED"]
    for i in range(10):
        s.patch("", "ConfigMap", "default", "c", {"data": {"i": str(i)}})
    with pytest.raises(errors.ApiError) as info:
        s.watch("", "ConfigMap", resource_version=start)
    assert (info.value.code, info.value.reason) == (410, "Expired")
    assert info.value.status["message"].startswith(f"too old resource version: {start} (")
    recent = s.watch("", "ConfigMap", resource_version=s.resource_version - 2).drain()
    assert [e.rv for e in recent] == [s.resource_version - 1, s.resource_version]


def test_label_selector_changes_become_added_and_deleted(cluster: store.Store) -> None:
    watcher = cluster.watch(*W, resource_version=cluster.resource_version, labels="app=x")
    cluster.create(widget("a"))
    cluster.patch(*W, "default", "a", {"metadata": {"labels": {"app": "x"}}})
    cluster.patch(*W, "default", "a", {"spec": {"n": 1}})
    moved = cluster.patch(*W, "default", "a", {"metadata": {"labels": {"app": "y"}}})
    events = watcher.drain()
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    # As kube-apiserver's cacher: the object as the watcher last saw it (still matching the
    # selector), at the resourceVersion of the change that moved it out.
    gone = events[-1].object
    assert gone["metadata"]["labels"] == {"app": "x"} and gone["spec"] == {"n": 1}
    assert gone["metadata"]["resourceVersion"] == moved["metadata"]["resourceVersion"]
    stored = cluster.get(*W, "default", "a")
    assert stored["metadata"]["labels"] == {"app": "y"}  # the store itself is untouched


def test_namespace_filter_and_bookmarks(cluster: store.Store) -> None:
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    watcher = cluster.watch(*W, "other", resource_version=cluster.resource_version, bookmarks=True)
    cluster.create(widget("a"))
    cluster.create(widget("b", namespace="other"))
    cluster.bookmark()
    events = watcher.drain()
    assert [(e.type, e.object["metadata"].get("name")) for e in events] == [
        ("ADDED", "b"),
        ("BOOKMARK", None),
    ]
    assert events[1].object["metadata"]["resourceVersion"] == str(cluster.resource_version)


def test_blocking_next_wakes_on_a_write_from_another_thread(cluster: store.Store) -> None:
    watcher = cluster.watch(*W, resource_version=cluster.resource_version)
    writer = threading.Thread(target=cluster.create, args=(widget("a"),))
    writer.start()
    event = watcher.next(timeout=30)
    writer.join()
    assert event is not None and event.object["metadata"]["name"] == "a"
    watcher.close()
    assert watcher.next(timeout=0.01) is None


def test_watch_of_an_unserved_kind_is_not_found(cluster: store.Store) -> None:
    with pytest.raises(errors.ApiError) as info:
        cluster.watch("example.io", "Nothing")
    assert info.value.code == 404
    with pytest.raises(errors.ApiError) as info:
        cluster.watch(*W, resource_version="abc")
    assert info.value.code == 400


def test_concurrent_writers_are_serialized_without_gaps(cluster: store.Store) -> None:
    start = cluster.resource_version
    watcher = cluster.watch(*W, resource_version=start)

    def writer(i: int) -> None:
        cluster.create(widget(f"w{i}"))
        for n in range(20):
            cluster.patch(*W, "default", f"w{i}", {"spec": {"n": n}})

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rvs = [e.rv for e in watcher.drain()]
    assert rvs == list(range(start + 1, cluster.resource_version + 1))


def test_racing_updates_from_one_snapshot_let_exactly_one_win(cluster: store.Store) -> None:
    snapshot = cluster.create(widget("a"))
    outcomes: list[int] = []
    lock = threading.Lock()

    def racer(n: int) -> None:
        try:
            cluster.update(snapshot | {"spec": {"by": n}})
            code = 200
        except errors.ApiError as exc:
            code = exc.code
        with lock:
            outcomes.append(code)

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [200] + [409] * 7
