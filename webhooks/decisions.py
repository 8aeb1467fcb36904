"""Decisions: the typed outcome of every policy check, and the only helpers that build them.

A Decision is transport-free; `webhooks.review` turns it into an AdmissionReview response.
"""

from __future__ import annotations

import dataclasses
from typing import Any

# kube-apiserver shows warnings of at most this many characters (longer ones are truncated).
MAX_WARNING = 120

JsonPatch = tuple[dict[str, Any], ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Cause:
    """One field error, as a metav1.StatusCause."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def to_json(self) -> dict[str, str]:
        """The StatusCause wire form."""
        return {"reason": self.reason, "message": self.message, "field": self.field}


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """Allowed or denied, with reason, code, message, field causes, warnings and a patch."""

    allowed: bool
    reason: str = ""
    code: int = 200
    message: str = ""
    causes: tuple[Cause, ...] = ()
    warnings: tuple[str, ...] = ()
    patch: JsonPatch = ()

    def to_json(self) -> dict[str, Any]:
        """Plain data for printers: allowed, reason, code, message, warnings, patch, causes."""
        return {
            "allowed": self.allowed,
            "reason": self.reason or None,
            "code": self.code,
            "message": self.message or None,
            "warnings": list(self.warnings),
            "patch": [dict(op) for op in self.patch] or None,
            "causes": [c.to_json() for c in self.causes],
        }


def warning(text: str) -> str:
    """A warning cut to the length kube-apiserver shows."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_WARNING else text[: MAX_WARNING - 3] + "..."


def allowed(*, warnings: tuple[str, ...] | list[str] = ()) -> Decision:
    """An admission with optional warnings."""
    if not warnings:
        return _ALLOWED
    return Decision(True, warnings=tuple(warning(w) for w in warnings))


_ALLOWED = Decision(True)


def patched(patch: list[dict[str, Any]], *, warnings: tuple[str, ...] | list[str] = ()) -> Decision:
    """An admission with a JSONPatch (empty patch: a plain admission)."""
    return Decision(True, warnings=tuple(warning(w) for w in warnings), patch=tuple(patch))


def denied(
    reason: str,
    code: int,
    message: str,
    *,
    causes: tuple[Cause, ...] | list[Cause] = (),
    warnings: tuple[str, ...] | list[str] = (),
) -> Decision:
    """A denial; the message always starts with the reason, as kubectl only shows the message."""
    if not message.startswith(reason):
        message = f"{reason}: {message}"
    return Decision(
        False,
        reason=reason,
        code=code,
        message=message,
        causes=tuple(causes),
        warnings=tuple(warning(w) for w in warnings),
    )


def with_warnings(decision: Decision, warnings: tuple[str, ...] | list[str]) -> Decision:
    """The same decision with more warnings appended."""
    if not warnings:
        return decision
    extra = tuple(warning(w) for w in warnings)
    return dataclasses.replace(decision, warnings=decision.warnings + extra)


def errored(code: int, message: str) -> Decision:
    """A denial for an internal failure (a bug or an unready cache), never a crash."""
    reason = {503: "ServiceUnavailable", 504: "Timeout"}.get(code, "InternalError")
    return denied(reason, code, message)
