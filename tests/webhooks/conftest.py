"""Fixtures for the policy core: the example cluster state, the policy, Operation builders."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from policies import loader, model
from webhooks import clusterview, manifests

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "deploy" / "examples"
STATE_PATHS = [EXAMPLES / "cluster-state", REPO / "deploy" / "workflows"]


def example_objects() -> list[dict[str, Any]]:
    """The example cluster state and the shipped WorkflowTemplate library."""
    return manifests.load(STATE_PATHS)


def source_operation() -> dict[str, Any]:
    """The source document's Operation."""
    return manifests.load([EXAMPLES / "operation.yaml"])[0]


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
