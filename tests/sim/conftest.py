"""Fixtures for the simulator tests: a fresh store, and the store served over REST."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from sim import apiserver, store
from tests.sim import storebuilders

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("OPGATE_HYPOTHESIS", "ci"))

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cluster() -> store.Store:
    """A fresh store with the Widget CRD installed."""
    s = store.Store(seed=7)
    s.create(storebuilders.crd())
    return s


@pytest.fixture
def served(cluster: store.Store, tmp_path: Path) -> Iterator[tuple[store.Store, str, Path]]:
    """The cluster served on a free 127.0.0.1 port: (store, url, kubeconfig path)."""
    url, stop = apiserver.serve_in_thread(cluster, bookmark_interval=0.2)
    try:
        yield cluster, url, apiserver.write_kubeconfig(tmp_path / "kubeconfig", url)
    finally:
        stop()
