"""Errors of the certs package: one base, a class per party at fault."""

from __future__ import annotations


class CertError(Exception):
    """Base of every error the certs package raises on purpose."""


class BadMaterial(CertError):
    """A certificate or key file is missing, unreadable or does not match its partner."""


class InjectError(CertError):
    """The CA bundle could not be written into a webhook configuration."""
