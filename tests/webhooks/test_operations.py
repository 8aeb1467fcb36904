"""Table tests: one realistic manifest set per deny reason, admits, modes, UPDATE and DELETE."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policies import model
from tests.webhooks import builders
from webhooks import clusterview, decisions, errors, manifests, operations, review
from webhooks.commands import decide

from .conftest import EXAMPLES

BAD = {
    "01-unknown-engine.yaml": ("UnknownEngine", 422, ["spec.engine"]),
    "02-engine-not-installed.yaml": ("EngineNotInstalled", 403, ["spec.engine"]),
    "03-operation-template-not-found.yaml": ("OperationTemplateNotFound", 422, ["spec.type"]),
    "04-target-not-found.yaml": ("TargetNotFound", 422, ["spec.targetRef.name"]),
    "05-parameters-invalid.yaml": (
        "ParametersInvalid",
        422,
        [
            "spec.parameters.dryRun",
            "spec.parameters.targetChartVersion",
            "spec.parameters.timeoutSeconds",
        ],
    ),
    "06-template-only-in-other-namespace.yaml": (
        "TemplateNotFound",
        422,
        ["spec.parameters.template"],
    ),
    "07-template-argument-missing.yaml": (
        "TemplateArgumentMissing",
        422,
        ["spec.parameters.snapshotClassName"],
    ),
    "08-service-account-not-allowed.yaml": ("ServiceAccountNotAllowed", 403, []),
    "09-field-immutable.yaml": ("FieldImmutable", 422, ["spec.parameters.targetChartVersion"]),
    "10-invalid-input-schema.yaml": (
        "InvalidInputSchema",
        422,
        ["spec.inputSchema.properties.template.type", "spec.inputSchema.required"],
    ),
}


def validate(obj: dict[str, Any], view: Any, policy: model.Policy) -> decisions.Decision:
    return operations.validate_operation(builders.create(obj), view, policy)


def test_source_document_operation_is_admitted(operation, view, policy):
    decision = validate(operation, view, policy)
    assert decision == decisions.allowed()


@pytest.mark.parametrize("file", sorted(BAD))
def test_each_bad_example_is_denied_with_its_reason(file, view, policy):
    reason, code, fields = BAD[file]
    (obj,) = manifests.load([EXAMPLES / "bad" / file])
    result = decide.judge(obj, view, policy)
    assert result.decision.allowed is False
    assert result.decision.reason == reason
    assert result.decision.code == code
    assert result.decision.message.startswith(f"{reason}: ")
    assert [c.field for c in result.decision.causes] == fields


def test_template_in_other_namespace_message_explains_argo(view, policy):
    (obj,) = manifests.load([EXAMPLES / "bad" / "06-template-only-in-other-namespace.yaml"])
    message = validate(obj, view, policy).message
    assert "only in namespace vworkspace-system" in message
    assert "own namespace org-myteam" in message
    assert "ClusterWorkflowTemplate" in message


def without_crd(objects: list[dict[str, Any]], name: str) -> clusterview.ClusterIndex:
    return clusterview.ClusterIndex(o for o in objects if o["metadata"]["name"] != name)


@pytest.mark.parametrize("crd", ["workflows.argoproj.io", "workflowtemplates.argoproj.io"])
def test_missing_argo_crd_is_engine_not_installed(crd, state_objects, operation, policy):
    decision = validate(operation, without_crd(state_objects, crd), policy)
    assert (decision.reason, decision.code) == ("EngineNotInstalled", 403)
    assert crd in decision.message


@pytest.mark.parametrize(
    ("status", "admitted"),
    [
        ({"conditions": [{"type": "Established", "status": "False"}]}, False),
        ({"conditions": [{"type": "NamesAccepted", "status": "True"}]}, False),
        ({"conditions": [{"type": "Established", "status": "True"}]}, True),
        (None, True),
    ],
)
def test_crd_established_condition_decides(status, admitted, state_objects, operation, policy):
    objects = copy.deepcopy(state_objects)
    for obj in objects:
        if obj["metadata"]["name"] == "workflows.argoproj.io":
            if status is None:
                obj.pop("status", None)
            else:
                obj["status"] = status
    decision = validate(operation, clusterview.ClusterIndex(objects), policy)
    assert decision.allowed is admitted
    if not admitted:
        assert decision.reason == "EngineNotInstalled"
        assert "not Established" in decision.message


def test_first_failing_check_decides(operation, view, policy):
    operation["spec"]["engine"] = "velero"  # not installed, and no template: installed is first
    operation["spec"]["targetRef"]["name"] = "missing"
    assert validate(operation, view, policy).reason == "EngineNotInstalled"


def test_missing_engine_is_unknown_engine_with_required_cause(operation, view, policy):
    del operation["spec"]["engine"]
    decision = validate(operation, view, policy)
    assert decision.reason == "UnknownEngine"
    assert decision.causes[0].reason == "FieldValueRequired"


def test_two_templates_for_type_and_engine_are_ambiguous(operation, view, policy):
    twin = copy.deepcopy(view.operation_templates("Migration", "workflow")[0])
    twin["metadata"]["name"] = "migration-workflow-copy"
    view.upsert(twin)
    decision = validate(operation, view, policy)
    assert decision.reason == "OperationTemplateNotFound"
    assert "migration-workflow, migration-workflow-copy" in decision.message


def test_target_kind_not_allowed(operation, view, policy):
    operation["spec"]["targetRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"}
    decision = validate(operation, view, policy)
    assert decision.reason == "TargetNotFound"
    assert decision.causes[0].field == "spec.targetRef.kind"


def test_missing_template_parameter_is_parameters_invalid(operation, view, policy):
    template = view.operation_templates("Migration", "workflow")[0]
    template["spec"]["inputSchema"]["required"] = ["targetChartVersion"]
    view.upsert(template)
    del operation["spec"]["parameters"]["template"]
    decision = validate(operation, view, policy)
    assert decision.reason == "ParametersInvalid"
    assert [c.field for c in decision.causes] == ["spec.parameters.template"]


def test_namespaced_template_in_own_allowed_namespace_resolves(operation, view, policy):
    legacy = view.get(
        "argoproj.io", "WorkflowTemplate", "vworkspace-system", "legacy-app-migration"
    )
    local = copy.deepcopy(legacy)
    local["metadata"]["namespace"] = "org-myteam"
    view.upsert(local)
    operation["spec"]["parameters"]["template"] = "legacy-app-migration"
    assert validate(operation, view, policy).allowed


def test_namespaced_template_in_disallowed_namespace_is_not_found(operation, view, policy):
    legacy = view.get(
        "argoproj.io", "WorkflowTemplate", "vworkspace-system", "legacy-app-migration"
    )
    local = copy.deepcopy(legacy)
    local["metadata"]["namespace"] = "org-myteam"
    view.upsert(local)
    template = view.operation_templates("Migration", "workflow")[0]
    template["spec"]["workflow"]["allowedTemplateNamespaces"] = ["team-*"]
    view.upsert(template)
    operation["spec"]["parameters"]["template"] = "legacy-app-migration"
    decision = validate(operation, view, policy)
    assert decision.reason == "TemplateNotFound"
    assert "allowedTemplateNamespaces" in decision.message


def test_cluster_templates_can_be_disallowed(operation, view, policy):
    template = view.operation_templates("Migration", "workflow")[0]
    template["spec"]["workflow"]["allowClusterWorkflowTemplates"] = False
    view.upsert(template)
    decision = validate(operation, view, policy)
    assert decision.reason == "TemplateNotFound"
    assert "allowClusterWorkflowTemplates: false" in decision.message


def test_runner_missing_is_service_account_not_allowed(operation, view, policy):
    view.delete(view.get("", "ServiceAccount", "org-myteam", "vworkspace-operation-runner"))
    decision = validate(operation, view, policy)
    assert (decision.reason, decision.code) == ("ServiceAccountNotAllowed", 403)
    assert "does not exist" in decision.message


def test_operator_sa_as_runner_is_denied(operation, view, policy):
    template = view.operation_templates("Migration", "workflow")[0]
    template["spec"]["workflow"]["serviceAccountName"] = "vworkspace-operator"
    template["spec"]["workflow"]["allowedTemplateNamespaces"] = ["*"]
    view.upsert(template)
    target = view.get("apps.vworkspace.io", "ApplicationInstance", "org-myteam", "nextcloud-myteam")
    view.upsert(
        copy.deepcopy(target)
        | {"metadata": {"name": "nextcloud-myteam", "namespace": "vworkspace-system"}}
    )
    operation["metadata"]["namespace"] = "vworkspace-system"
    decision = validate(operation, view, policy)
    assert decision.reason == "ServiceAccountNotAllowed"
    assert "operator's own ServiceAccount" in decision.message


def test_runner_bound_in_another_namespace_is_denied(operation, view, policy):
    view.upsert(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "borrow-runner", "namespace": "org-shared"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [
                {
                    "kind": "ServiceAccount",
                    "name": "vworkspace-operation-runner",
                    "namespace": "org-myteam",
                }
            ],
        }
    )
    decision = validate(operation, view, policy)
    assert decision.reason == "ServiceAccountNotAllowed"
    assert "RoleBinding org-shared/borrow-runner" in decision.message


@pytest.mark.parametrize("file", sorted(f for f in BAD if not f.startswith(("09", "10"))))
def test_warn_mode_admits_with_a_short_warning(file, view, policy):
    reason = BAD[file][0]
    (obj,) = manifests.load([EXAMPLES / "bad" / file])
    decision = validate(obj, view, builders.with_modes(policy, **{reason: "warn"}))
    assert decision.reason != reason
    warned = [w for w in decision.warnings if w.startswith(f"{reason}: ")]
    assert len(warned) == 1
    assert all(len(w) <= decisions.MAX_WARNING for w in decision.warnings)
    fields = BAD[file][2]
    if fields:  # a warning too long for its message names the first field in error instead
        assert fields[0] in warned[0] or not warned[0].endswith("...")


def test_off_mode_skips_the_check_silently(view, policy):
    (obj,) = manifests.load([EXAMPLES / "bad" / "04-target-not-found.yaml"])
    decision = validate(obj, view, builders.with_modes(policy, TargetNotFound="off"))
    assert decision.allowed and not decision.warnings


def test_dry_run_is_decided_the_same(view, policy):
    (obj,) = manifests.load([EXAMPLES / "bad" / "04-target-not-found.yaml"])
    wet = operations.validate_operation(builders.create(obj), view, policy)
    dry = operations.validate_operation(builders.create(obj, dry_run=True), view, policy)
    assert wet == dry


def update(old: dict[str, Any], new: dict[str, Any], **kw: Any) -> review.AdmissionRequest:
    return review.request_review(new, operation="UPDATE", old=old, **kw)


def test_status_and_metadata_updates_are_admitted(operation, view, policy):
    new = copy.deepcopy(operation)
    new["metadata"]["labels"] = {"team": "myteam"}
    new["status"] = {"phase": "Running"}
    assert operations.validate_operation(update(operation, new), view, policy).allowed


def test_update_judges_spec_only_even_if_the_cluster_changed(operation, state_objects, policy):
    empty = clusterview.ClusterIndex()
    new = copy.deepcopy(operation)
    new["metadata"]["finalizers"] = ["ops.vworkspace.io/cleanup"]
    assert operations.validate_operation(update(operation, new), empty, policy).allowed


def test_spec_change_is_field_immutable_with_every_changed_path(operation, view, policy):
    new = copy.deepcopy(operation)
    new["spec"]["parameters"]["targetChartVersion"] = "8.0.0"
    new["spec"]["parameters"]["snapshotClassName"] = "csi-cephfs"
    decision = operations.validate_operation(update(operation, new), view, policy)
    assert (decision.reason, decision.code) == ("FieldImmutable", 422)
    assert [c.field for c in decision.causes] == [
        "spec.parameters.snapshotClassName",
        "spec.parameters.targetChartVersion",
    ]
    assert [c.message for c in decision.causes] == [
        'Invalid value: "csi-cephfs": field is immutable',
        'Invalid value: "8.0.0": field is immutable',
    ]
    assert {c.reason for c in decision.causes} == {"FieldValueInvalid"}


def test_field_immutable_paths_are_written_as_the_other_causes(operation, view, policy):
    """Keys that are not plain names are bracketed, as in ParametersInvalid's causes."""
    old = copy.deepcopy(operation)
    old["spec"]["notes"] = {"a.b": 1}
    new = copy.deepcopy(old)
    new["spec"]["notes"] = {"a.b": 2}
    decision = operations.validate_operation(update(old, new), view, policy)
    assert decision.reason == "FieldImmutable"
    assert [(c.field, c.message) for c in decision.causes] == [
        ("spec.notes[a.b]", "Invalid value: 2: field is immutable")
    ]


