"""The controller: watch Operations and managed Workflows, reconcile each key through `plan`.

I/O happens here and in `kube`; every decision is `plan.plan`. Each reconcile reads the Operation
and the Workflow of the same name fresh from the API (the watches only say *which* key changed),
so a stale cache can never make it create a second Workflow or map an old status; creation is
idempotent by name (409 AlreadyExists -> adopt or NameConflict); status goes through the status
subresource with the read resourceVersion as precondition, re-read and retried on 409.

Usage::

    ctl = controller.Controller(kube.Api(kube.api_client(path)), policy, controller.Settings())
    ctl.start()   # informers, workers, leader election in daemon threads
    ...
    ctl.stop()

or `ctl.resync(); ctl.drain()` to reconcile synchronously (tests, one-shot runs).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from policies import model
from reconciler import (
    errors,
    events,
    informer,
    kube,
    leader,
    materialize,
    plan,
    status,
    workqueue,
)
from webhooks import clusterview, kinds, resolve

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name) of an Operation
LOG = logging.getLogger(__name__)
# Re-reads after a 409 Conflict within one reconcile before the key goes back to the queue.
CONFLICT_RETRIES = 5


def default_identity() -> str:
    """hostname_pid_random: unique per process, readable in `kubectl get lease -o yaml`."""
    return f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """How the controller runs; the defaults are those of `opgate reconcile`."""

    namespace: str | None = None
    workers: int = 2
    leader_elect: bool = True
    lease_namespace: str = "vworkspace-system"
    lease_name: str = "opgate-reconciler"
    identity: str = dataclasses.field(default_factory=default_identity)
    watch_timeout: int = 300
    timing: leader.Timing = dataclasses.field(default_factory=leader.Timing)


@dataclasses.dataclass
class Stats:
    """Counters of what the controller did (for tests, logs and metrics)."""

    reconciles: int = 0
    created: int = 0
    adopted: int = 0
    status_writes: int = 0
    conflicts: int = 0
    events: int = 0
    failures: int = 0


def key_of(obj: Obj) -> Key:
    """The Operation key of an Operation, or of a managed Workflow (same namespace and name)."""
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


class Controller:
    """Reconciles Operations of engine `workflow` into Argo Workflows and back."""

    def __init__(
        self,
        api: kube.Api,
        policy: model.Policy,
        settings: Settings = Settings(),
        *,
        clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
    ) -> None:
        self.api = api
        self.policy = policy
        self.settings = settings
        self.clock = clock
        self.queue = workqueue.WorkQueue()
        self.stats = Stats()
        # The last refusal reported per Operation: a retried refusal is one Event, not many.
        self._refusals: dict[Key, str] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.elector = (
            leader.LeaderElector(
                api,
                settings.lease_namespace,
                settings.lease_name,
                settings.identity,
                timing=settings.timing,
            )
            if settings.leader_elect
            else None
        )
        self.informers = [
            informer.Informer(
                api,
                kinds.OPERATION,
                self._on_object,
                namespace=settings.namespace,
                timeout_seconds=settings.watch_timeout,
            ),
            informer.Informer(
                api,
                kinds.WORKFLOW,
                self._on_object,
                namespace=settings.namespace,
                label_selector=f"{materialize.MANAGED_BY_LABEL}={policy.managed_by}",
                timeout_seconds=settings.watch_timeout,
            ),
        ]

    # --- one key -------------------------------------------------------------------------------
    def templates(self, operation: Obj) -> plan.Templates:
        """The Operation's OperationTemplate and (Cluster)WorkflowTemplate, read from the API
        into a `ClusterIndex` and resolved by `webhooks.resolve` as admission resolves them."""
        spec = operation.get("spec") or {}
        namespace = key_of(operation)[0]
        found, _ = self.api.list(kinds.OPERATION_TEMPLATE)
        view = clusterview.ClusterIndex(found)
        optemplate = resolve.operation_template(
            view, str(spec.get("type", "")), str(spec.get("engine", ""))
        )
        if optemplate is None:
            return plan.Templates(None, None)
        name = plan.template_name(operation, optemplate)
        if not name:
            return plan.Templates(optemplate, None)
        for kind, ns in (
            (kinds.WORKFLOW_TEMPLATE, namespace),
            (kinds.CLUSTER_WORKFLOW_TEMPLATE, ""),
        ):
            obj = self.api.get(kind, ns, name)
            if obj is not None:
                view.upsert(obj)
        return plan.Templates(
            optemplate, resolve.workflow_template(view, optemplate, namespace, name)
        )

    def _emit(self, operation: Obj, found: tuple[plan.Event, ...], now: datetime.datetime) -> None:
        for event in found:
            body = events.event_body(operation, event, now, instance=self.settings.identity)
            try:
                self.api.create_event(key_of(operation)[0], body)
                self.stats.events += 1
            except errors.ApiError as exc:  # Events are best effort, as in client-go
                LOG.info("event %s on %s not recorded: %s", event.reason, key_of(operation), exc)

    def _refused(self, operation: Obj, key: Key, message: str, now: datetime.datetime) -> None:
        """Report a refused creation once per distinct message, and show the Operation as
        Pending (not yet observed) when it has no status yet."""
        if self._refusals.get(key) != message:
            self._refusals[key] = message
            refused = plan.Event(plan.WARNING, "WorkflowCreateFailed", message)
            self._emit(operation, (refused,), now)
        if operation.get("status"):
            return
        body = dict(operation, status=status.operation_status(operation, None, now))
        try:
            self.api.replace_status(kinds.OPERATION, key[0], key[1], body)
            self.stats.status_writes += 1
        except errors.ApiError:  # best effort: the retry writes it next time
            pass

    def reconcile(self, key: Key) -> None:
        """Bring one Operation's Workflow and status up to date; raises on API failures (the
        caller retries the key with backoff)."""
        namespace, name = key
        self.stats.reconciles += 1
        for _ in range(CONFLICT_RETRIES):
            operation = self.api.get(kinds.OPERATION, namespace, name)
            if operation is None:
                self._refusals.pop(key, None)  # a new Operation of this name warns afresh
                return  # deleted: its Workflow goes with it through the ownerReference
            if not plan.managed(operation) or status.is_terminal(operation):
                self._refusals.pop(key, None)
                return  # another engine's, being deleted, or final: nothing to read or write
            workflow = self.api.get(kinds.WORKFLOW, namespace, name)
            now = self.clock()
            step = plan.plan(operation, workflow, policy=self.policy, now=now)
            if step.needs_templates:
                step = plan.plan(
                    operation,
                    workflow,
                    policy=self.policy,
                    now=now,
                    templates=self.templates(operation),
                )
            if step.create is not None:
                try:
                    workflow = self.api.create(kinds.WORKFLOW, namespace, step.create)
                    self.stats.created += 1
                    self._refusals.pop(key, None)
                    self._emit(operation, step.events, now)
                except errors.AlreadyExists:
                    workflow = self.api.get(kinds.WORKFLOW, namespace, name)
                    if workflow is None:
                        continue  # deleted again meanwhile: decide afresh
                    self._refusals.pop(key, None)
                    self.stats.adopted += 1
                except errors.ApiError as exc:  # denied by admission, invalid, server trouble
                    self._refused(operation, key, f"creating Workflow {name}: {exc}", now)
                    raise  # retried with backoff; the Operation is Pending meanwhile
                step = plan.plan(operation, workflow, policy=self.policy, now=now)
            if step.status is None:
                self._emit(operation, step.events, now)
                return
            body = dict(operation)
            body["status"] = step.status
            try:
                written = self.api.replace_status(kinds.OPERATION, namespace, name, body)
            except errors.Conflict:
                self.stats.conflicts += 1
                continue
            self.stats.status_writes += 1
            self._emit(written, step.events, now)
            return
        raise errors.Conflict(409, "Conflict", f"Operation {namespace}/{name} kept changing")

    # --- the queue -----------------------------------------------------------------------------
    def _on_object(self, _type: str, obj: Obj) -> None:
        key = key_of(obj)
        if key[1]:
            self.queue.add(key)

    def resync(self) -> int:
        """Queue every Operation (as a relist does); returns how many."""
        items, _ = self.api.list(kinds.OPERATION, self.settings.namespace)
        for item in items:
            self.queue.add(key_of(item))
        return len(items)

    def process_one(self, timeout: float | None = 0.0) -> bool:
        """Reconcile the next queued key; False when none came within `timeout`."""
        key = self.queue.get(timeout=timeout)
        if key is None:
            return False
        try:
            if self.elector is not None and self._threads and not self.elector.leading.is_set():
                return True  # not leading: the new leader resyncs every key
            self.reconcile(key)  # type: ignore[arg-type]
            self.queue.forget(key)
        except Exception as exc:
            self.stats.failures += 1
            delay = self.queue.retry(key)
            LOG.warning("reconcile %s failed (retry in %.2fs): %s", key, delay, exc)
        finally:
            self.queue.done(key)
        return True

    def drain(self, max_steps: int = 10_000) -> int:
        """Reconcile queued keys synchronously until none is ready; returns how many."""
        done = 0
        while done < max_steps and self.process_one(timeout=0.0):
            done += 1
        return done

    # --- running -------------------------------------------------------------------------------
    def _worker(self) -> None:
        while not self._stop.is_set():
            self.process_one(timeout=0.5)

    def _spawn(self, target: Callable[..., None], *args: Any, name: str) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def start(self) -> None:
        """Run informers, workers and (when enabled) leader election in daemon threads."""
        self._stop.clear()
        for each in self.informers:
            self._spawn(each.run, self._stop, name=f"informer-{each.kind.plural}")
        for index in range(max(1, self.settings.workers)):
            self._spawn(self._worker, name=f"worker-{index}")
        if self.elector is not None:
            self._spawn(
                self.elector.run,
                self._stop,
                self._on_started_leading,
                lambda: LOG.info("%s stopped leading", self.settings.identity),
                name="leader-election",
            )

    def _on_started_leading(self) -> None:
        LOG.info("%s started leading", self.settings.identity)
        try:
            self.resync()
        except errors.ApiError as exc:
            LOG.warning("resync after acquiring the lease failed: %s", exc)

    def synced(self) -> bool:
        """Whether every informer has listed once."""
        return all(each.synced.is_set() for each in self.informers)

    def dead_threads(self) -> list[str]:
        """Names of the controller's threads that died while it runs (empty when healthy):
        a liveness probe restarts a controller that can no longer do its work."""
        if self._stop.is_set():
            return []
        return [thread.name for thread in self._threads if not thread.is_alive()]

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every thread (releasing the Lease) and wait for them; a stopped controller is
        not started again (a restart is a new Controller)."""
        self._stop.set()
        self.queue.shut_down()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            while thread.is_alive() and time.monotonic() < deadline:
                self.api.stop_watches()  # again: a watch may have opened after the last call
                thread.join(0.05)
        self._threads = []
