"""The fake Argo workflow controller over the simulator's store.

`Controller.sync(now)` advances every unfinished Workflow in the store to `now` with
`engine.advance` and writes the changed ones back as the Argo controller's service account does
(a full update: the Workflow CRD has no status subresource), with Argo's
`workflows.argoproj.io/phase` and `completed` labels. `StoreWorld` lets resource templates and
steps read and create objects in the store; step outcomes come from a callback.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sim import errors as sim_errors
from sim import store as store_mod
from sim.argo import engine, world
from webhooks import kinds, review

Obj = dict[str, Any]

# Who the Argo controller is (argo-workflows' default install: SA `argo` in namespace `argo`).
ARGO_USER = review.UserInfo(
    "system:serviceaccount:argo:argo",
    ("system:serviceaccounts", "system:serviceaccounts:argo", "system:authenticated"),
)
PHASE_LABEL = "workflows.argoproj.io/phase"
COMPLETED_LABEL = "workflows.argoproj.io/completed"


def runner_user(namespace: str, service_account: str) -> review.UserInfo:
    """The identity a workflow's pods act as."""
    return review.UserInfo(
        f"system:serviceaccount:{namespace}:{service_account}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
    )


class StoreWorld:
    """Templates, objects and step outcomes of a simulated cluster for one Workflow."""

    def __init__(
        self,
        store: store_mod.Store,
        outcomes: Callable[[world.StepRef], world.Outcome],
        *,
        user: review.UserInfo = ARGO_USER,
        on_create: Callable[[Obj], None] | None = None,
    ) -> None:
        self.store = store
        self.outcomes = outcomes
        self.user = user
        self.on_create = on_create

    def outcome(self, step: world.StepRef) -> world.Outcome:
        """What the scenario says the step does."""
        return self.outcomes(step)

    def get_object(self, api_version: str, kind: str, namespace: str, name: str) -> Obj | None:
        """The stored object, or None."""
        group = kinds.group_of(api_version)
        if kinds.is_namespaced(group, kind):
            return self.store.find(group, kind, namespace, name)
        return self.store.find(group, kind, "", name)

    def create_object(self, manifest: Obj, *, action: str) -> str | None:
        """Create or apply through the API (admission included); kubectl's error text or None."""
        try:
            if action == "apply":
                created = self.store.apply(manifest, user=self.user)
            else:
                created = self.store.create(manifest, user=self.user)
        except sim_errors.ApiError as exc:
            return f"Error from server ({exc.reason}): {exc}"
        if self.on_create is not None:
            self.on_create(created)
        return None

    def workflow_template(self, namespace: str, name: str) -> Obj | None:
        """A WorkflowTemplate in a namespace."""
        return self.store.find(kinds.ARGO_GROUP, "WorkflowTemplate", namespace, name)

    def cluster_workflow_template(self, name: str) -> Obj | None:
        """A ClusterWorkflowTemplate."""
        return self.store.find(kinds.ARGO_GROUP, "ClusterWorkflowTemplate", "", name)


class Controller:
    """Runs every Workflow of the store, kept current by a watch; `restart` re-lists.

    All progress lives in the Workflows' status, so a restart loses nothing.
    """

    def __init__(
        self,
        store: store_mod.Store,
        outcomes: Callable[[world.StepRef], world.Outcome],
        *,
        on_create: Callable[[Obj], None] | None = None,
    ) -> None:
        self.store = store
        self.outcomes = outcomes
        self.on_create = on_create
        self._active: dict[tuple[str, str], Obj] = {}
        self._due: dict[tuple[str, str], dt.datetime | None] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._written: dict[tuple[str, str], Any] = {}
        self.refused: list[str] = []  # status writes the API refused, for the caller to show
        self._watch = self._start()

    def _start(self) -> Any:
        """List the Workflows, then watch (every kind: the CRD may come later) from there."""
        self._active.clear()
        self._due.clear()
        self._dirty.clear()
        try:
            items, rv = self.store.list(kinds.ARGO_GROUP, "Workflow")
        except sim_errors.ApiError:  # the Workflow CRD is not installed (yet)
            items, rv = [], self.store.resource_version
        for wf in items:
            meta = wf["metadata"]
            if not engine.is_terminal(wf):
                key = (str(meta.get("namespace") or ""), str(meta["name"]))
                self._active[key] = wf
                self._dirty.add(key)
        return self.store.watch(resource_version=rv)

    def restart(self) -> None:
        """Stop watching and start again from a fresh list, as a restarted controller does."""
        self._watch.close()
        self._watch = self._start()

    def world_for(self, workflow: Obj) -> StoreWorld:
        """The world a Workflow's steps act in (as its service account)."""
        meta = workflow.get("metadata") or {}
        sa = str((workflow.get("spec") or {}).get("serviceAccountName") or "default")
        user = runner_user(str(meta.get("namespace") or ""), sa)
        return StoreWorld(self.store, self.outcomes, user=user, on_create=self.on_create)

    def workflows(self) -> list[Obj]:
        """The unfinished Workflows, as last seen (shared objects: do not change them)."""
        for event in self._watch.drain():
            if (event.group, event.kind) != (kinds.ARGO_GROUP, "Workflow"):
                continue
            meta = event.object.get("metadata") or {}
            key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
            if event.type == "DELETED" or engine.is_terminal(event.object):
                self._active.pop(key, None)
                self._due.pop(key, None)
                self._dirty.discard(key)
            elif event.type in ("ADDED", "MODIFIED"):
                self._active[key] = event.object
                if self._written.pop(key, None) != meta.get("resourceVersion"):
                    self._dirty.add(key)  # changed by somebody else (or new)
        return [self._active[k] for k in sorted(self._active)]

    def next_event(self) -> dt.datetime | None:
        """The earliest instant at which some running Workflow changes by itself."""
        self.workflows()
        times = [t for t in self._due.values() if t is not None]
        return min(times) if times else None

    def _schedule(self, key: tuple[str, str], wf: Obj) -> None:
        w = self.world_for(wf)
        if engine.polls(wf, w, w):
            self._dirty.add(key)  # a resource step: look at its object on every sync
        self._due[key] = engine.next_event(wf, w, w)

    def sync(self, now: dt.datetime) -> list[Obj]:
        """Advance the Workflows that changed or are due; returns the Workflows written."""
        written = []
        self.workflows()
        for key in sorted(self._active):
            due = self._due.get(key)
            if key not in self._dirty and (due is None or due > now):
                continue
            self._dirty.discard(key)
            wf = self._active[key]
            w = self.world_for(wf)
            status = engine.advance(wf, w, w, now)
            if status == wf.get("status"):
                self._schedule(key, wf)
                continue
            new = store_mod.normalized(wf)
            new["status"] = status
            labels = new["metadata"].setdefault("labels", {})
            labels[PHASE_LABEL] = str(status.get("phase") or "")
            labels[COMPLETED_LABEL] = "true" if engine.is_terminal(new) else "false"
            try:
                stored = self.store.update(new, user=ARGO_USER)
            except sim_errors.ApiError as exc:
                self._dirty.add(key)  # retry from the newer object on the next sync
                self.refused.append(f"{key[0]}/{key[1]}: {exc}")
                continue
            written.append(stored)
            self._written[key] = stored["metadata"].get("resourceVersion")
            self._active[key] = stored
            self._schedule(key, stored)
        return written
