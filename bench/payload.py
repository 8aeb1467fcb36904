"""Bench inputs: a realistic ~3 KB AdmissionReview of the source document's Operation, the
example cluster state, and a large state (10,000 WorkflowTemplates in 1,000 namespaces)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from webhooks import manifests
from webhooks.commands import demo

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "deploy" / "examples"


def state_objects() -> list[dict[str, Any]]:
    """The example cluster state plus the WorkflowTemplate library (what `opgate demo` serves)."""
    return manifests.load([REPO / path for path in demo.CLUSTER_STATE])


def big_state_objects(templates: int = 10_000, namespaces: int = 1_000) -> list[dict[str, Any]]:
    """The example state plus `namespaces` Namespaces holding `templates` WorkflowTemplates."""
    objs = state_objects()
    for n in range(namespaces):
        objs.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"org-bench-{n:04d}"}}
        )
    for t in range(templates):
        ns = f"org-bench-{t % namespaces:04d}"
        objs.append(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "WorkflowTemplate",
                "metadata": {"name": f"bench-template-{t:05d}", "namespace": ns},
                "spec": {
                    "entrypoint": "main",
                    "arguments": {
                        "parameters": [{"name": "targetName"}, {"name": "x", "value": "1"}]
                    },
                    "templates": [{"name": "main", "container": {"image": "busybox"}}],
                },
            }
        )
    return objs


def write_state(objects: list[dict[str, Any]], path: Path) -> Path:
    """The objects as one JSON List manifest."""
    path.write_bytes(orjson.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    return path


def operation() -> dict[str, Any]:
    """The source document's Operation as kube-apiserver holds it at CREATE (server fields)."""
    op = manifests.load([EXAMPLES / "operation.yaml"])[0]
    applied = orjson.dumps(op).decode()
    meta = op["metadata"]
    meta.update(
        {
            "uid": "5b0d4c6e-8f1a-4c2b-9d3e-7a6f5e4d3c2b",
            "generation": 1,
            "creationTimestamp": "2026-05-28T09:14:03Z",
            "labels": {"app.vworkspace.io/instance": "nextcloud-myteam", "team": "myteam"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied + "\n"},
            "managedFields": [
                {
                    "manager": "kubectl-client-side-apply",
                    "operation": "Update",
                    "apiVersion": "ops.vworkspace.io/v1alpha1",
                    "time": "2026-05-28T09:14:03Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {
                        "f:metadata": {
                            "f:annotations": {
                                ".": {},
                                "f:kubectl.kubernetes.io/last-applied-configuration": {},
                            },
                            "f:labels": {".": {}, "f:app.vworkspace.io/instance": {}, "f:team": {}},
                        },
                        "f:spec": {
                            ".": {},
                            "f:engine": {},
                            "f:parameters": {
                                ".": {},
                                "f:failureAction": {},
                                "f:snapshotClassName": {},
                                "f:targetChartVersion": {},
                                "f:template": {},
                                "f:timeoutSeconds": {},
                            },
                            "f:targetRef": {
                                ".": {},
                                "f:apiVersion": {},
                                "f:kind": {},
                                "f:name": {},
                            },
                            "f:type": {},
                        },
                    },
                }
            ],
        }
    )
    return op


def review(uid: str = "0f5c3a9e-1d2b-4c7a-8e6f-9b0a1c2d3e4f") -> dict[str, Any]:
    """The AdmissionReview kube-apiserver sends to /validate/operations for that CREATE."""
    op = operation()
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "ops.vworkspace.io", "version": "v1alpha1", "kind": "Operation"},
            "resource": {"group": "ops.vworkspace.io", "version": "v1alpha1", "resource": "operations"},
            "requestKind": {"group": "ops.vworkspace.io", "version": "v1alpha1", "kind": "Operation"},
            "requestResource": {"group": "ops.vworkspace.io", "version": "v1alpha1", "resource": "operations"},
            "name": op["metadata"]["name"],
            "namespace": op["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": {
                "username": "oidc:alice@myteam.example.com",
                "uid": "9d8c7b6a-5f4e-3d2c-1b0a-abcdef012345",
                "groups": ["oidc:org-myteam-operators", "oidc:developers", "system:authenticated"],
                "extra": {"authentication.kubernetes.io/credential-id": ["JTI=1f2e3d4c-5b6a-7980"]},
            },
            "object": op,
            "oldObject": None,
            "dryRun": False,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl-client-side-apply", "fieldValidation": "Strict"},
        },
    }  # fmt: skip


if __name__ == "__main__":
    # `python bench/payload.py > review.json`: the example AdmissionReview, e.g. for curl.
    print(orjson.dumps(review(), option=orjson.OPT_INDENT_2).decode())
