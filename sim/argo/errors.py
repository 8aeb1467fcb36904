"""Errors of the fake Argo controller: one base, a class per kind of failure."""

from __future__ import annotations


class ArgoSimError(Exception):
    """Base of the errors the fake Argo controller raises on purpose."""


class SpecError(ArgoSimError):
    """The workflow cannot start: `phase` (Error or Failed) and Argo's message."""

    def __init__(self, phase: str, message: str) -> None:
        super().__init__(message)
        self.phase = phase
        self.message = message


class TemplateError(ArgoSimError):
    """A template cannot be executed (not found, inputs missing): its node becomes Error."""
