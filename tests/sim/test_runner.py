"""Scenario runs: every shipped scenario holds, runs replay, failures and features are reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim import printers, runner, scenario
from tests.sim import argofixtures as fx
from webhooks import manifests

SCENARIOS = fx.REPO / "sim" / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.yaml"))
OP = "nextcloud-myteam-migrate-2026-05-28"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_holds(path: Path) -> None:
    result = runner.run(scenario.load(path))
    assert result.ok, printers.timeline(result)


def _scenario(tmp_path: Path, body: str) -> scenario.Scenario:
    head = (
        f"clusterState: [{fx.REPO}/deploy/crds, {fx.REPO}/deploy/examples/cluster-state, "
        f"{fx.REPO}/deploy/workflows, {SCENARIOS}/manifests/volumesnapshot-crd.yaml]\n"
    )
    path = tmp_path / "case.yaml"
    path.write_text(head + body, encoding="utf-8")
    return scenario.load(path)


def test_migration_decisions_and_final_objects() -> None:
    result = runner.run(scenario.load(SCENARIOS / "migration-succeeds.yaml"))
    made = [(d.kind, d.user, d.allowed) for d in result.decisions]
    assert ("Operation", "alice", True) in made
    assert ("Workflow", "system:serviceaccount:vworkspace-system:vworkspace-operator", True) in made
    wf = next(o for o in result.objects if o["kind"] == "Workflow")
    assert wf["metadata"]["labels"]["workflows.argoproj.io/phase"] == "Succeeded"
    assert wf["metadata"]["labels"]["workflows.argoproj.io/completed"] == "true"
    snapshot = next(o for o in result.objects if o["kind"] == "VolumeSnapshot")
    assert snapshot["metadata"]["name"] == f"pre-migrate-{wf['metadata']['uid']}"
    op = next(o for o in result.objects if o["kind"] == "Operation" and o["metadata"]["name"] == OP)
    assert op["status"]["outputs"]["runId"] == wf["metadata"]["uid"]


def test_same_seed_same_run_other_seed_other_uids() -> None:
    scen = scenario.load(SCENARIOS / "verify-fails.yaml")
    one, two = printers.to_json([runner.run(scen)]), printers.to_json([runner.run(scen)])
    assert one == two
    other = printers.to_json([runner.run(scen, seed=99)])
    uids = lambda out: [o["metadata"].get("uid") for o in out["objects"]]  # noqa: E731
    assert uids(other) != uids(one)


def test_failed_expectations_name_their_place(tmp_path: Path) -> None:
    scen = _scenario(
        tmp_path,
        "timeline:\n"
        "  - create: {file: "
        + str(fx.REPO / "deploy/examples/bad/02-engine-not-installed.yaml")
        + ", expect: {allowed: true}}\n"
        "expect:\n"
        "  - operation: {namespace: org-myteam, name: nope, phase: Succeeded}\n",
    )
    result = runner.run(scen)
    assert not result.ok
    wheres = [f.where for f in result.failures]
    assert wheres == ["timeline[0].create.expect", "expect[0].operation"]
    assert "EngineNotInstalled" in result.failures[0].message
    assert "FAIL" in printers.timeline(result)


def test_dry_run_is_decided_but_not_stored(tmp_path: Path) -> None:
    scen = _scenario(
        tmp_path,
        "timeline:\n"
        f"  - create: {{file: {fx.REPO}/deploy/examples/operation.yaml, dryRun: true, expect: {{allowed: true}}}}\n"
        "expect:\n"
        f"  - object: {{apiVersion: ops.vworkspace.io/v1alpha1, kind: Operation, namespace: org-myteam, name: {OP}, exists: false}}\n",
    )
    result = runner.run(scen)
    assert result.ok, printers.timeline(result)
    assert [d.allowed for d in result.decisions] == [True]


def test_restart_and_set_and_timeline_expectations(tmp_path: Path) -> None:
    scen = _scenario(
        tmp_path,
        "steps: {verify: {result: ok}, migrate: {duration: 60}}\n"
        "timeline:\n"
        f"  - create: {{file: {fx.REPO}/deploy/examples/operation.yaml}}\n"
        "  - advance: 25\n"
        "  - restartController: all\n"
        "  - expect:\n"
        f"      - workflow: {{namespace: org-myteam, name: {OP}, phase: Running, nodes: {{snapshot: Running}}}}\n"
        "  - set: {apiVersion: snapshot.storage.k8s.io/v1, kind: VolumeSnapshot, namespace: org-myteam,\n"
        "          name: pre-migrate-will-not-exist, fields: {status.readyToUse: true}}\n"
        "  - advance: 3600\n"
        "expect:\n"
        f"  - operation: {{namespace: org-myteam, name: {OP}, phase: Failed,\n"
        "      conditions: {Failed: {reason: WorkflowFailed,\n"
        "      message: 'snapshot: Pod was active on the node longer than the specified deadline'}}}\n",
    )
    result = runner.run(scen)
    assert [f.where for f in result.failures] == ["timeline[4].set"]
    assert "not found" in result.failures[0].message


def test_steps_action_changes_outcomes_midway(tmp_path: Path) -> None:
    scen = _scenario(
        tmp_path,
        "objectFields: [{kind: VolumeSnapshot, set: {status.readyToUse: true}}]\n"
        "timeline:\n"
        f"  - create: {{file: {fx.REPO}/deploy/examples/operation.yaml}}\n"
        "  - steps: {verify: {result: degraded}, prechecks: {parameters: {chartVersion: 6.6.4}}}\n"
        "expect:\n"
        f"  - workflow: {{namespace: org-myteam, name: {OP}, phase: Succeeded, nodes: {{rollback: Succeeded, unquiesce: Skipped}}}}\n",
    )
    result = runner.run(scen)
    assert result.ok, printers.timeline(result)
    texts = [e.text for e in result.events if e.kind == "node"]
    assert any("rollback: Succeeded" in t for t in texts)


def test_json_has_decisions_and_objects() -> None:
    result = runner.run(scenario.load(SCENARIOS / "schema-violations.yaml"))
    out = printers.to_json([result])
    assert {"decisions", "objects"} <= set(out)
    denial = out["decisions"][0]
    assert denial["allowed"] is False
    assert denial["reason"] == "ParametersInvalid"
    assert denial["code"] == 422
    assert denial["scenario"] == "schema violations"


def test_deleting_the_operation_collects_its_workflow(tmp_path: Path) -> None:
    scen = _scenario(
        tmp_path,
        "timeline:\n"
        f"  - create: {{file: {fx.REPO}/deploy/examples/operation.yaml}}\n"
        "  - advance: 15\n"
        "  - delete: {object: {apiVersion: ops.vworkspace.io/v1alpha1, kind: Operation,\n"
        f"      metadata: {{name: {OP}, namespace: org-myteam}}}}, expect: {{allowed: true}}}}\n"
        "expect:\n"
        f"  - object: {{apiVersion: argoproj.io/v1alpha1, kind: Workflow, namespace: org-myteam, name: {OP}, exists: false}}\n",
    )
    result = runner.run(scen)
    assert result.ok, printers.timeline(result)
    assert [d.action for d in result.decisions] == ["create", "create", "delete"]


def test_a_refused_workflow_leaves_the_operation_pending_with_one_warning(tmp_path: Path) -> None:
    """As reconciler.controller does: the Operation shows Pending, the refusal one Event."""
    policy = (fx.REPO / "policies/default.yaml").read_text()
    (tmp_path / "policy.yaml").write_text(
        policy.replace("EngineNotInstalled: enforce", "EngineNotInstalled: warn")
    )
    scen = _scenario(
        tmp_path,
        "policy: policy.yaml\n"
        "timeline:\n"
        "  - set: {apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition,\n"
        "          name: workflows.argoproj.io,\n"
        "          fields: {status.conditions: [{type: Established, status: 'False'}]}}\n"
        f"  - create: {{file: {fx.REPO}/deploy/examples/operation.yaml,\n"
        "              expect: {allowed: true, warning: EngineNotInstalled}}\n"
        "  - advance: 60\n"
        "expect:\n"
        f"  - operation: {{namespace: org-myteam, name: {OP}, phase: Pending}}\n"
        f"  - workflow: {{namespace: org-myteam, name: {OP}, phase: Pending}}\n",
    )
    result = runner.run(scen)
    refused = [e for e in result.events if "WorkflowCreateFailed" in e.text]
    assert len(refused) == 1
    assert not [e for e in result.events if "WorkflowCreated" in e.text]
    assert [f.where for f in result.failures] == ["expect[1].workflow"]  # it never existed


def test_an_update_action_replaces_a_custom_resource_at_its_stored_version(tmp_path: Path) -> None:
    """The store refuses blind updates of custom resources (422, as kube-apiserver); a
    scenario's `update` replaces what is stored now, so it reaches admission: changing an
    Operation's spec is FieldImmutable there, changing its labels is admitted."""
    op = manifests.load([fx.REPO / "deploy/examples/operation.yaml"])[0]
    meta = op["metadata"]
    relabeled = {**op, "metadata": {**meta, "labels": {"team": "x"}}}
    params = {**op["spec"]["parameters"], "targetChartVersion": "9.9.9"}
    respec = {**op, "spec": {**op["spec"], "parameters": params}}
    scen = _scenario(
        tmp_path,
        "timeline:\n"
        f"  - create: {{file: {fx.REPO}/deploy/examples/operation.yaml, expect: {{allowed: true}}}}\n"
        f"  - update: {{object: {json.dumps(relabeled)}, expect: {{allowed: true}}}}\n"
        f"  - update: {{object: {json.dumps(respec)}, expect: {{allowed: false, reason: FieldImmutable}}}}\n",
    )
    result = runner.run(scen)
    assert result.ok, printers.timeline(result)
