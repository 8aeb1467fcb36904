"""Table tests of the Workflow guard: who may write managed Workflows, what they may hold."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest
import yaml

from policies import loader, model
from webhooks import clusterview, errors, review, workflows

POLICY = loader.load_policy(None)
OPERATOR = POLICY.operator_sa.username
ARGO = "system:serviceaccount:argo:argo"
ALICE = "alice@example.com"
RUNNER = POLICY.runner_sa_name
LABEL = workflows.label_path(workflows.MANAGED_BY_LABEL)

# The source document's materialized Workflow, as the reconciler creates it.
MANAGED = yaml.safe_load(
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: nextcloud-myteam-migrate-2026-05-28
  namespace: org-myteam
  labels:
    app.vworkspace.io/managed-by: vworkspace-operator
    app.vworkspace.io/cluster-id: cluster-prod-1
    ops.vworkspace.io/operation: 9d33c0de-5f0e-4d8a-9a51-0a4a3c1f7e21
spec:
  workflowTemplateRef: {name: app-migration-with-snapshot, clusterScope: true}
  serviceAccountName: vworkspace-operation-runner
  arguments:
    parameters:
      - {name: targetName, value: nextcloud-myteam}
      - {name: targetNamespace, value: org-myteam}
      - {name: targetChartVersion, value: "7.0.0"}
      - {name: snapshotClassName, value: csi-rbd}
      - {name: failureAction, value: rollback}
  activeDeadlineSeconds: 1800
"""
)

PLAIN = yaml.safe_load(
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: hello, namespace: org-myteam}
spec:
  entrypoint: main
  serviceAccountName: team-ci
  templates:
    - name: main
      container: {image: busybox, command: [echo, hi]}
"""
)

BORROWING_TEMPLATE = yaml.safe_load(
    """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: borrow, namespace: org-myteam}
spec:
  entrypoint: main
  serviceAccountName: vworkspace-operation-runner
  templates: [{name: main, container: {image: busybox}}]
"""
)
BORROWING_CLUSTER_TEMPLATE = yaml.safe_load(
    """
apiVersion: argoproj.io/v1alpha1
kind: ClusterWorkflowTemplate
metadata: {name: borrow-step}
spec:
  entrypoint: main
  templates: [{name: main, serviceAccountName: vworkspace-operation-runner, container: {image: busybox}}]
