"""Fixtures for the policy core: the example cluster state, the policy, Operation builders."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policies import loader, model
from tests.webhooks import builders
from webhooks import clusterview

EXAMPLES = builders.EXAMPLES
STATE_PATHS = builders.STATE_PATHS
example_objects = builders.example_objects
source_operation = builders.source_operation


@pytest.fixture(scope="session")
def state_objects() -> list[dict[str, Any]]:
    return example_objects()


@pytest.fixture
def view(state_objects: list[dict[str, Any]]) -> clusterview.ClusterIndex:
    return clusterview.ClusterIndex(copy.deepcopy(state_objects))


@pytest.fixture(scope="session")
def policy() -> model.Policy:
    return loader.load_policy()


@pytest.fixture
def operation() -> dict[str, Any]:
    return source_operation()
