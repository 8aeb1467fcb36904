"""Fixtures of the RBAC review tests: the repository paths and the rule catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from webhooks.rbac import catalogue

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def cat() -> catalogue.Catalogue:
    """The shipped rule catalogue."""
    return catalogue.default()


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO
