"""The admission chain of kube-apiserver, run on every write of the fake cluster (placeholder)."""

from __future__ import annotations

import dataclasses
from typing import Any

from sim import registry
from webhooks import clusterview, kinds, review

Obj = dict[str, Any]
# Webhook configurations and CRDs are never sent to webhooks (kube-apiserver exempts them).
EXEMPT = frozenset(
    {
        registry.MUTATING_WEBHOOK_CONFIGURATION.key,
        registry.VALIDATING_WEBHOOK_CONFIGURATION.key,
    }
)


@dataclasses.dataclass(frozen=True)
class Attributes:
    """What a write is: operation, resource, subresource, namespace, name, user, dry-run, old."""

    operation: str
    resource: registry.Resource
    version: str
    subresource: str
    namespace: str
    name: str
    user: review.UserInfo
    dry_run: bool
    old: Obj | None = None
    uid: str = ""


class Chain:
    """Mutating webhooks, then (in the store) schema validation, then validating webhooks."""

    def mutate(
        self, view: clusterview.ClusterIndex, attrs: Attributes, obj: Obj | None
    ) -> tuple[Obj | None, list[str]]:
        """The object after every matching mutating webhook, and their warnings."""
        return obj, []

    def validate(
        self, view: clusterview.ClusterIndex, attrs: Attributes, obj: Obj | None
    ) -> list[str]:
        """Warnings of the matching validating webhooks; raises ApiError on a denial."""
        return []


_ = kinds
