"""Errors of the simulator: Kubernetes `Status` failures, built the way kube-apiserver builds them.

Every failure a client can see is an `ApiError` carrying a `metav1.Status` dict (kind Status,
apiVersion v1, status Failure, message, reason, code, details{name, group, kind, causes}).
The constructors below reproduce kube-apiserver's messages (`k8s.io/apimachinery/pkg/api/errors`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from webhooks import errors as webhook_errors

Status = dict[str, Any]


class SimError(webhook_errors.OpgateError):
    """Base of every error the simulator raises on purpose."""


class ApiError(SimError):
    """A request the fake apiserver refuses; `status` is the Kubernetes Status object."""

    def __init__(self, status: Status) -> None:
        super().__init__(status.get("message", ""))
        self.status = status

    @property
    def code(self) -> int:
        """The HTTP status code."""
        return int(self.status.get("code", 500))

    @property
    def reason(self) -> str:
        """The machine-readable reason (NotFound, AlreadyExists, Conflict, Invalid, ...)."""
        return str(self.status.get("reason", ""))


def status(
    code: int,
    reason: str,
    message: str,
    *,
    name: str = "",
    group: str = "",
    kind: str = "",
    causes: Iterable[dict[str, str]] = (),
) -> Status:
    """A failure Status with only the non-empty details set, as the apiserver omits empty ones."""
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    causes = list(causes)
    if causes:
        details["causes"] = causes
    out: Status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        out["details"] = details
    return out


def qualified(plural: str, group: str) -> str:
    """`plural.group`, or just `plural` for the core group (how resources are named in messages)."""
    return f"{plural}.{group}" if group else plural


def not_found(group: str, plural: str, name: str) -> ApiError:
    """404 NotFound: `operations.ops.vworkspace.io "x" not found`."""
    return ApiError(
        status(
            404,
            "NotFound",
            f'{qualified(plural, group)} "{name}" not found',
            name=name,
            group=group,
            kind=plural,
        )
    )


def resource_not_found() -> ApiError:
    """404 for a path no served resource answers (missing or not-Established CRD)."""
    return ApiError(status(404, "NotFound", "the server could not find the requested resource"))


def already_exists(group: str, plural: str, name: str) -> ApiError:
    """409 AlreadyExists: `operations.ops.vworkspace.io "x" already exists`."""
    return ApiError(
        status(
            409,
            "AlreadyExists",
            f'{qualified(plural, group)} "{name}" already exists',
            name=name,
            group=group,
            kind=plural,
        )
    )


def conflict(group: str, plural: str, name: str, problem: str = "") -> ApiError:
    """409 Conflict on a stale resourceVersion (or a failed precondition)."""
    problem = problem or (
        "the object has been modified; please apply your changes to the latest version and try again"
    )
    return ApiError(
        status(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": {problem}',
            name=name,
            group=group,
            kind=plural,
        )
    )


def field_error(field: str, reason: str, message: str) -> dict[str, str]:
    """One StatusCause."""
    return {"reason": reason, "message": message, "field": field}


def invalid(group: str, kind: str, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 Invalid: `Kind.group "name" is invalid: field: message` (several: `[a, b]`)."""
    parts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return ApiError(
        status(
            422,
            "Invalid",
            f'{qualified(kind, group)} "{name}" is invalid: {summary}',
            name=name,
            group=group,
            kind=kind,
            causes=causes,
        )
    )


def bad_request(message: str) -> ApiError:
    """400 BadRequest."""
    return ApiError(status(400, "BadRequest", message))


def forbidden(group: str, plural: str, name: str, problem: str) -> ApiError:
    """403 Forbidden: `plural.group "name" is forbidden: problem`."""
    return ApiError(
        status(
            403,
            "Forbidden",
            f'{qualified(plural, group)} "{name}" is forbidden: {problem}',
            name=name,
            group=group,
            kind=plural,
        )
    )


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> ApiError:
    """405 MethodNotAllowed."""
    return ApiError(status(405, "MethodNotAllowed", message))


def unsupported_media_type(content_type: str, accepted: tuple[str, ...] = ()) -> ApiError:
    """415 UnsupportedMediaType for a patch content type the server does not take here
    (kube-apiserver's wording, listing `accepted` when given)."""
    message = (
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted)
        if accepted
        else f"the body of the request was in an unknown format: {content_type}"
    )
    return ApiError(status(415, "UnsupportedMediaType", message))


def expired(requested: int, oldest: int) -> ApiError:
    """410 Expired: a watch or list from a resourceVersion older than the kept history."""
    return ApiError(status(410, "Expired", f"too old resource version: {requested} ({oldest})"))


def internal(message: str, *, causes: Iterable[dict[str, str]] = ()) -> ApiError:
    """500 InternalError: `Internal error occurred: ...`."""
    return ApiError(
        status(500, "InternalError", f"Internal error occurred: {message}", causes=causes)
    )
