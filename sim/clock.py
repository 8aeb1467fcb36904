"""A seeded clock and id source, so a simulation replays the same way every time."""

from __future__ import annotations

import datetime as dt
import random
import uuid

# A fixed, recognisable start instant for simulated time.
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# The alphabet kube-apiserver uses for generateName suffixes (no vowels, no look-alikes).
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# Length of a generateName suffix, as in k8s.io/apiserver names.SimpleNameGenerator.
SUFFIX_LENGTH = 5


class Clock:
    """Simulated time: starts at `start` and moves only when `advance` is called."""

    def __init__(self, start: dt.datetime = EPOCH) -> None:
        self._now = start

    def now(self) -> dt.datetime:
        """The current simulated instant (UTC)."""
        return self._now

    def timestamp(self) -> str:
        """The current instant as an RFC 3339 string with second precision (`...Z`)."""
        return rfc3339(self._now)

    def advance(self, seconds: float) -> None:
        """Move time forward; negative amounts are refused."""
        if seconds < 0:
            raise ValueError(f"cannot move the clock backwards ({seconds} s)")
        self._now += dt.timedelta(seconds=seconds)


def rfc3339(instant: dt.datetime) -> str:
    """`2026-01-01T00:00:00Z`: the form metav1.Time serializes to."""
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Ids:
    """Deterministic uids and name suffixes from a seed."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)

    def uid(self) -> str:
        """A version-4 UUID string drawn from the seeded generator."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def suffix(self) -> str:
        """A generateName suffix (5 characters of kube-apiserver's alphabet)."""
        return "".join(self._rng.choice(SUFFIX_ALPHABET) for _ in range(SUFFIX_LENGTH))
