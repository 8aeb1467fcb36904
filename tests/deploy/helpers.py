"""Helpers of the deploy tests: render kustomizations, read our manifests, pick objects."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
ARGO_REFERENCE = REPO.parent / "shared" / "reference" / "argo"
ARGO_SCHEMA = ARGO_REFERENCE / "jsonschema" / "schema.json"
# Directories of ours holding manifests (deploy/crds and deploy/examples are the lead's).
OWN_DIRS = ("base", "webhook", "reconciler", "runner", "workflows", "overlays")

Obj = dict[str, Any]


def documents(text: str) -> list[Obj]:
    """The non-empty YAML documents of a multi-document text."""
    return [d for d in yaml.safe_load_all(text) if d]


def kustomize(path: Path) -> list[Obj]:
    """`kubectl kustomize PATH` as objects; skips when kubectl is absent."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not found on PATH (needed for `kubectl kustomize`)")
    done = subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"kubectl kustomize {path} failed:\n{done.stderr}"
    return documents(done.stdout)


def raw(*dirs: str) -> list[Obj]:
    """The manifests of our deploy directories as written (no kubectl needed)."""
    out: list[Obj] = []
    for name in dirs:
        for file in sorted((DEPLOY / name).rglob("*.yaml")):
            if file.name != "kustomization.yaml":
                out.extend(documents(file.read_text()))
    return out


def find(objs: list[Obj], kind: str, name: str | None = None) -> list[Obj]:
    """Objects of a kind (and name)."""
    return [
        o for o in objs if o.get("kind") == kind and (name is None or o["metadata"]["name"] == name)
    ]


def one(objs: list[Obj], kind: str, name: str) -> Obj:
    """The single object of a kind and name."""
    found = find(objs, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def strict(definitions: dict[str, Any]) -> dict[str, Any]:
    """Argo's definitions with unknown properties forbidden (upstream allows any), so typos fail."""
    out = copy.deepcopy(definitions)
    for schema in out.values():
        if (
            isinstance(schema, dict)
            and schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
        ):
            schema["additionalProperties"] = False
    return out
