"""Fixtures of the RBAC review tests: hypothesis profiles and the repository paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from webhooks.rbac import catalogue

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("OPGATE_HYPOTHESIS", "ci"))

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def cat() -> catalogue.Catalogue:
    """The shipped rule catalogue."""
    return catalogue.default()


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO
