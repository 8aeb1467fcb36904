"""Property tests of the Workflow guard, generalizing the tables in test_workflows.py."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from policies import loader
from tests import strategies
from webhooks import clusterview, review, workflows

# Hypothesis profiles (ci/deep) come from tests/conftest.py.
POLICY = loader.load_policy(None)
OPERATOR = POLICY.operator_sa.username
RUNNER = POLICY.runner_sa_name
VIEW = clusterview.ClusterIndex()
REASONS = {"WorkflowNotAllowed", "ServiceAccountNotAllowed"}

MANAGED = yaml.safe_load(
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: op-1
  namespace: org-myteam
  labels:
    app.vworkspace.io/managed-by: vworkspace-operator
    app.vworkspace.io/cluster-id: cluster-prod-1
    ops.vworkspace.io/operation: 9d33c0de
spec:
  workflowTemplateRef: {name: app-migration-with-snapshot, clusterScope: true}
  serviceAccountName: vworkspace-operation-runner
  arguments: {parameters: [{name: targetName, value: nextcloud-myteam}]}
  activeDeadlineSeconds: 1800
"""
)

# Every WorkflowSpec field of Argo's schema that the reconciler never writes.
EXTRA_SPEC_FIELDS = sorted(
    {
        "affinity", "archiveLogs", "artifactGC", "artifactRepositoryRef",
        "automountServiceAccountToken", "dnsConfig", "dnsPolicy", "entrypoint", "executor",
        "executorPlugins", "hooks", "hostAliases", "hostNetwork", "imagePullSecrets", "metrics",
        "nodeSelector", "onExit", "parallelism", "podDisruptionBudget", "podGC", "podMetadata",
        "podPriorityClassName", "podResources", "podSpecPatch", "priority", "resourceClaims",
        "retryStrategy", "schedulerName", "securityContext", "synchronization",
        "templateDefaults", "templates", "tolerations", "ttlStrategy", "volumeClaimGC",
        "volumeClaimTemplates", "volumes", "workflowMetadata",
    }
)  # fmt: skip

json_values = strategies.json_values(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
)
users = st.sampled_from(
    [OPERATOR, "system:serviceaccount:argo:argo", "alice", "", "system:serviceaccount:x:y"]
)
others = users.filter(lambda u: u != OPERATOR)
label_keys = st.sampled_from(
    ["workflows.argoproj.io/phase", "workflows.argoproj.io/completed", "team", "a.b/c"]
)


def request(
    obj: Any, *, user: str, operation: str = "CREATE", old: Any = None, sub: str = ""
) -> review.AdmissionRequest:
    return review.AdmissionRequest(
        uid="u",
        operation=operation,
        kind="Workflow",
        group="argoproj.io",
        namespace="org-myteam",
        sub_resource=sub,
        object=obj,
        old_object=old,
        user=review.UserInfo(username=user),
    )


@given(st.sets(st.sampled_from(EXTRA_SPEC_FIELDS), min_size=1), json_values)
def test_any_extra_spec_field_is_denied_and_named(extra: set[str], value: Any) -> None:
    obj = copy.deepcopy(MANAGED)
    for key in extra:
        obj["spec"][key] = value
    decision = workflows.validate_workflow(request(obj, user=OPERATOR), VIEW, POLICY)
    assert (decision.allowed, decision.reason, decision.code) == (False, "WorkflowNotAllowed", 403)
    assert {c.field for c in decision.causes} == {f"spec.{k}" for k in extra}


@given(
    others,
    st.dictionaries(label_keys, st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(min_size=1, max_size=6), json_values, max_size=3),
    st.dictionaries(st.text(min_size=1, max_size=6), st.text(max_size=5), max_size=2),
)
def test_changes_that_leave_spec_and_ownership_alone_are_always_allowed(
    user: str, labels: dict[str, str], status: dict[str, Any], annotations: dict[str, str]
) -> None:
    """The Argo controller (and anyone else) can always write status, its labels, annotations."""
    new = copy.deepcopy(MANAGED)
    new["metadata"]["labels"].update(labels)
    new["metadata"]["annotations"] = annotations
    new["status"] = status
    req = request(new, user=user, operation="UPDATE", old=MANAGED)
    assert workflows.validate_workflow(req, VIEW, POLICY).allowed


@given(users, json_values, json_values, st.sampled_from(["CREATE", "UPDATE"]))
def test_decisions_are_well_formed_for_any_object(
    user: str, spec: Any, old_spec: Any, operation: str
) -> None:
    obj = copy.deepcopy(MANAGED)
    obj["spec"] = spec
    old = copy.deepcopy(MANAGED) if operation == "UPDATE" else None
    if old is not None:
        old["spec"] = old_spec
    decision = workflows.validate_workflow(
        request(obj, user=user, operation=operation, old=old), VIEW, POLICY
    )
    if not decision.allowed:
        assert decision.reason in REASONS and decision.code == 403
        assert decision.message.startswith(decision.reason + ": ")
        assert decision.causes and all(c.field for c in decision.causes)


