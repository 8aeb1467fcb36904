"""Errors of the webhooks package: one base, a class per party at fault."""

from __future__ import annotations


class OpgateError(Exception):
    """Base of every error opgate raises on purpose."""


class MalformedReview(OpgateError):
    """The webhook request itself is bad (not an AdmissionReview): answered with HTTP 400."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ManifestError(OpgateError):
    """A manifest file cannot be used: names the file, the document and what is wrong."""

    def __init__(self, file: str, problem: str, *, document: int | None = None) -> None:
        self.file = file
        self.document = document
        self.problem = problem
        where = file if document is None else f"{file} (document {document})"
        super().__init__(f"{where}: {problem}")


class UsageError(OpgateError):
    """The command line asks for something that cannot be done; exit code 2."""
