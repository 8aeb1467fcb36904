"""Fixtures of the deploy tests: the rendered kustomizations, our raw manifests, Argo's schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from tests.deploy import helpers as h

Obj = h.Obj


@pytest.fixture(scope="session")
def base() -> list[Obj]:
    """`kubectl kustomize deploy`."""
    return h.kustomize(h.DEPLOY)


@pytest.fixture(scope="session")
def cert_manager() -> list[Obj]:
    """`kubectl kustomize deploy/overlays/cert-manager`."""
    return h.kustomize(h.DEPLOY / "overlays" / "cert-manager")


@pytest.fixture(scope="session")
def runner() -> list[Obj]:
    """`kubectl kustomize deploy/runner`."""
    return h.kustomize(h.DEPLOY / "runner")


@pytest.fixture(scope="session")
def manifests() -> list[Obj]:
    """Every manifest we ship, as written."""
    return h.raw(*h.OWN_DIRS)


@pytest.fixture(scope="session")
def argo_validator() -> Callable[[Obj], list[str]]:
    """Validates an Argo object against the upstream JSON Schema (strict); skips when absent."""

    if not h.ARGO_SCHEMA.is_file():
        pytest.skip(f"Argo JSON Schema not found at {h.ARGO_SCHEMA} (../shared/reference/argo)")
    schema = json.loads(h.ARGO_SCHEMA.read_text())
    definitions = h.strict(schema["definitions"])
    validators: dict[str, Any] = {}

    def validate(obj: Obj) -> list[str]:
        kind = obj["kind"]
        if kind not in validators:
            ref = {"$ref": f"#/definitions/io.argoproj.workflow.v1alpha1.{kind}"}
            validators[kind] = jsonschema.Draft202012Validator({**ref, "definitions": definitions})
        return [
            f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validators[kind].iter_errors(obj)
        ]

    return validate
