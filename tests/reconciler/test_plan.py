"""The controller's pure core: one Operation and its Workflow in, the actions out."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies import loader
from reconciler import materialize, plan, status
from webhooks import clusterview, resolve

NOW = datetime.datetime(2026, 5, 28, 10, 0, 0, tzinfo=datetime.UTC)


@pytest.fixture
def templates(optemplate, cluster_template) -> plan.Templates:
    return plan.Templates(optemplate, resolve.Resolved(cluster_template, cluster_scope=True))


def created(operation, templates, policy) -> dict[str, Any]:
    wf = materialize.materialize(operation, templates.optemplate, templates.resolved, policy)
    wf["metadata"]["uid"] = "wf-uid"
    return wf


def test_first_reconcile_asks_for_templates_then_creates(operation, templates, policy) -> None:
    first = plan.plan(operation, None, policy=policy, now=NOW)
    assert first == plan.Plan(needs_templates=True)
    second = plan.plan(operation, None, policy=policy, now=NOW, templates=templates)
    assert second.create == materialize.materialize(
        operation, templates.optemplate, templates.resolved, policy
    )
    assert second.status is None
    assert [e.reason for e in second.events] == ["WorkflowCreated"]


def test_created_workflow_gives_pending_with_run_id(operation, templates, policy) -> None:
    wf = created(operation, templates, policy)
    step = plan.plan(operation, wf, policy=policy, now=NOW)
    assert step.create is None
    assert step.status["phase"] == "Pending"
    assert step.status["outputs"]["runId"] == "wf-uid"
    assert [(e.type, e.reason) for e in step.events] == [("Normal", "Pending")]
    operation["status"] = step.status
    again = plan.plan(operation, wf, policy=policy, now=NOW)
    assert again.idle and again.events == ()


def test_phase_transitions_emit_one_event_each(operation, templates, policy) -> None:
    wf = created(operation, templates, policy)
    reasons = []
    for phase, nodes in (
        ("Pending", {}),
        ("Running", {"n": {"type": "Pod", "phase": "Running", "displayName": "take-snapshot"}}),
        ("Running", {"n": {"type": "Pod", "phase": "Running", "displayName": "verify"}}),
        ("Failed", {"n": {"type": "Pod", "phase": "Failed", "displayName": "verify"}}),
    ):
        wf["status"] = {"phase": phase, "nodes": nodes}
        step = plan.plan(operation, wf, policy=policy, now=NOW)
        if step.status is not None:
            operation["status"] = step.status
        reasons += [(e.type, e.reason) for e in step.events]
    assert reasons == [
        ("Normal", "Pending"),
        ("Normal", "WorkflowInProgress"),
        ("Warning", "WorkflowFailed"),
    ]


def test_other_engines_deleting_and_terminal_are_left_alone(operation, templates, policy) -> None:
    job = copy.deepcopy(operation)
    job["spec"]["engine"] = "job"
    assert plan.plan(job, None, policy=policy, now=NOW, templates=templates).idle
    deleting = copy.deepcopy(operation)
    deleting["metadata"]["deletionTimestamp"] = "2026-05-28T09:00:00Z"
    assert plan.plan(deleting, None, policy=policy, now=NOW, templates=templates).idle
    done = copy.deepcopy(operation)
    done["status"] = status.operation_status(done, {"status": {"phase": "Succeeded"}}, NOW)
    assert plan.plan(done, None, policy=policy, now=NOW, templates=templates).idle


def test_name_conflict(operation, policy) -> None:
    stranger = {"metadata": {"name": operation["metadata"]["name"], "namespace": "org-myteam"}}
    step = plan.plan(operation, stranger, policy=policy, now=NOW)
    assert step.create is None
    assert step.status["phase"] == "Failed"
    failed = next(c for c in step.status["conditions"] if c["type"] == "Failed")
    assert (failed["status"], failed["reason"]) == ("True", "NameConflict")
    assert [(e.type, e.reason) for e in step.events] == [("Warning", "NameConflict")]


def test_the_workflow_of_a_deleted_namesake_is_waited_for(operation, templates, policy) -> None:
    """Delete an Operation and create it again under its name (kubectl replace --force, GitOps):
    the old Workflow, owned by the old uid, goes with garbage collection; meanwhile Pending."""
    leftover = created(operation, templates, policy)
    successor = copy.deepcopy(operation)
    successor["metadata"]["uid"] = "another-uid"
    step = plan.plan(successor, leftover, policy=policy, now=NOW, templates=templates)
    assert step.create is None
    assert step.status["phase"] == "Pending"
    assert not [e for e in step.events if e.type == "Warning"]
    orphan = copy.deepcopy(leftover)
    del orphan["metadata"]["ownerReferences"]  # orphaned on purpose: never collected
    step = plan.plan(successor, orphan, policy=policy, now=NOW, templates=templates)
    assert step.status["phase"] == "Failed"
    assert [e.reason for e in step.events] == ["NameConflict"]


def test_workflow_missing_after_it_was_recorded(operation, templates, policy) -> None:
    wf = created(operation, templates, policy)
    operation["status"] = plan.plan(operation, wf, policy=policy, now=NOW).status
    step = plan.plan(operation, None, policy=policy, now=NOW, templates=templates)
    assert step.create is None  # never a second Workflow
    assert step.status["phase"] == "Failed"
    assert [e.reason for e in step.events] == ["WorkflowMissing"]


def test_replaced_workflow_counts_as_missing(operation, templates, policy) -> None:
    wf = created(operation, templates, policy)
    operation["status"] = plan.plan(operation, wf, policy=policy, now=NOW).status
    wf["metadata"]["uid"] = "another-uid"
    step = plan.plan(operation, wf, policy=policy, now=NOW)
    assert step.status["phase"] == "Failed"
    assert [e.reason for e in step.events] == ["WorkflowMissing"]


def test_templates_gone_since_admission(operation, optemplate, policy) -> None:
    step = plan.plan(operation, None, policy=policy, now=NOW, templates=plan.Templates(None, None))
    assert [e.reason for e in step.events] == ["OperationTemplateNotFound"]
    elsewhere = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "app-migration-with-snapshot", "namespace": "vworkspace-system"},
    }
    view = clusterview.ClusterIndex([elsewhere])
    unresolved = resolve.workflow_template(
        view, optemplate, "org-myteam", "app-migration-with-snapshot"
    )
    assert isinstance(unresolved, resolve.Unresolved)
    step = plan.plan(
        operation, None, policy=policy, now=NOW, templates=plan.Templates(optemplate, unresolved)
    )
    assert step.create is None
    assert step.status["phase"] == "Failed"
    assert "vworkspace-system" in step.events[0].message


# --- the decision table, as properties ------------------------------------------------------
PLAIN_OPTEMPLATE = {
    "metadata": {"name": "migration-workflow"},
    "spec": {
        "type": "Migration",
        "engine": "workflow",
        "workflow": {"templateParameter": "template"},
    },
}
PLAIN_TEMPLATE = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "ClusterWorkflowTemplate",
    "metadata": {"name": "app-migration-with-snapshot"},
    "spec": {"arguments": {"parameters": [{"name": "targetChartVersion"}]}},
}


@st.composite
def situations(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any] | None]:
    op: dict[str, Any] = {
        "apiVersion": "ops.vworkspace.io/v1alpha1",
        "kind": "Operation",
        "metadata": {"name": "op", "namespace": "org-myteam", "uid": "op-uid", "generation": 1},
        "spec": {
            "engine": draw(st.sampled_from(["workflow", "workflow", "job", "velero", None])),
            "type": "Migration",
            "targetRef": {"name": "nextcloud-myteam"},
            "parameters": {"template": "app-migration-with-snapshot", "targetChartVersion": "7"},
        },
    }
    if draw(st.booleans()):
        op["metadata"]["deletionTimestamp"] = "2026-05-28T09:00:00Z"
    wf: dict[str, Any] | None = None
    shape = draw(st.sampled_from(["none", "ours", "ours-replaced", "foreign"]))
    if shape != "none":
        wf = {
            "metadata": {"name": "op", "namespace": "org-myteam", "uid": "wf-uid"},
            "spec": {},
            "status": {
                "phase": draw(
                    st.sampled_from(["", "Pending", "Running", "Succeeded", "Failed", "Error", "X"])
                )
            },
        }
        if shape != "foreign":
            wf["metadata"]["labels"] = {materialize.OPERATION_LABEL: "op-uid"}
        if shape == "ours-replaced":
            wf["metadata"]["uid"] = "another-uid"
    earlier = draw(st.sampled_from([None, "created", "terminal"]))
    if earlier == "created":
        seen = {"metadata": {"name": "op", "namespace": "org-myteam", "uid": "wf-uid"}}
        op["status"] = status.operation_status(op, seen, NOW)
    elif earlier == "terminal":
        op["status"] = status.operation_status(op, {"status": {"phase": "Succeeded"}}, NOW)
    return op, wf


@given(situation=situations(), with_templates=st.booleans())
def test_property_plan_decisions(situation, with_templates) -> None:
    op, wf = situation
    templates = (
        plan.Templates(PLAIN_OPTEMPLATE, resolve.Resolved(PLAIN_TEMPLATE, cluster_scope=True))
        if with_templates
        else None
    )
    policy = loader.load_policy(None)
    step = plan.plan(op, wf, policy=policy, now=NOW, templates=templates)
    if not plan.managed(op) or status.is_terminal(op):
        assert step.idle and step.events == ()
        return
    if step.create is not None:
        # only when nothing was ever created or recorded, and then owned by the Operation
        assert wf is None and not plan.run_id(op)
        assert materialize.owned_by(step.create, op, managed_by=policy.managed_by)
        assert step.status is None
    if wf is not None or plan.run_id(op):
        assert step.create is None and not step.needs_templates
    if step.needs_templates:
        assert templates is None and wf is None
    if step.status is not None:
        assert step.status != op.get("status")
        follow = plan.plan(
            {**op, "status": step.status}, wf, policy=policy, now=NOW, templates=templates
        )
        assert follow.status is None  # one write settles it
        phases = {c["type"]: c["status"] for c in step.status["conditions"]}
        assert phases["Accepted"] == "True"
        if wf is not None and not materialize.owned_by(wf, op, managed_by=policy.managed_by):
            assert step.status["phase"] == "Failed"
