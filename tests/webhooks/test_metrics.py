"""Metrics: names, labels and counts as Prometheus scrapes them; one registry per server."""

from __future__ import annotations

import collections

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from webhooks import metrics

OBSERVATION = st.tuples(
    st.sampled_from(["/validate/operations", "/mutate/operations", "/validate/workflows"]),
    st.sampled_from(["CREATE", "UPDATE", "DELETE"]),
    st.booleans(),
    st.sampled_from(["", "TemplateNotFound", "ServiceUnavailable", "UnknownEngine"]),
    st.floats(0, 20, allow_nan=False),
)


def _samples(m: metrics.Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(m.exposition().decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@given(st.lists(OBSERVATION, max_size=30))
def test_counts_and_histograms_match_the_observations(observations) -> None:
    m = metrics.Metrics()
    for webhook, operation, allowed, reason, seconds in observations:
        m.observe(webhook, operation, allowed, reason, seconds)
    samples = _samples(m)
    counts = collections.Counter((w, o, a, r) for w, o, a, r, _ in observations)
    for (webhook, operation, allowed, reason), n in counts.items():
        labels = (("allowed", "true" if allowed else "false"), ("operation", operation),
                  ("reason", reason), ("webhook", webhook))  # fmt: skip
        assert samples[("opgate_admission_requests_total", labels)] == n
    per_webhook = collections.Counter(w for w, *_ in observations)
    for webhook, n in per_webhook.items():
        key = ("opgate_admission_duration_seconds_count", (("webhook", webhook),))
        assert samples[key] == n
        fastest = (
            "opgate_admission_duration_seconds_bucket",
            (("le", "0.0005"), ("webhook", webhook)),
        )
        assert samples[fastest] == sum(
            1 for w, *_, s in observations if w == webhook and s <= 0.0005
        )
    total = sum(v for (name, _), v in samples.items() if name == "opgate_admission_requests_total")
    assert total == len(observations)


def test_every_documented_metric_is_exported() -> None:
    m = metrics.Metrics()
    m.track_in_flight(lambda: 3)
    names = {f.name for f in text_string_to_metric_families(m.exposition().decode())}
    assert {
        "opgate_admission_requests",
        "opgate_admission_duration_seconds",
        "opgate_admission_requests_in_flight",
        "opgate_admission_malformed_requests",
        "opgate_cache_syncs",
        "opgate_cache_watch_events",
        "opgate_cache_errors",
        "opgate_cache_synced",
        "opgate_cert_reloads",
    } <= names
    assert ("opgate_admission_requests_in_flight", ()) in _samples(m)
    assert _samples(m)[("opgate_admission_requests_in_flight", ())] == 3


def test_registries_are_separate_and_process_metrics_optional() -> None:
    a, b = metrics.Metrics(), metrics.Metrics(process=True)
    a.observe("/validate/operations", "CREATE", True, "", 0.001)
    assert b"opgate_admission_requests_total{" not in b.exposition()
    assert b"python_info" in b.exposition() and b"python_info" not in a.exposition()
