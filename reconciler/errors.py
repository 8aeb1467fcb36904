"""Errors of the reconciler: one base, and the API answers the controller acts on."""

from __future__ import annotations

import json
from typing import Any

from webhooks import errors


class ReconcilerError(errors.OpgateError):
    """Base of every error the reconciler raises on purpose."""


class ApiError(ReconcilerError):
    """The Kubernetes API answered with a failure Status (code, reason, message)."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message


class NotFound(ApiError):
    """404: the object does not exist."""


class AlreadyExists(ApiError):
    """409 AlreadyExists: an object of that name exists (creation is idempotent by name)."""


class Conflict(ApiError):
    """409 Conflict: the resourceVersion precondition failed; read again and retry."""


class Gone(ApiError):
    """410 Gone/Expired: a watch's resourceVersion is too old; list again."""


class Unreachable(ApiError):
    """No answer at all: connection refused or reset, a timeout (code 0)."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "Unreachable", message)


def from_api_exception(exc: Any) -> ApiError:
    """Our error for a `kubernetes.client.ApiException` (reason from its Status body)."""
    code = int(getattr(exc, "status", 0) or 0)
    reason, message = str(getattr(exc, "reason", "") or ""), ""
    body = getattr(exc, "body", None)
    if body:
        try:
            data = json.loads(body)
        except (TypeError, ValueError):
            message = str(body)[:500]
        else:
            if isinstance(data, dict):
                reason = str(data.get("reason") or reason)
                message = str(data.get("message") or "")
    if code == 404:
        return NotFound(code, reason or "NotFound", message)
    if code == 409:
        cls = AlreadyExists if reason == "AlreadyExists" else Conflict
        return cls(code, reason or "Conflict", message)
    if code == 410:
        return Gone(code, reason or "Expired", message)
    return ApiError(code, reason or "Error", message)