"""
)
VIEW = clusterview.ClusterIndex([BORROWING_TEMPLATE, BORROWING_CLUSTER_TEMPLATE])


def managed(**spec: Any) -> dict[str, Any]:
    """The materialized Workflow with spec keys replaced (None removes a key)."""
    obj = copy.deepcopy(MANAGED)
    for key, value in spec.items():
        if value is None:
            obj["spec"].pop(key, None)
        else:
            obj["spec"][key] = value
    return obj


def plain(**spec: Any) -> dict[str, Any]:
    obj = copy.deepcopy(PLAIN)
    obj["spec"].update(spec)
    return obj


def decide(
    obj: dict[str, Any],
    *,
    user: str = OPERATOR,
    operation: str = "CREATE",
    old: dict[str, Any] | None = None,
    policy: model.Policy = POLICY,
    view: clusterview.ClusterView = VIEW,
) -> Any:
    request = review.request_review(obj, operation=operation, old=old, username=user)
    return workflows.validate_workflow(request, view, policy)


def fields(decision: Any) -> list[str]:
    return [c.field for c in decision.causes]


# --- managed Workflows ------------------------------------------------------------------------


def test_the_materialized_workflow_is_allowed_for_the_operator() -> None:
    decision = decide(MANAGED)
    assert decision.allowed and not decision.warnings


@pytest.mark.parametrize("user", [ALICE, ARGO, "", "system:serviceaccount:org-myteam:default"])
def test_only_the_operator_creates_managed_workflows(user: str) -> None:
    decision = decide(MANAGED, user=user)
    assert not decision.allowed
    assert (decision.reason, decision.code) == ("WorkflowNotAllowed", 403)
    assert decision.message.startswith("WorkflowNotAllowed: only " + OPERATOR)
    assert fields(decision) == [LABEL]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("templates", [{"name": "main", "container": {"image": "busybox"}}]),
        ("podSpecPatch", '{"hostNetwork": true}'),
        ("templateDefaults", {"timeout": "1h"}),
        ("hooks", {"exit": {"template": "cleanup"}}),
        ("volumes", [{"name": "host", "hostPath": {"path": "/"}}]),
        ("podGC", {"strategy": "OnWorkflowSuccess"}),
        ("executor", {"serviceAccountName": "vworkspace-operation-runner"}),
        ("entrypoint", "rollback-from-snapshot"),
        ("onExit", "cleanup"),
        ("securityContext", {"runAsUser": 0}),
        ("volumeClaimTemplates", [{"metadata": {"name": "x"}}]),
    ],
)
def test_a_managed_workflow_holds_only_a_template_reference(key: str, value: Any) -> None:
    decision = decide(managed(**{key: value}))
    assert (decision.allowed, decision.reason, decision.code) == (False, "WorkflowNotAllowed", 403)
    assert fields(decision) == [f"spec.{key}"]
    assert f"spec.{key}" in decision.message


def test_every_forbidden_field_is_listed_at_once() -> None:
    decision = decide(managed(templates=[], podSpecPatch="{}", volumes=[]))
    assert fields(decision) == ["spec.podSpecPatch", "spec.templates", "spec.volumes"]


@pytest.mark.parametrize(
    ("ref", "field"),
    [
        (None, "spec.workflowTemplateRef.name"),
        ({}, "spec.workflowTemplateRef.name"),
        ({"name": ""}, "spec.workflowTemplateRef.name"),
        ("app-migration-with-snapshot", "spec.workflowTemplateRef.name"),
        ({"name": "x", "namespace": "vworkspace-system"}, "spec.workflowTemplateRef.namespace"),
    ],
)
def test_a_managed_workflow_names_its_template(ref: Any, field: str) -> None:
    obj = managed(workflowTemplateRef=ref)
    decision = decide(obj)
    assert decision.reason == "WorkflowNotAllowed"
    assert field in fields(decision)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        (
            {"parameters": [{"name": "x", "valueFrom": {"configMapKeyRef": {"name": "c"}}}]},
            "spec.arguments.parameters[0].valueFrom",
        ),
        ({"artifacts": [{"name": "a", "http": {"url": "https://x"}}]}, "spec.arguments.artifacts"),
        ({"parameters": "x"}, "spec.arguments.parameters"),
        ({"parameters": ["x"]}, "spec.arguments.parameters[0]"),
        ([1], "spec.arguments"),
    ],
)
def test_arguments_carry_plain_values_only(arguments: Any, field: str) -> None:
    decision = decide(managed(arguments=arguments))
    assert decision.reason == "WorkflowNotAllowed"
    assert fields(decision) == [field]


@pytest.mark.parametrize("sa", ["default", "vworkspace-operator", "", 7])
def test_a_managed_workflow_runs_as_the_runner(sa: Any) -> None:
    decision = decide(managed(serviceAccountName=sa))
    assert (decision.allowed, decision.reason, decision.code) == (
        False,
        "ServiceAccountNotAllowed",
        403,
    )
    assert fields(decision) == ["spec.serviceAccountName"]
    assert decision.message.startswith("ServiceAccountNotAllowed: ")


def test_a_managed_workflow_without_a_service_account_is_denied() -> None:
    decision = decide(managed(serviceAccountName=None))
    assert decision.reason == "ServiceAccountNotAllowed"
    assert fields(decision) == ["spec.serviceAccountName"]


def test_the_operator_never_runs_a_workflow() -> None:
    obj = managed(serviceAccountName=POLICY.operator_sa.name)
    obj["metadata"]["namespace"] = POLICY.operator_sa.namespace
    decision = decide(obj)
    assert decision.reason == "ServiceAccountNotAllowed"
    assert "operator's own service account" in decision.message
    # Even when the policy would (mis)name the operator's SA as the runner.
    odd = dataclasses.replace(POLICY, runner_sa_name=POLICY.operator_sa.name)
    assert decide(obj, policy=odd).reason == "ServiceAccountNotAllowed"


def test_shape_is_checked_before_the_service_account() -> None:
    decision = decide(managed(templates=[], serviceAccountName="default"))
    assert decision.reason == "WorkflowNotAllowed"


# --- enforcement modes -----------------------------------------------------------------------


def with_modes(**modes: str) -> model.Policy:
    return dataclasses.replace(POLICY, enforcement={**POLICY.enforcement, **modes})


def test_warn_admits_with_the_message_as_warning() -> None:
    policy = with_modes(WorkflowNotAllowed="warn")
    decision = decide(managed(podSpecPatch="{}"), policy=policy)
    assert decision.allowed
    assert decision.warnings and decision.warnings[0].startswith("WorkflowNotAllowed: ")


def test_warn_on_one_rule_still_enforces_the_next() -> None:
    policy = with_modes(WorkflowNotAllowed="warn")
    decision = decide(managed(podSpecPatch="{}", serviceAccountName="default"), policy=policy)
    assert decision.reason == "ServiceAccountNotAllowed"
    assert decision.warnings[0].startswith("WorkflowNotAllowed")


def test_off_skips_the_rule() -> None:
    policy = with_modes(WorkflowNotAllowed="off", ServiceAccountNotAllowed="off")
    decision = decide(managed(podSpecPatch="{}", serviceAccountName="default"), policy=policy)
    assert decision.allowed and not decision.warnings
    assert decide(plain(serviceAccountName=RUNNER), policy=policy).allowed


# --- what others may do to a managed Workflow ------------------------------------------------


def argo_status_update(obj: dict[str, Any]) -> dict[str, Any]:
    """What Argo's controller writes: status and its own labels on the main resource."""
    new = copy.deepcopy(obj)
    new["metadata"]["labels"]["workflows.argoproj.io/phase"] = "Succeeded"
    new["metadata"]["labels"]["workflows.argoproj.io/completed"] = "true"
    new["metadata"].setdefault("finalizers", []).append("workflows.argoproj.io/artifact-gc")
    new["status"] = {"phase": "Succeeded", "progress": "6/6", "nodes": {}}
    return new