def test_changed_spec_on_update_runs_designs_checks_first(operation, view, policy):
    new = copy.deepcopy(operation)
    new["spec"]["engine"] = "ansible"
    assert operations.validate_operation(update(operation, new), view, policy).reason == (
        "UnknownEngine"
    )
    new = copy.deepcopy(operation)
    new["spec"]["parameters"]["extra"] = True
    decision = operations.validate_operation(update(operation, new), view, policy)
    assert decision.reason == "ParametersInvalid"


def test_update_without_old_object_is_a_malformed_review(operation, view, policy):
    request = review.request_review(operation, operation="UPDATE", old=None)
    with pytest.raises(errors.MalformedReview, match="oldObject is required"):
        operations.validate_operation(request, view, policy)


def test_non_string_engine_is_invalid_not_missing(operation, view, policy):
    operation["spec"]["engine"] = 5
    decision = validate(operation, view, policy)
    assert decision.reason == "UnknownEngine"
    assert decision.causes[0].message == "Invalid value: 5: must be a string"
    mutation = operations.mutate_operation(builders.create(operation), view, policy)
    assert mutation.patch == ()  # the user's value is reported, never overwritten


def test_status_subresource_and_delete_pass(operation, view, policy):
    broken = {"apiVersion": "ops.vworkspace.io/v1alpha1", "kind": "Operation", "metadata": {}}
    status = review.AdmissionRequest(
        uid="u", operation="UPDATE", kind="Operation", group="ops.vworkspace.io",
        sub_resource="status", object=broken, old_object=operation,
    )  # fmt: skip
    assert operations.validate_operation(status, view, policy).allowed
    delete = review.request_review(operation, operation="DELETE")
    assert operations.validate_operation(delete, view, policy).allowed


