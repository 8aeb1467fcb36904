"""A hypothesis state machine over the store against a plain-dict model.

Invariants after every step: the store holds exactly the model's objects (spec, labels, status,
owners); resourceVersions strictly increase; a watcher opened at the start has seen every change
in order (replaying its events rebuilds the store); a stale write is always a 409; deleting an
owner removes exactly the dependents the garbage collector would.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule

from sim import errors, store
from tests.sim.storebuilders import crd, widget

W = ("example.io", "Widget")
NAMESPACES = ("default", "team")
names = st.sampled_from([f"w{i}" for i in range(6)])
namespaces = st.sampled_from(NAMESPACES)
labels = st.dictionaries(st.sampled_from(["app", "tier"]), st.sampled_from(["a", "b"]), max_size=2)
specs = st.dictionaries(st.sampled_from(["size", "color"]), st.integers(0, 3), max_size=2)
Key = tuple[str, str]


@dataclasses.dataclass
class Model:
    """What the store should hold for one Widget."""

    spec: dict[str, Any]
    labels: dict[str, str]
    owners: list[Key]
    status: dict[str, Any] | None = None


class StoreMachine(RuleBasedStateMachine):
    snapshots = Bundle("snapshots")

    def __init__(self) -> None:
        super().__init__()
        self.store = store.Store(seed=1, history=100_000)
        self.store.create(crd())
        self.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
        self.model: dict[Key, Model] = {}
        self.watcher = self.store.watch(*W, resource_version=self.store.resource_version)
        self.replayed: dict[Key, dict[str, Any]] = {}
        self.last_rv = self.store.resource_version

    # --- helpers -------------------------------------------------------------------------------
    def _uid(self, key: Key) -> str:
        return str(self.store.find(*W, *key)["metadata"]["uid"])  # type: ignore[index]

    def _refs(self, owners: list[Key]) -> list[dict[str, Any]]:
        return [
            {"apiVersion": "example.io/v1", "kind": "Widget", "name": o[1], "uid": self._uid(o)}
            for o in owners
        ]

    def _wrote(self) -> None:
        rv = self.store.resource_version
        assert rv > self.last_rv, "a successful write must move the resourceVersion forward"
        self.last_rv = rv

    def _gc(self, key: Key, policy: str) -> None:
        del self.model[key]
        for other in sorted(self.model):
            entry = self.model.get(other)
            if entry is None or key not in entry.owners:
                continue
            entry.owners = [o for o in entry.owners if o != key]
            if not entry.owners and policy != "Orphan":
                self._gc(other, "Background")

    # --- rules ---------------------------------------------------------------------------------
    @rule(target=snapshots, ns=namespaces, name=names, spec=specs, lab=labels, data=st.data())
    def create(
        self, ns: str, name: str, spec: dict[str, Any], lab: dict[str, str], data: st.DataObject
    ) -> Any:
        candidates = sorted(k for k in self.model if k[0] == ns)
        owners = (
            data.draw(st.lists(st.sampled_from(candidates), unique=True, max_size=2))
            if candidates
            else []
        )
        obj = widget(name, ns, **spec)
        obj["metadata"]["labels"] = lab
        if owners:
            obj["metadata"]["ownerReferences"] = self._refs(owners)
        try:
            made = self.store.create(obj)
        except errors.ApiError as exc:
            assert (ns, name) in self.model and exc.code == 409 and exc.reason == "AlreadyExists"
            return self.store.get(*W, ns, name)
        assert (ns, name) not in self.model
        self.model[(ns, name)] = Model(dict(spec), dict(lab), owners)
        self._wrote()
        return made

    @precondition(lambda self: self.model)
    @rule(target=snapshots, data=st.data(), spec=specs)
    def update_spec(self, data: st.DataObject, spec: dict[str, Any]) -> Any:
        key = data.draw(st.sampled_from(sorted(self.model)))
        current = self.store.get(*W, *key)
        before = self.store.resource_version
        out = self.store.update(current | {"spec": spec})
        changed = spec != self.model[key].spec
        self.model[key].spec = dict(spec)
        if changed:
            self._wrote()
            assert out["metadata"]["generation"] == current["metadata"]["generation"] + 1
        else:
            assert self.store.resource_version == before
        return out

    @precondition(lambda self: self.model)
    @rule(target=snapshots, data=st.data(), phase=st.sampled_from(["A", "B"]))
    def update_status(self, data: st.DataObject, phase: str) -> Any:
        key = data.draw(st.sampled_from(sorted(self.model)))
        current = self.store.get(*W, *key)
        out = self.store.update_status(
            current | {"status": {"phase": phase}, "spec": {"ignored": 1}}
        )
        assert out["metadata"]["generation"] == current["metadata"]["generation"]
        if self.model[key].status != {"phase": phase}:
            self._wrote()
        self.model[key].status = {"phase": phase}
        return out

    @precondition(lambda self: self.model)
    @rule(data=st.data(), lab=labels)
    def patch_labels(self, data: st.DataObject, lab: dict[str, str]) -> None:
        key = data.draw(st.sampled_from(sorted(self.model)))
        old = self.model[key].labels
        patch = {"metadata": {"labels": {k: lab.get(k) for k in {*old, *lab}}}}
        self.store.patch(*W, *key, patch)
        if lab != old:
            self._wrote()
        self.model[key].labels = dict(lab)

    @rule(snapshot=snapshots, spec=specs)
    def stale_write(self, snapshot: dict[str, Any], spec: dict[str, Any]) -> None:
        meta = snapshot["metadata"]
        key = (meta["namespace"], meta["name"])
        current = self.store.find(*W, *key)
        rv = self.store.resource_version
        try:
            self.store.update(snapshot | {"spec": spec})
        except errors.ApiError as exc:
            if current is None:
                assert exc.code == 404
            else:
                assert current["metadata"]["resourceVersion"] != meta["resourceVersion"]
                assert (exc.code, exc.reason) == (409, "Conflict")
            assert self.store.resource_version == rv
            return
        assert (
            current is not None
            and current["metadata"]["resourceVersion"] == meta["resourceVersion"]
        )
        if spec != self.model[key].spec:
            self._wrote()
        self.model[key].spec = dict(spec)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), policy=st.sampled_from(["Background", "Foreground", "Orphan"]))
    def delete(self, data: st.DataObject, policy: str) -> None:
        key = data.draw(st.sampled_from(sorted(self.model)))
        self.store.delete(*W, *key, propagation=policy)
        self._wrote()
        self._gc(key, policy)

    @rule(ns=namespaces, name=names)
    def delete_missing_is_404(self, ns: str, name: str) -> None:
        if (ns, name) in self.model:
            return
        rv = self.store.resource_version
        try:
            self.store.delete(*W, ns, name)
        except errors.ApiError as exc:
            assert exc.code == 404
        assert self.store.resource_version == rv

    # --- invariants ----------------------------------------------------------------------------
    @invariant()
    def store_matches_model(self) -> None:
        stored = {
            (o["metadata"]["namespace"], o["metadata"]["name"]): o for o in self.store.list(*W)[0]
        }
        assert sorted(stored) == sorted(self.model)
        by_uid = {o["metadata"]["uid"]: k for k, o in stored.items()}
        for key, entry in self.model.items():
            obj = stored[key]
            assert obj["spec"] == entry.spec
            assert obj["metadata"].get("labels", {}) == entry.labels
            assert obj.get("status") == entry.status
            refs = obj["metadata"].get("ownerReferences") or []
            assert sorted(by_uid[r["uid"]] for r in refs) == sorted(entry.owners)
            assert "deletionTimestamp" not in obj["metadata"]

    @invariant()
    def watcher_saw_every_change_in_order(self) -> None:
        events = self.watcher.drain()
        rvs = [e.rv for e in events]
        assert rvs == sorted(set(rvs)), "watch events arrive once each, in resourceVersion order"
        for event in events:
            meta = event.object["metadata"]
            key = (meta["namespace"], meta["name"])
            if event.type == "DELETED":
                assert key in self.replayed
                del self.replayed[key]
            else:
                assert (event.type == "ADDED") == (key not in self.replayed)
                self.replayed[key] = event.object
        current = {
            (o["metadata"]["namespace"], o["metadata"]["name"]): o for o in self.store.list(*W)[0]
        }
        assert self.replayed == current


# Steps per run: enough for owner chains and stale snapshots; "deep" explores longer histories.
STEPS = 100 if os.environ.get("OPGATE_HYPOTHESIS") == "deep" else 30
TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = settings(stateful_step_count=STEPS)
