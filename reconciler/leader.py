"""Leader election through a coordination.k8s.io/v1 Lease, as client-go's leaderelection does.

Only the replica holding the Lease reconciles. The holder renews it every `retry_period`; the
others take it over once its record has not changed for `lease_duration` seconds of *their own*
clock (so clock skew between replicas does not matter). A holder that cannot renew within
`renew_deadline` stops leading; a holder that stops releases the Lease so another takes over at
once.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from reconciler import errors, kube
from webhooks import kinds

Obj = dict[str, Any]
LOG = logging.getLogger(__name__)
# The Lease kind (webhooks.kinds lists only what admission reads).
LEASE = kinds.Kind("coordination.k8s.io", "v1", "Lease", "leases", True)
# client-go's defaults for controllers (kube-controller-manager): 15 s lease, renew within
# 10 s, retry every 2 s.
LEASE_DURATION = 15
RENEW_DEADLINE = 10.0
RETRY_PERIOD = 2.0


def micro_time(moment: datetime.datetime) -> str:
    """A metav1.MicroTime string."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclasses.dataclass(frozen=True, slots=True)
class Timing:
    """Lease timing, in seconds."""

    lease_duration: int = LEASE_DURATION
    renew_deadline: float = RENEW_DEADLINE
    retry_period: float = RETRY_PERIOD


def lease_body(
    namespace: str, name: str, identity: str, now: datetime.datetime, duration: int, old: Obj | None
) -> Obj:
    """The Lease naming `identity` as holder, renewed now (acquired now when it was not ours)."""
    spec = dict((old or {}).get("spec") or {})
    ours = spec.get("holderIdentity") == identity
    transitions = int(spec.get("leaseTransitions") or 0)
    spec.update(
        {
            "holderIdentity": identity,
            "leaseDurationSeconds": duration,
            "renewTime": micro_time(now),
            "acquireTime": spec.get("acquireTime") if ours else micro_time(now),
            "leaseTransitions": transitions if ours or old is None else transitions + 1,
        }
    )
    meta: Obj = {"name": name, "namespace": namespace}
    if old is not None:
        meta["resourceVersion"] = (old.get("metadata") or {}).get("resourceVersion", "")
    return {"apiVersion": LEASE.api_version, "kind": LEASE.kind, "metadata": meta, "spec": spec}


class LeaderElector:
    """Acquires and renews one Lease for one identity."""

    def __init__(
        self,
        api: kube.Api,
        namespace: str,
        name: str,
        identity: str,
        *,
        timing: Timing = Timing(),
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timing = timing
        self._monotonic = monotonic
        self._wall = wall
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self.leading = threading.Event()

    def _record(self, lease: Obj) -> tuple[Any, ...]:
        spec = lease.get("spec") or {}
        return (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("leaseTransitions"))

    def try_acquire_or_renew(self) -> bool:
        """One attempt: True when this identity holds the Lease afterwards.

        Each call is bounded so that an attempt ends within `renew_deadline`; an API that
        does not answer is a failed attempt, never an exception.
        """
        now = self._monotonic()
        timeout = self.timing.renew_deadline / 3
        try:
            lease = self.api.get(LEASE, self.namespace, self.name, timeout=timeout)
            if lease is None:
                self.api.create(
                    LEASE,
                    self.namespace,
                    lease_body(
                        self.namespace, self.name, self.identity, self._wall(),
                        self.timing.lease_duration, None,
                    ),
                    timeout=timeout,
                )  # fmt: skip
                self._observed, self._observed_at = None, now
                return True
            record = self._record(lease)
            if record != self._observed:
                self._observed, self._observed_at = record, now
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity") or ""
            duration = spec.get("leaseDurationSeconds") or self.timing.lease_duration
            expired = now - self._observed_at >= float(duration)
            if holder and holder != self.identity and not expired:
                return False
            body = lease_body(
                self.namespace, self.name, self.identity, self._wall(),
                self.timing.lease_duration, lease,
            )  # fmt: skip
            self.api.replace(LEASE, self.namespace, self.name, body, timeout=timeout)
            return True
        except errors.ApiError as exc:
            LOG.warning("lease %s/%s: %s", self.namespace, self.name, exc)
            return False

    def release(self) -> None:
        """Give the Lease up (holder emptied) if this identity still holds it."""
        timeout = self.timing.renew_deadline / 3
        try:
            lease = self.api.get(LEASE, self.namespace, self.name, timeout=timeout)
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            body = lease_body(self.namespace, self.name, self.identity, self._wall(), 1, lease)
            body["spec"]["holderIdentity"] = ""
            self.api.replace(LEASE, self.namespace, self.name, body, timeout=timeout)
        except errors.ApiError:
            return

    def run(
        self,
        stop: threading.Event,
        on_started: Callable[[], None],
        on_stopped: Callable[[], None],
    ) -> None:
        """Acquire, renew and (on `stop`) release the Lease, calling back on each change of
        leadership, until `stop` is set."""
        last_renew = 0.0
        try:
            while not stop.is_set():
                if self.try_acquire_or_renew():
                    last_renew = self._monotonic()
                    if not self.leading.is_set():
                        self.leading.set()
                        on_started()
                elif (
                    self.leading.is_set()
                    and self._monotonic() - last_renew > self.timing.renew_deadline
                ):
                    self.leading.clear()
                    on_stopped()
                stop.wait(self.timing.retry_period)
        finally:
            if self.leading.is_set():
                self.leading.clear()
                self.release()
                on_stopped()