def test_run_checks_reports_each_check_in_order(operation, view, policy):
    results = operations.run_checks(operation, "org-myteam", view, policy)
    assert [r.check for r in results] == [
        "UnknownEngine",
        "EngineNotInstalled",
        "OperationTemplateNotFound",
        "TargetNotFound",
        "ParametersInvalid",
        "TemplateNotFound",
        "TemplateArgumentMissing",
        "ServiceAccountNotAllowed",
    ]
    assert {r.outcome for r in results} == {"pass"}


def test_builtin_engine_skips_installation_and_template_checks(operation, view, policy):
    job_template = copy.deepcopy(view.operation_templates("Migration", "workflow")[0])
    job_template["metadata"]["name"] = "migration-job"
    job_template["spec"]["engine"] = "job"
    view.upsert(job_template)
    operation["spec"]["engine"] = "job"
    results = operations.run_checks(operation, "org-myteam", view, policy)
    outcome = {r.check: r.outcome for r in results}
    assert outcome["EngineNotInstalled"] == "not-applicable"
    assert outcome["TemplateNotFound"] == "not-applicable"
    assert validate(operation, view, policy).allowed


@pytest.mark.parametrize(
    ("rules", "finding"),
    [
        ([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}], "RBAC003"),
        ([{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}], None),
        ([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}], "RBAC001"),
    ],
)
def test_runner_with_a_high_rbac_finding_in_its_namespace_is_denied(
    rules, finding, operation, view, policy
):
    role = view.get(
        "rbac.authorization.k8s.io", "Role", "org-myteam", "vworkspace-operation-runner"
    )
    view.upsert(role | {"rules": role["rules"] + rules})
    decision = validate(operation, view, policy)
    if finding is None:  # pods/exec in one namespace is medium: admitted
        assert decision.allowed
        return
    assert (decision.reason, decision.code) == ("ServiceAccountNotAllowed", 403)
    assert finding in decision.message
    assert "not least-privileged" in decision.message


