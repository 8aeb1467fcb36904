"""Materialization: the source document's Workflow, parameter rendering, the Argo JSON Schema."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from reconciler import materialize
from tests import strategies

# The source document's "materialized Workflow" with the uid elided there filled in, the
# ownerReference DESIGN asks for, and clusterScope true (DESIGN "Deviations": the library is
# installed as ClusterWorkflowTemplates).
EXPECTED_YAML = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: nextcloud-myteam-migrate-2026-05-28
  namespace: org-myteam
  labels:
    app.vworkspace.io/managed-by: vworkspace-operator
    app.vworkspace.io/cluster-id: cluster-prod-1
    ops.vworkspace.io/operation: 9d33c0de-5f0e-4d8a-9a51-0a4a3c1f7e21
  ownerReferences:
  - apiVersion: ops.vworkspace.io/v1alpha1
    kind: Operation
    name: nextcloud-myteam-migrate-2026-05-28
    uid: 9d33c0de-5f0e-4d8a-9a51-0a4a3c1f7e21
    controller: true
    blockOwnerDeletion: true
spec:
  workflowTemplateRef:
    name: app-migration-with-snapshot
    clusterScope: true
  serviceAccountName: vworkspace-operation-runner
  arguments:
    parameters:
    - { name: targetName, value: nextcloud-myteam }
    - { name: targetNamespace, value: org-myteam }
    - { name: targetChartVersion, value: "7.0.0" }
    - { name: snapshotClassName, value: csi-rbd }
    - { name: failureAction, value: rollback }
  activeDeadlineSeconds: 1800
"""


@dataclasses.dataclass(frozen=True)
class Resolved:
    """Stands in for webhooks.resolve.Resolved: the template and where it was found."""

    obj: dict[str, Any]
    cluster_scope: bool


@pytest.fixture(scope="module")
def validator(argo_reference: Path) -> jsonschema.Draft202012Validator:
    """A validator for the Workflow definition of Argo's published JSON Schema."""
    path = argo_reference / "jsonschema" / "schema.json"
    if not path.is_file():
        pytest.skip(f"Argo JSON Schema not found at {path}")
    schema = json.loads(path.read_text())
    root = {
        "$schema": schema["$schema"],
        "definitions": schema["definitions"],
        "$ref": "#/definitions/io.argoproj.workflow.v1alpha1.Workflow",
    }
    return jsonschema.Draft202012Validator(root)


def assert_valid_workflow(
    validator: jsonschema.Draft202012Validator, workflow: dict[str, Any]
) -> None:
    errors = sorted(validator.iter_errors(workflow), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_source_document_workflow(
    operation, optemplate, cluster_template, policy, validator
) -> None:
    got = materialize.materialize(operation, optemplate, Resolved(cluster_template, True), policy)
    assert got == yaml.safe_load(EXPECTED_YAML)
    assert_valid_workflow(validator, got)


def test_namespaced_template_gives_cluster_scope_false(operation, optemplate, policy) -> None:
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "org-tpl", "namespace": "org-myteam"},
        "spec": {"arguments": {"parameters": [{"name": "targetChartVersion"}]}},
    }
    got = materialize.materialize(operation, optemplate, Resolved(template, False), policy)
    assert got["spec"]["workflowTemplateRef"] == {"name": "org-tpl", "clusterScope": False}
    assert [p["name"] for p in got["spec"]["arguments"]["parameters"]] == [
        "targetName",
        "targetNamespace",
        "targetChartVersion",
    ]


def test_template_default_and_missing_parameters(operation, optemplate, policy) -> None:
    template = {
        "metadata": {"name": "t"},
        "spec": {
            "arguments": {
                "parameters": [
                    {"name": "retries", "default": "3"},
                    {"name": "mode", "value": "fast", "default": "slow"},
                    {"name": "nothing"},
                    {"name": "targetName", "value": "ignored"},
                    {"name": "failureAction", "value": "keep"},
                ]
            }
        },
    }
    params = materialize.materialize(operation, optemplate, Resolved(template, True), policy)[
        "spec"
    ]["arguments"]["parameters"]
    assert params == [
        {"name": "targetName", "value": "nextcloud-myteam"},
        {"name": "targetNamespace", "value": "org-myteam"},
        {"name": "retries", "value": "3"},
        {"name": "mode", "value": "fast"},
        {"name": "failureAction", "value": "rollback"},
    ]


