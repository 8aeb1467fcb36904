"""The keyed work queue: dedupe, no key processed twice at once, delayed adds, shut-down."""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from reconciler import workqueue


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_dedupe_and_fifo() -> None:
    q = workqueue.WorkQueue()
    for key in ("a", "b", "a", "c", "b"):
        q.add(key)
    assert [q.get(0), q.get(0), q.get(0), q.get(0)] == ["a", "b", "c", None]


def test_key_added_while_processing_comes_back_after_done() -> None:
    q = workqueue.WorkQueue()
    q.add("a")
    assert q.get(0) == "a"
    q.add("a")
    assert q.get(0) is None  # not handed out twice while processing
    q.done("a")
    assert q.get(0) == "a"
    q.done("a")
    assert q.idle()


def test_delayed_and_backoff() -> None:
    clock = FakeClock()
    q = workqueue.WorkQueue(monotonic=clock)
    assert q.retry("k") == workqueue.BASE_DELAY
    assert q.retry("k") == 2 * workqueue.BASE_DELAY
    assert q.failures("k") == 2
    assert q.get(0) is None
    clock.now += 1
    assert q.get(0) == "k"
    q.done("k")
    assert q.get(0) is None  # the two delayed adds became one
    q.forget("k")
    assert q.failures("k") == 0
    for _ in range(40):
        q.retry("x")
    assert q.retry("x") == workqueue.MAX_DELAY


def test_shut_down_wakes_waiters() -> None:
    q = workqueue.WorkQueue()
    got: list[object] = []
    t = threading.Thread(target=lambda: got.append(q.get(None)))
    t.start()
    q.shut_down()
    t.join(5)
    assert not t.is_alive() and got == [None]
    q.add("late")
    assert q.get(0) is None


@given(st.lists(st.tuples(st.sampled_from(["add", "get", "done"]), st.integers(0, 3)), max_size=60))
def test_property_never_two_workers_on_one_key(ops) -> None:
    q = workqueue.WorkQueue()
    processing: set[object] = set()
    pending: set[object] = set()
    for op, key in ops:
        if op == "add":
            q.add(key)
            pending.add(key)
        elif op == "get":
            got = q.get(0)
            if got is not None:
                assert got not in processing
                processing.add(got)
                pending.discard(got)
            else:
                assert pending <= processing  # only keys being processed may wait
        elif key in processing:
            q.done(key)
            processing.discard(key)
    for key in list(processing):
        q.done(key)
    seen = set()
    while (got := q.get(0)) is not None:
        assert got not in seen
        seen.add(got)
        q.done(got)
    assert pending <= seen