def test_rbac_verdict_is_recomputed_after_a_write(operation, view, policy):
    assert validate(operation, view, policy).allowed
    role = view.get(
        "rbac.authorization.k8s.io", "Role", "org-myteam", "vworkspace-operation-runner"
    )
    secrets = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}
    view.upsert(role | {"rules": [*role["rules"], secrets]})
    assert validate(operation, view, policy).reason == "ServiceAccountNotAllowed"
    view.upsert(role)
    assert validate(operation, view, policy).allowed


def test_runner_bound_cluster_wide_as_its_username_is_denied(operation, view, policy):
    view.upsert(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "runner-by-username"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "User",
                    "name": "system:serviceaccount:org-myteam:vworkspace-operation-runner",
                }
            ],
        }
    )
    decision = validate(operation, view, policy)
    assert decision.reason == "ServiceAccountNotAllowed"
    assert "ClusterRoleBinding runner-by-username" in decision.message


@pytest.mark.parametrize(
    ("group", "labels", "denied"),
    [
        ("system:serviceaccounts:org-myteam", {}, True),
        ("system:serviceaccounts", {}, True),
        ("system:serviceaccounts", {"kubernetes.io/bootstrapping": "rbac-defaults"}, False),
        ("system:serviceaccounts:org-shared", {}, False),
    ],
)
def test_runner_bound_cluster_wide_through_its_groups(
    group, labels, denied, operation, view, policy
):
    view.upsert(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "sa-group-view", "labels": labels},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
        }
    )
    decision = validate(operation, view, policy)
    assert decision.allowed is not denied
    if denied:
        assert decision.reason == "ServiceAccountNotAllowed"
        assert f"binds its group {group} cluster-wide" in decision.message


