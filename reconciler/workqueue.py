"""A keyed work queue with client-go's guarantees, for the controller's workers.

A key is queued at most once however often it is added; a key being processed is never handed
to a second worker, and a key added while it is processed is queued again when `done` is
called. `add_after` delays a key (retries with backoff). Thread-safe; `shut_down` wakes every
waiting worker.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Hashable

# Backoff of failed keys: base delay doubling per failure up to a cap (client-go uses 5 ms and
# 1000 s; a reconciler of long-running Operations does not need to wait longer than a minute).
BASE_DELAY = 0.05
MAX_DELAY = 60.0


class WorkQueue:
    """Deduplicating FIFO of keys with delayed adds and per-key failure counts."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._cond = threading.Condition()
        self._queue: list[Hashable] = []
        self._queued: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._dirty: set[Hashable] = set()
        self._delayed: list[tuple[float, int, Hashable]] = []
        self._seq = 0
        self._failures: dict[Hashable, int] = {}
        self._monotonic = monotonic
        self._shut = False

    def add(self, key: Hashable) -> None:
        """Queue a key now (once, however often it is added)."""
        with self._cond:
            if self._shut:
                return
            if key in self._processing:
                self._dirty.add(key)
                return
            if key not in self._queued:
                self._queued.add(key)
                self._queue.append(key)
                self._cond.notify()

    def add_after(self, key: Hashable, delay: float) -> None:
        """Queue a key after `delay` seconds."""
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shut:
                return
            self._seq += 1
            heapq.heappush(self._delayed, (self._monotonic() + delay, self._seq, key))
            self._cond.notify()

    def retry(self, key: Hashable) -> float:
        """Queue a failed key again after its backoff; returns the delay used."""
        with self._cond:
            count = self._failures.get(key, 0)
            self._failures[key] = count + 1
        delay = min(MAX_DELAY, BASE_DELAY * (2**count))
        self.add_after(key, delay)
        return delay

    def forget(self, key: Hashable) -> None:
        """Reset a key's failure count (it was processed successfully)."""
        with self._cond:
            self._failures.pop(key, None)

    def failures(self, key: Hashable) -> int:
        """How many times in a row the key failed."""
        return self._failures.get(key, 0)

    def _promote(self) -> float | None:
        now = self._monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, key = heapq.heappop(self._delayed)
            if key in self._processing:
                self._dirty.add(key)
            elif key not in self._queued:
                self._queued.add(key)
                self._queue.append(key)
        return self._delayed[0][0] - now if self._delayed else None

    def get(self, timeout: float | None = None) -> Hashable | None:
        """The next key to process (marking it processing), or None on timeout or shut-down."""
        deadline = None if timeout is None else self._monotonic() + timeout
        with self._cond:
            while True:
                if self._shut:
                    return None
                wait_delayed = self._promote()
                if self._queue:
                    key = self._queue.pop(0)
                    self._queued.discard(key)
                    self._processing.add(key)
                    return key
                waits = [w for w in (wait_delayed,) if w is not None]
                if deadline is not None:
                    left = deadline - self._monotonic()
                    if left <= 0:
                        return None
                    waits.append(left)
                self._cond.wait(min(waits) if waits else None)

    def done(self, key: Hashable) -> None:
        """Mark a key processed; queue it again if it was added meanwhile."""
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                if key not in self._queued:
                    self._queued.add(key)
                    self._queue.append(key)
                    self._cond.notify()

    def shut_down(self) -> None:
        """Stop handing out keys and wake every waiting worker."""
        with self._cond:
            self._shut = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._delayed)

    def idle(self) -> bool:
        """Nothing queued, delayed or being processed."""
        with self._cond:
            return not (self._queue or self._delayed or self._processing)
