"""Prometheus metrics of one server, in a registry of its own (several servers per process)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
        self.requests = Counter(
            "opgate_admission_requests",
            "Admission requests answered, by webhook path, operation, outcome and reason.",
            ["webhook", "operation", "allowed", "reason"],
            registry=r,
        )
        self.duration = Histogram(
            "opgate_admission_duration_seconds",
            "Time from reading the request body to the encoded response, by webhook path.",
            ["webhook"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
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
        self._counters: dict[tuple[str, str, bool, str], Any] = {}
        self._histograms: dict[str, Any] = {}
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
        key = (webhook, operation, allowed, reason)
        counter = self._counters.get(key)
        if counter is None:  # label lookups cost more than the count: keep the children
            counter = self.requests.labels(
                webhook, operation, "true" if allowed else "false", reason
            )
            self._counters[key] = counter
        counter.inc()
        histogram = self._histograms.get(webhook)
        if histogram is None:
            histogram = self._histograms[webhook] = self.duration.labels(webhook)
        histogram.observe(seconds)

    def track_in_flight(self, count: Callable[[], float]) -> None:
        """Report the in-flight gauge from a counter the server keeps (read at scrape time)."""
        self.in_flight.set_function(count)

    def exposition(self) -> bytes:
        """The text exposition format of every metric."""
        return prometheus_client.generate_latest(self.registry)
