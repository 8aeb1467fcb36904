"""core/v1 Events on an Operation: what `kubectl describe operation` shows of its history."""

from __future__ import annotations

import datetime
from typing import Any

from reconciler import plan, status
from webhooks import kinds

Obj = dict[str, Any]
# The component Events are reported by (`kubectl describe` shows it as "From").
COMPONENT = "opgate-reconciler"
# Event messages are capped by kube-apiserver at 1 KiB in events.k8s.io/v1 (noteLength).
MESSAGE_LIMIT = 1024


def event_body(operation: Obj, event: plan.Event, now: datetime.datetime, *, instance: str) -> Obj:
    """A core/v1 Event about the Operation (generated name, involvedObject with uid)."""
    meta = operation.get("metadata") or {}
    stamp = status.rfc3339(now)
    message = event.message
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 3] + "..."
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "generateName": f"{meta.get('name', 'operation')}.",
            "namespace": meta.get("namespace", ""),
        },
        "involvedObject": {
            "apiVersion": kinds.OPERATION.api_version,
            "kind": kinds.OPERATION.kind,
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        },
        "type": event.type,
        "reason": event.reason,
        "message": message,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance,
        "action": "Reconcile",
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
