"""Prometheus metrics of one server, in a registry of its own (several servers per process)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

# Admission decisions take well under a millisecond from memory; kube-apiserver's default
# webhook timeout is 10 s. Buckets span 0.5 ms .. 10 s.
DURATION_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST


class Metrics:
    """Every metric the server and the live cache export."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = False) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        if process:  # process_* (CPU, memory, fds), python_gc_*, python_info: for the serve process
            prometheus_client.ProcessCollector(registry=r)
            prometheus_client.PlatformCollector(registry=r)
            prometheus_client.GCCollector(registry=r)
        # The two per-request metrics are plain counts turned into samples at scrape time:
        # prometheus_client's labelled children take a lock per update (~2 µs a request).
        self._admissions = _Admissions()
        r.register(self._admissions)
        self.in_flight = Gauge(
            "opgate_admission_requests_in_flight",
            "Admission requests being answered now.",
            registry=r,
        )
        self.malformed = Counter(
            "opgate_admission_malformed_requests",
            "Requests answered with an HTTP error (400, 413, 415) instead of an AdmissionReview.",
            ["webhook", "status"],
            registry=r,
        )
        self.cache_syncs = Counter(
            "opgate_cache_syncs",
            "Full lists (initial sync and relists after 410 Gone or errors), by kind.",
            ["kind"],
            registry=r,
        )
        self.cache_events = Counter(
            "opgate_cache_watch_events",
            "Watch events applied to the cluster view, by kind and event type.",
            ["kind", "type"],
            registry=r,
        )
        self.cache_errors = Counter(
            "opgate_cache_errors",
            "List/watch failures that led to a backoff, by kind.",
            ["kind"],
            registry=r,
        )
        self.cache_synced = Gauge(
            "opgate_cache_synced",
            "1 once every cache has finished its initial list, else 0.",
            registry=r,
        )
        self.cert_reloads = Counter(
            "opgate_cert_reloads",
            "Serving certificate reloads after a file change, by result (ok, error).",
            ["result"],
            registry=r,
        )

    def observe(
        self, webhook: str, operation: str, allowed: bool, reason: str, seconds: float
    ) -> None:
        """Count one answered admission request."""
        self._admissions.observe(webhook, operation, allowed, reason, seconds)

    def track_in_flight(self, count: Callable[[], float]) -> None:
        """Report the in-flight gauge from a counter the server keeps (read at scrape time)."""
        self.in_flight.set_function(count)

    def exposition(self) -> bytes:
        """The text exposition format of every metric."""
        return prometheus_client.generate_latest(self.registry)


class _Admissions:
    """opgate_admission_requests_total and opgate_admission_duration_seconds, kept as plain
    counts (updated on the event loop's thread) and exported as samples when scraped."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, bool, str], int] = {}
        # Per webhook: a count per bucket (the last one for +Inf), then the sum of seconds.
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = {}

    def observe(
        self, webhook: str, operation: str, allowed: bool, reason: str, seconds: float
    ) -> None:
        key = (webhook, operation, allowed, reason)
        self.requests[key] = self.requests.get(key, 0) + 1
        counts = self.buckets.get(webhook)
        if counts is None:
            counts = self.buckets[webhook] = [0] * (len(DURATION_BUCKETS) + 1)
        counts[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1  # `le` bounds are inclusive
        self.sums[webhook] = self.sums.get(webhook, 0.0) + seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "opgate_admission_requests",
            "Admission requests answered, by webhook path, operation, outcome and reason.",
            labels=["webhook", "operation", "allowed", "reason"],
        )
        for (webhook, operation, allowed, reason), n in sorted(list(self.requests.items())):
            requests.add_metric([webhook, operation, "true" if allowed else "false", reason], n)
        yield requests
        duration = HistogramMetricFamily(
            "opgate_admission_duration_seconds",
            "Time from reading the request body to the encoded response, by webhook path.",
            labels=["webhook"],
        )
        for webhook, counts in sorted(list(self.buckets.items())):
            cumulative, buckets = 0, []
            for bound, n in zip((*map(_le, DURATION_BUCKETS), "+Inf"), counts, strict=True):
                cumulative += n
                buckets.append((bound, cumulative))
            duration.add_metric([webhook], buckets, self.sums.get(webhook, 0.0))
        yield duration


def _le(bound: float) -> str:
    """A bucket bound as prometheus_client writes it (`0.0005`, `1.0`)."""
    return prometheus_client.utils.floatToGoString(bound)