@pytest.mark.parametrize("user", [ARGO, ALICE, OPERATOR])
def test_status_and_label_updates_are_allowed(user: str) -> None:
    decision = decide(argo_status_update(MANAGED), user=user, operation="UPDATE", old=MANAGED)
    assert decision.allowed


def test_argo_finishes_a_managed_workflow_that_predates_stricter_rules() -> None:
    legacy = managed(podGC={"strategy": "OnPodSuccess"})
    decision = decide(argo_status_update(legacy), user=ARGO, operation="UPDATE", old=legacy)
    assert decision.allowed


@pytest.mark.parametrize(
    "change",
    [
        {"suspend": True},
        {"shutdown": "Stop"},
        {"shutdown": "Terminate"},
        {"activeDeadlineSeconds": 0},
        {"activeDeadlineSeconds": 600},
    ],
)
def test_lifecycle_controls_stay_open_to_humans(change: dict[str, Any]) -> None:
    decision = decide(managed(**change), user=ALICE, operation="UPDATE", old=MANAGED)
    assert decision.allowed


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"activeDeadlineSeconds": 86400}, "spec.activeDeadlineSeconds"),
        ({"activeDeadlineSeconds": None}, "spec.activeDeadlineSeconds"),
        ({"serviceAccountName": "default"}, "spec.serviceAccountName"),
        ({"arguments": {"parameters": []}}, "spec.arguments"),
        ({"podSpecPatch": "{}"}, "spec.podSpecPatch"),
        (
            {"workflowTemplateRef": {"name": "other", "clusterScope": True}},
            "spec.workflowTemplateRef",
        ),
    ],
)
def test_others_do_not_change_a_managed_spec(change: dict[str, Any], field: str) -> None:
    decision = decide(managed(**change), user=ALICE, operation="UPDATE", old=MANAGED)
    assert (decision.reason, decision.code) == ("WorkflowNotAllowed", 403)
    assert fields(decision) == [field]
    assert "change the spec or ownership labels" in decision.message


@pytest.mark.parametrize("label", workflows.OWNERSHIP_LABELS)
def test_others_do_not_remove_ownership_labels(label: str) -> None:
    new = copy.deepcopy(MANAGED)
    del new["metadata"]["labels"][label]
    decision = decide(new, user=ARGO, operation="UPDATE", old=MANAGED)
    assert decision.reason == "WorkflowNotAllowed"
    assert fields(decision) == [workflows.label_path(label)]


