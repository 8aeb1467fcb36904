"""Small builders shared by the policy-core tests."""

from __future__ import annotations

import dataclasses
from typing import Any

from policies import model
from webhooks import review


def with_modes(policy: model.Policy, **modes: model.Mode) -> model.Policy:
    """The policy with some checks switched to another enforcement mode."""
    return dataclasses.replace(policy, enforcement={**policy.enforcement, **modes})


def create(obj: dict[str, Any], **kwargs: Any) -> review.AdmissionRequest:
    """A CREATE request for a manifest."""
    return review.request_review(obj, **kwargs)
