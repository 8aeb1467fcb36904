"""Deletion in the fake cluster: finalizers, ownerReference GC, namespaces."""

from __future__ import annotations

from typing import Any

import pytest

from sim import errors, store
from tests.sim.storebuilders import widget

W = ("example.io", "Widget")


def _owned(name: str, *owners: dict[str, Any], block: bool = False) -> dict[str, Any]:
    obj = widget(name)
    obj["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "example.io/v1",
            "kind": "Widget",
            "name": o["metadata"]["name"],
            "uid": o["metadata"]["uid"],
            **({"blockOwnerDeletion": True} if block else {}),
        }
        for o in owners
    ]
    return obj


def _names(s: store.Store) -> list[str]:
    return [o["metadata"]["name"] for o in s.list(*W)[0]]


def test_background_deletion_removes_dependents_recursively(cluster: store.Store) -> None:
    owner = cluster.create(widget("owner"))
    child = cluster.create(_owned("child", owner))
    cluster.create(_owned("grandchild", child))
    cluster.create(widget("bystander"))
    gone = cluster.delete(*W, "default", "owner")
    assert gone["metadata"]["name"] == "owner"
    assert _names(cluster) == ["bystander"]


def test_dependent_with_a_live_owner_only_loses_the_reference(cluster: store.Store) -> None:
    first, second = cluster.create(widget("first")), cluster.create(widget("second"))
    cluster.create(_owned("shared", first, second))
    cluster.delete(*W, "default", "first")
    shared = cluster.get(*W, "default", "shared")
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["second"]
    cluster.delete(*W, "default", "second")
    assert _names(cluster) == []


def test_orphan_keeps_dependents_without_the_reference(cluster: store.Store) -> None:
    owner = cluster.create(widget("owner"))
    cluster.create(_owned("child", owner))
    cluster.delete(*W, "default", "owner", propagation="Orphan")
    assert _names(cluster) == ["child"]
    assert "ownerReferences" not in cluster.get(*W, "default", "child")["metadata"]


def test_foreground_waits_for_blocking_dependents(cluster: store.Store) -> None:
    owner = cluster.create(widget("owner"))
    child = _owned("child", owner, block=True)
    child["metadata"]["finalizers"] = ["example.io/hold"]
    cluster.create(child)
    marked = cluster.delete(*W, "default", "owner", propagation="Foreground")
    assert marked["metadata"]["deletionTimestamp"]
    assert "foregroundDeletion" in marked["metadata"]["finalizers"]
    assert _names(cluster) == ["child", "owner"]
    held = cluster.get(*W, "default", "child")
    assert held["metadata"]["deletionTimestamp"]
    held["metadata"]["finalizers"] = []
    cluster.update(held)
    assert _names(cluster) == []


def test_foreground_without_dependents_deletes_at_once(cluster: store.Store) -> None:
    cluster.create(widget("lonely"))
    watcher = cluster.watch(*W, resource_version=cluster.resource_version)
    cluster.delete(*W, "default", "lonely", propagation="Foreground")
    assert [e.type for e in watcher.drain()] == ["MODIFIED", "DELETED"]
    assert _names(cluster) == []


def test_finalizers_hold_an_object_until_removed(cluster: store.Store) -> None:
    obj = widget("held")
    obj["metadata"]["finalizers"] = ["example.io/hold"]
    cluster.create(obj)
    marked = cluster.delete(*W, "default", "held")
    assert marked["metadata"]["deletionTimestamp"] == "2026-01-01T00:00:00Z"
    marked["metadata"]["finalizers"].append("example.io/another")
    with pytest.raises(errors.ApiError) as info:
        cluster.update(marked)
    assert info.value.code == 422
    assert "no new finalizers can be added" in info.value.status["message"]
    cluster.patch(*W, "default", "held", {"metadata": {"finalizers": None}})
    assert _names(cluster) == []


def test_delete_preconditions_and_unknown_policy(cluster: store.Store) -> None:
    obj = cluster.create(widget("a"))
    with pytest.raises(errors.ApiError) as info:
        cluster.delete(*W, "default", "a", preconditions={"uid": "other"})
    assert info.value.code == 409
    assert "Precondition failed: UID in precondition: other" in info.value.status["message"]
    with pytest.raises(errors.ApiError) as info:
        cluster.delete(*W, "default", "a", propagation="Sideways")
    assert info.value.code == 422
    with pytest.raises(errors.ApiError) as info:
        cluster.delete(*W, "default", "missing")
    assert info.value.code == 404
    cluster.delete(*W, "default", "a", preconditions={"uid": obj["metadata"]["uid"]}, dry_run=True)
    assert _names(cluster) == ["a"]


def test_deleting_a_namespace_deletes_its_objects(cluster: store.Store) -> None:
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    cluster.create(widget("inside", namespace="team"))
    cluster.create(widget("outside"))
    cluster.delete("", "Namespace", "", "team")
    assert _names(cluster) == ["outside"]
    assert cluster.find("", "Namespace", "", "team") is None


def test_terminating_namespace_refuses_new_objects(cluster: store.Store) -> None:
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    held = widget("held", namespace="team")
    held["metadata"]["finalizers"] = ["example.io/hold"]
    cluster.create(held)
    ns = cluster.delete("", "Namespace", "", "team")
    assert ns["status"]["phase"] == "Terminating"
    with pytest.raises(errors.ApiError) as info:
        cluster.create(widget("late", namespace="team"))
    assert (info.value.code, info.value.reason) == (403, "Forbidden")
    assert info.value.status["message"] == (
        'widgets.example.io "late" is forbidden: unable to create new content in namespace team '
        "because it is being terminated"
    )
    cluster.patch(*W, "team", "held", {"metadata": {"finalizers": []}})
    assert cluster.find("", "Namespace", "", "team") is None


def test_namespaces_carry_the_name_label(cluster: store.Store) -> None:
    ns = cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    assert ns["status"] == {"phase": "Active"}


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
def test_system_namespaces_may_not_be_deleted(cluster: store.Store, name: str) -> None:
    with pytest.raises(errors.ApiError) as info:
        cluster.delete("", "Namespace", "", name)
    assert (info.value.code, info.value.status["message"]) == (
        403,
        f'namespaces "{name}" is forbidden: this namespace may not be deleted',
    )