def test_others_do_not_adopt_a_workflow_into_management() -> None:
    new = copy.deepcopy(PLAIN)
    new["metadata"]["labels"] = {workflows.MANAGED_BY_LABEL: POLICY.managed_by}
    decision = decide(new, user=ALICE, operation="UPDATE", old=PLAIN)
    assert decision.reason == "WorkflowNotAllowed"
    assert fields(decision) == [LABEL]


def test_a_spec_change_by_the_operator_is_checked_again() -> None:
    decision = decide(managed(templates=[]), operation="UPDATE", old=MANAGED)
    assert decision.reason == "WorkflowNotAllowed"


@pytest.mark.parametrize("user", [ALICE, ARGO])
def test_delete_connect_and_subresources_are_allowed(user: str) -> None:
    delete = review.request_review(MANAGED, operation="DELETE", username=user)
    assert workflows.validate_workflow(delete, VIEW, POLICY).allowed
    status = dataclasses.replace(
        review.request_review(
            managed(templates=[]), operation="UPDATE", old=MANAGED, username=user
        ),
        sub_resource="status",
    )
    assert workflows.validate_workflow(status, VIEW, POLICY).allowed


# --- Workflows that are not managed ----------------------------------------------------------


def test_a_plain_workflow_with_its_own_service_account_is_allowed() -> None:
    assert decide(PLAIN, user=ALICE).allowed
    assert decide(plain(serviceAccountName=None), user=ALICE).allowed


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"serviceAccountName": RUNNER}, "spec.serviceAccountName"),
        ({"executor": {"serviceAccountName": RUNNER}}, "spec.executor.serviceAccountName"),
        (
            {"templates": [{"name": "main", "serviceAccountName": RUNNER}]},
            "spec.templates[0].serviceAccountName",
        ),
        (
            {"templates": [{"name": "m", "executor": {"serviceAccountName": RUNNER}}]},
            "spec.templates[0].executor.serviceAccountName",
        ),
        (
            {"templateDefaults": {"serviceAccountName": RUNNER}},
            "spec.templateDefaults.serviceAccountName",
        ),
        ({"podSpecPatch": json.dumps({"serviceAccountName": RUNNER})}, "spec.podSpecPatch"),
        ({"podSpecPatch": f"serviceAccount: {RUNNER}\n"}, "spec.podSpecPatch"),
        ({"podSpecPatch": f'{{"serviceAccountName": "{RUNNER}"'}, "spec.podSpecPatch"),
        (
            {"templates": [{"name": "m", "podSpecPatch": f"serviceAccountName: {RUNNER}"}]},
            "spec.templates[0].podSpecPatch",
        ),
        (
            {
                "serviceAccountName": "{{workflow.parameters.sa}}",
                "arguments": {"parameters": [{"name": "sa", "value": RUNNER}]},
            },
            "spec.serviceAccountName",
        ),
        (
            {"workflowTemplateRef": {"name": "borrow"}, "templates": None},
            "spec.workflowTemplateRef",
        ),
        (
            {
                "workflowTemplateRef": {"name": "borrow-step", "clusterScope": True},
                "templates": None,
            },
            "spec.workflowTemplateRef",
        ),
    ],
)
def test_nobody_borrows_the_runner(spec: dict[str, Any], field: str) -> None:
    obj = plain(**spec)
    obj["spec"] = {k: v for k, v in obj["spec"].items() if v is not None}
    if "serviceAccountName" not in spec:
        obj["spec"].pop("serviceAccountName")
    decision = decide(obj, user=ALICE)
    assert (decision.allowed, decision.reason, decision.code) == (
        False,
        "ServiceAccountNotAllowed",
        403,
    )
    assert field in fields(decision)
    assert decision.message.startswith("ServiceAccountNotAllowed: the reserved service accounts (")
    assert f"({RUNNER}) run only Workflows the operator creates" in decision.message


def test_the_workflow_overriding_a_templates_service_account_is_allowed() -> None:
    obj = plain(workflowTemplateRef={"name": "borrow"}, serviceAccountName="team-ci")
    del obj["spec"]["templates"]
    assert decide(obj, user=ALICE).allowed