def test_service_account_falls_back_to_policy(operation, cluster_template, policy) -> None:
    got = materialize.materialize(operation, {"spec": {}}, Resolved(cluster_template, True), policy)
    assert got["spec"]["serviceAccountName"] == policy.runner_sa_name


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("7.0.0", "7.0.0"),
        (1800, "1800"),
        (-3, "-3"),
        (True, "true"),
        (False, "false"),
        (1800.0, "1800"),
        (0.5, "0.5"),
        ({"a": 1, "b": [True, None]}, '{"a":1,"b":[true,null]}'),
        (["x", 2], '["x",2]'),
        ("", ""),
    ],
)
def test_render_value(value: Any, rendered: str) -> None:
    assert materialize.render_value(value) == rendered


@pytest.mark.parametrize(
    ("timeout", "deadline"),
    [(1800, 1800), (60.0, 60), ("90", 90), (0, None), (-5, None), (True, None), ("x", None)],
)
def test_active_deadline(operation, timeout: Any, deadline: int | None) -> None:
    operation["spec"]["parameters"]["timeoutSeconds"] = timeout
    assert materialize.active_deadline(operation) == deadline


def test_no_timeout_no_deadline(operation, optemplate, cluster_template, policy) -> None:
    del operation["spec"]["parameters"]["timeoutSeconds"]
    got = materialize.materialize(operation, optemplate, Resolved(cluster_template, True), policy)
    assert "activeDeadlineSeconds" not in got["spec"]


def test_owned_by(operation, optemplate, cluster_template, policy) -> None:
    wf = materialize.materialize(operation, optemplate, Resolved(cluster_template, True), policy)
    mine = policy.managed_by
    assert materialize.owned_by(wf, operation, managed_by=mine)
    stranger = {"metadata": {"name": wf["metadata"]["name"], "labels": {}}}
    assert not materialize.owned_by(stranger, operation, managed_by=mine)
    other = {"metadata": {"uid": "another"}}
    assert not materialize.owned_by(wf, other, managed_by=mine)
    # the operation label alone (anyone can copy the uid) is not ownership: the managed-by
    # label, which only the operator may set, must be there too
    forged = {"metadata": {"labels": {materialize.OPERATION_LABEL: operation["metadata"]["uid"]}}}
    assert not materialize.owned_by(forged, operation, managed_by=mine)
    relabelled = {
        **wf,
        "metadata": {
            **wf["metadata"],
            "labels": {**wf["metadata"]["labels"], materialize.MANAGED_BY_LABEL: "someone"},
        },
    }
    assert not materialize.owned_by(relabelled, operation, managed_by=mine)


json_values = strategies.json_values(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    st.text(max_size=8),
)
param_names = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_-]{0,15}", fullmatch=True)
k8s_names = st.from_regex(r"[a-z]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


@given(
    name=k8s_names,
    namespace=k8s_names,
    target=k8s_names,
    given_params=st.dictionaries(param_names, json_values, max_size=6),
    declared=st.lists(
        st.fixed_dictionaries(
            {"name": param_names},
            optional={"value": st.text(max_size=10), "default": st.text(max_size=10)},
        ),
        max_size=6,
    ),
    cluster_scope=st.booleans(),
    timeout=st.none() | st.integers(-10, 10**6),
)
def test_every_materialized_workflow_is_valid(
    name,
    namespace,
    target,
    given_params,
    declared,
    cluster_scope,
    timeout,
    optemplate,
    policy,
    validator,
) -> None:
    operation = {
        "metadata": {"name": name, "namespace": namespace, "uid": "u-1"},
        "spec": {"targetRef": {"name": target}, "parameters": dict(given_params)},
    }
    if timeout is not None:
        operation["spec"]["parameters"]["timeoutSeconds"] = timeout
    template = {"metadata": {"name": "tpl"}, "spec": {"arguments": {"parameters": declared}}}
    got = materialize.materialize(operation, optemplate, Resolved(template, cluster_scope), policy)
    assert_valid_workflow(validator, got)
    params = got["spec"]["arguments"]["parameters"]
    names = [p["name"] for p in params]
    assert names[:2] == ["targetName", "targetNamespace"]
    assert len(names) == len(set(names))
    assert all(isinstance(p["value"], str) for p in params)
    declared_order = [d["name"] for d in declared if d["name"] in names[2:]]
    assert names[2:] == list(dict.fromkeys(declared_order))
    assert got == materialize.materialize(
        operation, optemplate, Resolved(template, cluster_scope), policy
    )


def test_validator_rejects_a_broken_workflow(
    operation, optemplate, cluster_template, policy, validator
) -> None:
    got = materialize.materialize(operation, optemplate, Resolved(cluster_template, True), policy)
    got["spec"]["activeDeadlineSeconds"] = "1800"
    got["spec"]["arguments"]["parameters"][0]["value"] = 3
    assert len(list(validator.iter_errors(got))) >= 1
