"""The shared list+watch loop: what it calls next after each outcome, and how long it waits."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhooks import listwatch


class Gone(Exception):
    pass


class Clock(threading.Event):
    """A stop event whose waits are recorded instead of slept."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(float(timeout or 0))
        return self.is_set()


def drive(outcomes: list[str]) -> tuple[list[str], list[float], list[float]]:
    """Run the loop where each list/watch call takes the next outcome ("ok", "gone", "error");
    the loop is stopped when the outcomes run out. Returns (calls, waits, error delays)."""
    stop, calls, errors = Clock(), [], []
    script = iter(outcomes)

    def step(name: str) -> None:
        calls.append(name)
        outcome = next(script, None)
        if outcome is None:
            stop.set()
            raise RuntimeError("done")
        if outcome == "gone":
            raise Gone()
        if outcome == "error":
            raise OSError("connection reset")

    listwatch.run(
        lambda: step("list"),
        lambda: step("watch"),
        stop,
        is_gone=lambda exc: isinstance(exc, Gone),
        on_error=lambda exc, delay: errors.append(delay),
    )
    return calls, stop.waits, errors


def test_lists_once_then_resumes_watches():
    calls, waits, _ = drive(["ok", "ok", "ok", "ok"])
    assert calls == ["list", "watch", "watch", "watch", "watch"]
    assert waits == []


def test_a_gone_watch_lists_again_at_once():
    calls, waits, errors = drive(["ok", "gone", "ok", "ok"])
    assert calls == ["list", "watch", "list", "watch", "watch"]
    assert waits == [] and errors == []


def test_a_gone_list_backs_off_and_lists_again():
    calls, waits, _ = drive(["gone", "ok", "ok"])
    assert calls == ["list", "list", "watch", "watch"]
    assert len(waits) == 1


def test_failures_back_off_doubling_with_jitter_up_to_the_cap():
    calls, waits, errors = drive(["ok"] + ["error"] * 12)
    assert calls[:2] == ["list", "watch"] and set(calls[2:]) == {"watch"}  # resumes, no relist
    assert errors[0] == listwatch.BACKOFF_FIRST
    assert errors == [min(listwatch.BACKOFF_FIRST * 2**i, listwatch.BACKOFF_CAP) for i in range(12)]
    for delay, waited in zip(errors, waits, strict=True):
        assert 0.8 * delay <= waited <= 1.2 * delay


def test_a_successful_watch_resets_the_backoff():
    _, _, errors = drive(["ok", "error", "error", "ok", "error"])
    assert errors == [listwatch.BACKOFF_FIRST, listwatch.BACKOFF_FIRST * 2, listwatch.BACKOFF_FIRST]


@given(st.lists(st.sampled_from(["ok", "gone", "error"]), max_size=40))
def test_every_watch_follows_a_successful_list(outcomes):
    """Whatever happens, no watch runs before a list has succeeded, and a list follows every
    Gone watch before the next watch."""
    stop, calls, listed = Clock(), [], [False]
    script = iter(outcomes)

    def step(name: str) -> None:
        if name == "watch":
            assert listed[0], "a watch without a listed resourceVersion"
        outcome = next(script, None)
        calls.append(name)
        if outcome is None:
            stop.set()
            raise RuntimeError("done")
        if outcome == "gone":
            listed[0] = False
            raise Gone()
        if outcome == "error":
            raise OSError("reset")
        if name == "list":
            listed[0] = True

    listwatch.run(
        lambda: step("list"), lambda: step("watch"), stop, is_gone=lambda e: isinstance(e, Gone)
    )
    assert calls[0] == "list"


def test_a_set_stop_event_calls_nothing():
    stop = Clock()
    stop.set()
    listwatch.run(lambda: pytest.fail("listed"), lambda: pytest.fail("watched"), stop,
                  is_gone=lambda e: False)  # fmt: skip
