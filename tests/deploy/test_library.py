"""The WorkflowTemplate library: the source document's DAG, runnable by Operations, hardened."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from policies import loader
from reconciler import materialize
from tests.deploy import helpers as c
from webhooks import clusterview, manifests, resolve, review, workflows

POLICY = loader.load_policy(None)
NAMES = {"app-migration-with-snapshot", "pg-dump-export", "tenant-prewarm"}
# The source document's DAG: task -> (template, dependencies, when).
SOURCE_DAG = {
    "prechecks": ("run-prechecks", None, None),
    "quiesce": ("invoke-quiesce", ["prechecks"], None),
    "snapshot": ("take-snapshot", ["quiesce"], None),
    "migrate": ("bump-chart-version", ["snapshot"], None),
    "verify": ("run-postchecks", ["migrate"], None),
    "unquiesce": ("invoke-unquiesce", ["verify"], "{{tasks.verify.outputs.result}} == ok"),
    "rollback": (
        "rollback-from-snapshot",
        ["verify"],
        "{{tasks.verify.outputs.result}} != ok && "
        "{{workflow.parameters.failureAction}} == rollback",
    ),
}


@pytest.fixture(scope="module")
def library() -> dict[str, c.Obj]:
    objs = c.raw("workflows")
    assert {o["kind"] for o in objs} == {"ClusterWorkflowTemplate"}
    return {o["metadata"]["name"]: o for o in objs}


def test_the_library_is_the_three_templates_the_source_names(library: dict[str, c.Obj]) -> None:
    assert set(library) == NAMES
    for template in library.values():
        assert "namespace" not in template["metadata"]


def test_the_migration_is_the_source_documents_dag(library: dict[str, c.Obj]) -> None:
    spec = library["app-migration-with-snapshot"]["spec"]
    assert spec["entrypoint"] == "migrate"
    params = [(p["name"], p.get("value")) for p in spec["arguments"]["parameters"]]
    assert params == [
        ("targetName", None),
        ("targetNamespace", None),
        ("targetChartVersion", None),
        ("snapshotClassName", None),
        ("failureAction", "rollback"),
    ]
    templates = {t["name"]: t for t in spec["templates"]}
    tasks = {t["name"]: t for t in templates["migrate"]["dag"]["tasks"]}
    assert {
        name: (t["template"], t.get("dependencies"), t.get("when")) for name, t in tasks.items()
    } == SOURCE_DAG
    assert set(templates) == {"migrate"} | {t for t, _, _ in SOURCE_DAG.values()}
    snapshot = templates["take-snapshot"]["resource"]
    assert snapshot["action"] == "create"
    assert snapshot["successCondition"] == "status.readyToUse == true"
    assert "kind: VolumeSnapshot" in snapshot["manifest"]


def test_every_template_takes_the_target_the_reconciler_passes(
    library: dict[str, c.Obj],
) -> None:
    for template in library.values():
        names = [p["name"] for p in template["spec"]["arguments"]["parameters"]]
        assert names[:2] == ["targetName", "targetNamespace"]


def pod_templates(template: c.Obj) -> list[dict[str, Any]]:
    return [
        t[key] for t in template["spec"]["templates"] for key in ("script", "container") if key in t
    ]


def test_every_step_runs_hardened(library: dict[str, c.Obj]) -> None:
    for template in library.values():
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["podGC"] == {"strategy": "OnPodSuccess"}
        for body in pod_templates(template):
            sc = body["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert set(body["resources"]) == {"requests", "limits"}


def test_the_library_never_picks_a_service_account(library: dict[str, c.Obj]) -> None:
    """The Workflow names the runner; a template that chose its own SA would bypass that."""
    for template in library.values():
        spec = template["spec"]
        for node in [spec, *spec["templates"]]:
            for key in (
                "serviceAccountName",
                "executor",
                "podSpecPatch",
                "automountServiceAccountToken",
            ):
                assert key not in node


def test_the_library_validates_against_argos_schema(
    library: dict[str, c.Obj], argo_validator: Callable[[c.Obj], list[str]]
) -> None:
    assert {name: argo_validator(t) for name, t in library.items()} == {name: [] for name in NAMES}


def test_the_source_operation_materializes_into_a_workflow_the_guard_admits(
    library: dict[str, c.Obj], argo_validator: Callable[[c.Obj], list[str]]
) -> None:
    """Operation -> (library template) -> Workflow: valid for Argo, admitted for the operator."""
    examples = c.DEPLOY / "examples"
    if not (examples / "operation.yaml").is_file():
        pytest.skip("deploy/examples/operation.yaml not present")
    operation = manifests.load([examples / "operation.yaml"])[0]
    operation.setdefault("metadata", {})["uid"] = "9d33c0de-5f0e-4d8a-9a51-0a4a3c1f7e21"
    optemplate = {"spec": {"workflow": {"serviceAccountName": POLICY.runner_sa_name}}}
    template = library[operation["spec"]["parameters"]["template"]]
    workflow = materialize.materialize(
        operation, optemplate, resolve.Resolved(template, True), POLICY
    )
    assert argo_validator(workflow) == []
    names = [p["name"] for p in workflow["spec"]["arguments"]["parameters"]]
    assert names == [p["name"] for p in template["spec"]["arguments"]["parameters"]]
    view = clusterview.ClusterIndex(library.values())
    request = review.request_review(workflow, username=POLICY.operator_sa.username)
    assert workflows.validate_workflow(request, view, POLICY).allowed
    stranger = review.request_review(workflow, username="alice")
    assert workflows.validate_workflow(stranger, view, POLICY).reason == "WorkflowNotAllowed"


def test_kubectl_steps_have_a_writable_home(library: dict[str, c.Obj]) -> None:
    """kubectl writes its discovery cache under $HOME; the root filesystem is read-only."""
    for template in library.values():
        for step in template["spec"]["templates"]:
            body = step.get("script") or step.get("container") or {}
            if "kubectl" not in body.get("source", ""):
                continue
            env = {e["name"]: e["value"] for e in body.get("env", [])}
            mounts = {m["mountPath"] for m in body.get("volumeMounts", [])}
            assert env.get("HOME") in mounts, step["name"]
            volumes = {v["name"]: v for v in step.get("volumes", [])}
            (mount,) = [m for m in body["volumeMounts"] if m["mountPath"] == env["HOME"]]
            assert "emptyDir" in volumes[mount["name"]], step["name"]