@given(users, json_values)
def test_delete_and_subresources_are_always_allowed(user: str, spec: Any) -> None:
    obj = copy.deepcopy(MANAGED)
    obj["spec"] = spec
    delete = request(None, user=user, operation="DELETE", old=obj)
    assert workflows.validate_workflow(delete, VIEW, POLICY).allowed
    status = request(obj, user=user, operation="UPDATE", old=MANAGED, sub="status")
    assert workflows.validate_workflow(status, VIEW, POLICY).allowed


@given(
    users,
    st.sets(st.sampled_from(EXTRA_SPEC_FIELDS), max_size=3),
    st.sampled_from([RUNNER, "default", "", None]),
    st.sampled_from(["enforce", "warn", "off"]),
    st.sampled_from(["enforce", "warn", "off"]),
)
def test_modes_pick_what_denies(
    user: str, extra: set[str], sa: Any, wf_mode: str, sa_mode: str
) -> None:
    """Denial happens only under `enforce`; `warn` findings show up as warnings; `off` is silent."""
    obj = copy.deepcopy(MANAGED)
    for key in extra:
        obj["spec"][key] = {}
    obj["spec"]["serviceAccountName"] = sa
    enforcement = {"WorkflowNotAllowed": wf_mode, "ServiceAccountNotAllowed": sa_mode}
    policy = dataclasses.replace(POLICY, enforcement=enforcement)
    req = request(obj, user=user)
    found = workflows.findings(req, VIEW, policy)
    decision = workflows.validate_workflow(req, VIEW, policy)
    enforced = [f for f in found if enforcement[f.reason] == "enforce"]
    warned = [f.message for f in found if enforcement[f.reason] == "warn"]
    if enforced:
        assert not decision.allowed and decision.reason == enforced[0].reason
    else:
        assert decision.allowed
        assert len(decision.warnings) == len(warned)
    all_off = dataclasses.replace(POLICY, enforcement=dict.fromkeys(enforcement, "off"))
    off = workflows.validate_workflow(req, VIEW, all_off)
    assert off.allowed and not off.warnings


sa_places = st.sampled_from(
    [
        ("serviceAccountName",),
        ("executor", "serviceAccountName"),
        ("templateDefaults", "serviceAccountName"),
        ("templates", 0, "serviceAccountName"),
        ("templates", 0, "executor", "serviceAccountName"),
    ]
)
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=30)


def place(path: tuple[Any, ...], value: str) -> dict[str, Any]:
    """A Workflow that is not managed and sets `value` at `path` under spec."""
    spec: dict[str, Any] = {"entrypoint": "main", "templates": [{"name": "main"}]}
    node: Any = spec
    for key in path[:-1]:
        if isinstance(key, str) and key not in node:
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    meta = {"name": "w", "namespace": "org-myteam"}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": meta,
        "spec": spec,
    }


@given(users, sa_places, names)
def test_a_workflow_that_is_not_managed_is_denied_exactly_when_it_names_the_runner(
    user: str, path: tuple[Any, ...], name: str
) -> None:
    obj = place(path, name)
    decision = workflows.validate_workflow(request(obj, user=user), VIEW, POLICY)
    field = "spec" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    if name == RUNNER:
        assert decision.reason == "ServiceAccountNotAllowed"
        assert [c.field for c in decision.causes] == [field]
    else:
        assert decision.allowed
    runner = workflows.validate_workflow(request(place(path, RUNNER), user=user), VIEW, POLICY)
    assert runner.reason == "ServiceAccountNotAllowed"


@given(
    others,
    st.sampled_from(
        sorted(workflows.MANAGED_SPEC_FIELDS - workflows.CONTROL_FIELDS - {"activeDeadlineSeconds"})
        + EXTRA_SPEC_FIELDS
    ),
    json_values,
)
def test_others_never_change_a_managed_spec_field(user: str, key: str, value: Any) -> None:
    new = copy.deepcopy(MANAGED)
    if new["spec"].get(key) == value:
        value = [value]
    new["spec"][key] = value
    decision = workflows.validate_workflow(
        request(new, user=user, operation="UPDATE", old=MANAGED), VIEW, POLICY
    )
    assert (decision.reason, decision.code) == ("WorkflowNotAllowed", 403)
    assert [c.field for c in decision.causes] == [f"spec.{key}"]


@given(others, st.sampled_from(sorted(workflows.CONTROL_FIELDS)), json_values)
def test_lifecycle_controls_are_open_to_everyone(user: str, key: str, value: Any) -> None:
    new = copy.deepcopy(MANAGED)
    new["spec"][key] = value
    req = request(new, user=user, operation="UPDATE", old=MANAGED)
    assert workflows.validate_workflow(req, VIEW, POLICY).allowed
