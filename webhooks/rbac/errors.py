"""Errors of the RBAC review: one base under `webhooks.errors.OpgateError`."""

from __future__ import annotations

from webhooks import errors


class RbacError(errors.OpgateError):
    """Base of every error the RBAC review raises on purpose."""


class SubjectError(RbacError):
    """A subject written on the command line is not `ServiceAccount/NS/NAME`, `User/X`, `Group/X`."""


class ClusterReadError(RbacError):
    """RBAC objects could not be read from a live cluster (names the API call and the cause)."""