def test_an_absent_template_is_not_this_guards_business() -> None:
    obj = plain(workflowTemplateRef={"name": "missing"})
    assert decide(obj, user=ALICE).allowed


def test_the_operator_sa_is_reserved_in_its_own_namespace_only() -> None:
    obj = plain(serviceAccountName=POLICY.operator_sa.name)
    assert decide(obj, user=ALICE).allowed  # another namespace: a different SA of that name
    obj["metadata"]["namespace"] = POLICY.operator_sa.namespace
    assert decide(obj, user=ALICE).reason == "ServiceAccountNotAllowed"


def test_argo_finishes_a_workflow_that_borrowed_the_runner_before_the_guard() -> None:
    old = plain(serviceAccountName=RUNNER)
    new = copy.deepcopy(old)
    new["status"] = {"phase": "Running"}
    new["metadata"]["labels"] = {"workflows.argoproj.io/phase": "Running"}
    assert decide(new, user=ARGO, operation="UPDATE", old=old).allowed
    stopped = copy.deepcopy(new)
    stopped["spec"]["shutdown"] = "Stop"
    assert decide(stopped, user=ALICE, operation="UPDATE", old=new).allowed


def test_an_update_that_introduces_the_runner_is_denied() -> None:
    new = plain(serviceAccountName=RUNNER)
    decision = decide(new, user=ALICE, operation="UPDATE", old=PLAIN)
    assert decision.reason == "ServiceAccountNotAllowed"


# --- wire form and bad input -----------------------------------------------------------------


def test_the_denial_on_the_wire() -> None:
    decision = decide(plain(serviceAccountName=RUNNER), user=ALICE)
    status = review.response("u-1", decision)["response"]["status"]
    assert status["code"] == 403 and status["reason"] == "ServiceAccountNotAllowed"
    assert status["message"].startswith("ServiceAccountNotAllowed")
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueForbidden",
            "field": "spec.serviceAccountName",
            "message": f"runs as the reserved service account '{RUNNER}'",
        }
    ]


def test_a_create_without_an_object_is_a_malformed_review() -> None:
    request = review.AdmissionRequest(uid="u", operation="CREATE", kind="Workflow")
    with pytest.raises(errors.MalformedReview, match=r"request\.object"):
        workflows.validate_workflow(request, VIEW, POLICY)


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"metadata": "x", "spec": []},
        {"metadata": {"labels": "x"}, "spec": {"templates": "x", "executor": 1}},
        {"metadata": {"labels": {workflows.MANAGED_BY_LABEL: "vworkspace-operator"}}, "spec": 3},
        {"spec": {"podSpecPatch": 5, "templateDefaults": [], "workflowTemplateRef": "x"}},
    ],
)
def test_odd_shapes_never_crash(obj: dict[str, Any]) -> None:
    for user in (OPERATOR, ALICE):
        for operation in ("CREATE", "UPDATE"):
            request = review.AdmissionRequest(
                uid="u",
                operation=operation,
                kind="Workflow",
                object=obj,
                old_object=obj if operation == "UPDATE" else None,
                user=review.UserInfo(username=user),
            )
            decision = workflows.validate_workflow(request, VIEW, POLICY)
            assert decision.allowed or decision.message.startswith(decision.reason)


# --- templates reached by reference ----------------------------------------------------------

SNEAKY = yaml.safe_load(
    """
apiVersion: argoproj.io/v1alpha1
kind: ClusterWorkflowTemplate
metadata: {name: sneaky}
spec:
  entrypoint: main
  serviceAccountName: overridden-by-the-workflow
  templates:
    - {name: main, steps: [[{name: s, template: admin}]]}
    - {name: admin, serviceAccountName: org-admin, container: {image: busybox}}
"""
)
OVERRIDDEN = yaml.safe_load(
    """
apiVersion: argoproj.io/v1alpha1
kind: ClusterWorkflowTemplate
metadata: {name: overridden}
spec:
  entrypoint: main
  serviceAccountName: overridden-by-the-workflow
  templates: [{name: main, container: {image: busybox}}]
"""
)
REF_VIEW = clusterview.ClusterIndex(
    [BORROWING_TEMPLATE, BORROWING_CLUSTER_TEMPLATE, SNEAKY, OVERRIDDEN]
)


