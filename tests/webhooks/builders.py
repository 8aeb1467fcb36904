"""Small builders shared by the policy-core tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from policies import model
from webhooks import manifests, review
from webhooks.commands import demo

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "deploy" / "examples"
STATE_PATHS = [REPO / path for path in demo.CLUSTER_STATE]


def example_objects() -> list[dict[str, Any]]:
    """The example cluster state and the shipped WorkflowTemplate library."""
    return manifests.load(STATE_PATHS)


def source_operation() -> dict[str, Any]:
    """The source document's Operation."""
    return manifests.load([EXAMPLES / "operation.yaml"])[0]


def with_modes(policy: model.Policy, **modes: model.Mode) -> model.Policy:
    """The policy with some checks switched to another enforcement mode."""
    return dataclasses.replace(policy, enforcement={**policy.enforcement, **modes})


def create(obj: dict[str, Any], **kwargs: Any) -> review.AdmissionRequest:
    """A CREATE request for a manifest."""
    return review.request_review(obj, **kwargs)
