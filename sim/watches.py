"""Watch events, the bounded event history and watchers fed from it.

Every write of the store appends one `Event` (with a new resourceVersion) to a bounded history;
a watch may start from any resourceVersion still in the history, else it gets 410 Expired.
A watcher filters by kind, namespace, labels and fields the way kube-apiserver does: an object
that stops matching a label selector is seen as DELETED, one that starts matching as ADDED.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import orjson

from sim import selectors

Obj = dict[str, Any]
ADDED, MODIFIED, DELETED, BOOKMARK, ERROR = "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"
# A watcher that falls this far behind is closed, as kube-apiserver closes slow watchers.
MAX_PENDING = 100_000


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """One change: type, resourceVersion, the object after it (before, for DELETED) and before."""

    type: str
    rv: int
    group: str
    kind: str
    object: Obj
    old: Obj | None = None

    def to_json(self) -> Obj:
        """The watch wire form `{"type": ..., "object": ...}` (a private copy)."""
        return {"type": self.type, "object": copy_obj(self.object)}


def copy_obj(obj: Obj) -> Obj:
    """A deep copy of a JSON object (fast: through orjson)."""
    return orjson.loads(orjson.dumps(obj))


def _meta(obj: Obj | None) -> Obj:
    return (obj or {}).get("metadata") or {}


@dataclasses.dataclass(frozen=True, slots=True)
class Filter:
    """Which events a watcher wants: kind, namespace, labels and fields (None/() = any)."""

    group: str | None = None
    kind: str | None = None
    namespace: str | None = None
    labels: selectors.Selector = ()
    fields: selectors.FieldSelector = ()

    def wants_kind(self, group: str, kind: str) -> bool:
        """Whether events of this kind can concern the watcher."""
        return (self.group is None or self.group == group) and (
            self.kind is None or self.kind == kind
        )

    def selects(self, obj: Obj | None) -> bool:
        """Whether one object state is in the watched set."""
        if obj is None:
            return False
        if self.namespace is not None and _meta(obj).get("namespace", "") != self.namespace:
            return False
        return selectors.matches(self.labels, obj) and selectors.fields_match(self.fields, obj)

    def transform(self, event: Event) -> Event | None:
        """The event this watcher sees, or None; selector changes become ADDED/DELETED."""
        if not self.wants_kind(event.group, event.kind):
            return None
        if event.type == DELETED:
            return event if self.selects(event.object) else None
        now, before = self.selects(event.object), self.selects(event.old)
        if now and before:
            return event
        if now:
            return dataclasses.replace(event, type=ADDED)
        if before and event.old is not None:
            # kube-apiserver's cacher: the object as the watcher last saw it, at the event's
            # resourceVersion (shallow copies: the stored objects are shared).
            meta = {**(_meta(event.old)), "resourceVersion": str(event.rv)}
            return dataclasses.replace(event, type=DELETED, object={**event.old, "metadata": meta})
        return None


class Watcher:
    """A stream of events for one watch; consumed by `drain` (non-blocking) or `next` (blocking).

    `wake` (if given) is called, from the writing thread, whenever events arrive or the watch
    closes — an asyncio consumer passes `loop.call_soon_threadsafe(...)` here.
    """

    def __init__(
        self,
        flt: Filter,
        *,
        bookmarks: bool = False,
        wake: Callable[[], None] | None = None,
        on_close: Callable[[Watcher], None] | None = None,
    ) -> None:
        self.filter = flt
        self.bookmarks = bookmarks
        self.closed = False
        self._wake = wake
        self._on_close = on_close
        self._pending: collections.deque[Event] = collections.deque()
        self._cond = threading.Condition()

    def offer(self, event: Event) -> None:
        """Queue an event if the filter wants it (called by the store under its lock)."""
        seen = event if event.type in (BOOKMARK, ERROR) else self.filter.transform(event)
        if seen is None or self.closed:
            return
        with self._cond:
            self._pending.append(seen)
            overflow = len(self._pending) > MAX_PENDING
            self._cond.notify_all()
        if overflow:
            self.close()
        elif self._wake is not None:
            self._wake()

    def drain(self) -> list[Event]:
        """Every queued event, oldest first (objects are shared: copy before changing them)."""
        with self._cond:
            out = list(self._pending)
            self._pending.clear()
        return out

    def next(self, timeout: float) -> Event | None:
        """The next event, waiting up to `timeout` seconds; None on timeout or when closed."""
        with self._cond:
            if not self._pending and not self.closed:
                self._cond.wait(timeout)
            return self._pending.popleft() if self._pending else None

    def close(self) -> None:
        """Stop the watch; queued events can still be drained."""
        if self.closed:
            return
        self.closed = True
        with self._cond:
            self._cond.notify_all()
        if self._on_close is not None:
            self._on_close(self)
        if self._wake is not None:
            self._wake()


class History:
    """The last `size` events; knows the oldest resourceVersion a watch may start from."""

    def __init__(self, size: int) -> None:
        self._events: collections.deque[Event] = collections.deque(maxlen=max(1, size))
        self.compacted = 0  # resourceVersion of the newest event no longer kept

    def append(self, event: Event) -> None:
        """Record an event, dropping the oldest beyond the bound."""
        if len(self._events) == self._events.maxlen:
            self.compacted = self._events[0].rv
        self._events.append(event)

    def since(self, rv: int) -> list[Event]:
        """Events after `rv`, oldest first; the caller checks `rv >= compacted` first."""
        if not self._events or rv >= self._events[-1].rv:
            return []
        return [e for e in self._events if e.rv > rv]