def test_a_managed_workflow_runs_no_template_that_picks_another_account() -> None:
    obj = managed(workflowTemplateRef={"name": "sneaky", "clusterScope": True})
    decision = decide(obj, view=REF_VIEW)
    assert (decision.reason, decision.code) == ("ServiceAccountNotAllowed", 403)
    assert fields(decision) == ["spec.workflowTemplateRef"]
    assert "'org-admin' at ClusterWorkflowTemplate sneaky spec.templates[1]" in decision.message


def test_a_templates_top_level_account_is_overridden_by_the_runner() -> None:
    obj = managed(workflowTemplateRef={"name": "overridden", "clusterScope": True})
    assert decide(obj, view=REF_VIEW).allowed


@pytest.mark.parametrize(
    ("template", "field"),
    [
        (
            {
                "name": "main",
                "steps": [
                    [
                        {
                            "name": "s",
                            "templateRef": {
                                "name": "borrow-step",
                                "template": "main",
                                "clusterScope": True,
                            },
                        }
                    ]
                ],
            },
            "spec.templates[0].steps[0][0].templateRef",
        ),
        (
            {
                "name": "main",
                "dag": {
                    "tasks": [{"name": "t", "templateRef": {"name": "borrow", "template": "main"}}]
                },
            },
            None,
        ),
        (
            {
                "name": "main",
                "dag": {
                    "tasks": [
                        {"name": "a"},
                        {
                            "name": "t",
                            "templateRef": {
                                "name": "borrow-step",
                                "template": "main",
                                "clusterScope": True,
                            },
                        },
                    ]
                },
            },
            "spec.templates[0].dag.tasks[1].templateRef",
        ),
    ],
)
def test_steps_do_not_borrow_the_runner_through_template_refs(
    template: dict[str, Any], field: str | None
) -> None:
    obj = plain(templates=[template])
    decision = decide(obj, user=ALICE, view=REF_VIEW)
    if field is None:  # `borrow` sets its SA at the top level only, which a step never uses
        assert decision.allowed
    else:
        assert decision.reason == "ServiceAccountNotAllowed"
        assert fields(decision) == [field]
        assert "ClusterWorkflowTemplate borrow-step spec.templates[0].serviceAccountName" in (
            decision.causes[0].message
        )


def test_the_handler_routes_workflows_to_the_guard() -> None:
    from webhooks import handler

    request = review.request_review(plain(serviceAccountName=RUNNER), username=ALICE)
    decision = handler.handle("/validate/workflows", request, VIEW, POLICY)
    assert (decision.reason, decision.code) == ("ServiceAccountNotAllowed", 403)
    assert handler.handle(
        "/validate/workflows", review.request_review(MANAGED, username=OPERATOR), VIEW, POLICY
    ).allowed


CUSTOM_RUNNER_TEMPLATE = {
    "apiVersion": "ops.vworkspace.io/v1alpha1",
    "kind": "OperationTemplate",
    "metadata": {"name": "custom-runner-migration"},
    "spec": {
        "type": "Migration",
        "engine": "workflow",
        "workflow": {"serviceAccountName": "custom-runner"},
    },
}


def test_a_runner_an_operation_template_names_runs_managed_workflows_and_is_reserved() -> None:
    """DESIGN lets an OperationTemplate pick its runner: the guard admits the Workflow the
    reconciler materializes with it, and keeps every other Workflow off it."""
    view = clusterview.ClusterIndex([BORROWING_TEMPLATE, CUSTOM_RUNNER_TEMPLATE])
    assert workflows.runner_names(view, POLICY) == tuple(sorted(["custom-runner", RUNNER]))
    assert decide(managed(serviceAccountName="custom-runner"), view=view).allowed
    elsewhere = decide(managed(serviceAccountName="someone-else"), view=view)
    assert elsewhere.reason == "ServiceAccountNotAllowed"
    assert "custom-runner" in elsewhere.message
    obj = plain(serviceAccountName="custom-runner")
    borrowed = decide(obj, user=ALICE, view=view)
    assert (borrowed.allowed, borrowed.reason) == (False, "ServiceAccountNotAllowed")
    assert decide(obj, user=ALICE).allowed  # without that template, custom-runner is anyone's
    view.delete(CUSTOM_RUNNER_TEMPLATE)
    assert decide(obj, user=ALICE, view=view).allowed
