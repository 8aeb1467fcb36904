"""The controller's pure core: one Operation and its Workflow in, the actions out."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest

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