def test_memoized_facts_follow_writes_to_the_same_view(operation, view, policy):
    """Template resolution, required arguments and the runner verdict are remembered per view
    and recomputed after a write to a kind they depend on."""
    assert validate(operation, view, policy).allowed
    cwt = view.get("argoproj.io", "ClusterWorkflowTemplate", "", "app-migration-with-snapshot")
    view.delete(cwt)
    assert validate(operation, view, policy).reason == "TemplateNotFound"
    changed = copy.deepcopy(cwt)
    changed["spec"]["arguments"]["parameters"].append({"name": "approvedBy"})
    view.upsert(changed)
    decision = validate(operation, view, policy)
    assert decision.reason == "TemplateArgumentMissing"
    assert [c.field for c in decision.causes] == ["spec.parameters.approvedBy"]
    view.upsert(cwt)
    assert validate(operation, view, policy).allowed
    runner = view.get("", "ServiceAccount", "org-myteam", "vworkspace-operation-runner")
    view.delete(runner)
    assert validate(operation, view, policy).reason == "ServiceAccountNotAllowed"
    view.upsert(runner)
    assert validate(operation, view, policy).allowed


def test_requested_template_names_cannot_grow_the_memo_without_bound(operation, view, policy):
    for i in range(clusterview.MEMO_LIMIT + 50):
        operation["spec"]["parameters"]["template"] = f"no-such-template-{i}"
        assert validate(operation, view, policy).reason == "TemplateNotFound"
    assert len(view._memo) <= clusterview.MEMO_LIMIT


def test_template_facts_follow_writes_to_the_operation_template(operation, view, policy):
    """targetKinds, templateParameter and the runner name are read once per OperationTemplate
    revision: a change to the template is seen by the next decision on the same view."""
    assert validate(operation, view, policy).allowed
    tpl = view.operation_templates("Migration", "workflow")[0]
    changed = copy.deepcopy(tpl)
    changed["spec"]["targetKinds"] = [{"apiVersion": "apps/v1", "kind": "StatefulSet"}]
    view.upsert(changed)
    decision = validate(operation, view, policy)
    assert decision.reason == "TargetNotFound"
    assert "allowed kinds: StatefulSet.apps" in decision.message
    changed["spec"]["targetKinds"] = ["not-an-object"]  # malformed entries allow no kind
    view.upsert(changed)
    assert validate(operation, view, policy).reason == "TargetNotFound"
    changed = copy.deepcopy(tpl)
    changed["spec"]["workflow"]["serviceAccountName"] = "someone-else"
    view.upsert(changed)
    decision = validate(operation, view, policy)
    assert decision.reason == "ServiceAccountNotAllowed"
    assert "org-myteam/someone-else does not exist" in decision.message
    view.upsert(tpl)
    assert validate(operation, view, policy).allowed


def test_engine_verdict_follows_writes_to_its_crds(operation, view, policy):
    """Whether an engine is installed is remembered per view until a CRD changes."""
    assert validate(operation, view, policy).allowed
    crd = view.get("apiextensions.k8s.io", "CustomResourceDefinition", "", "workflows.argoproj.io")
    pending = copy.deepcopy(crd)
    pending["status"] = {"conditions": [{"type": "Established", "status": "False"}]}
    view.upsert(pending)
    decision = validate(operation, view, policy)
    assert decision.reason == "EngineNotInstalled"
    assert "CRD workflows.argoproj.io is not Established" in decision.message
    view.delete(crd)
    assert "is not installed" in validate(operation, view, policy).message
    view.upsert(crd)
    assert validate(operation, view, policy).allowed
