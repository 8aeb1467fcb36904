"""The controller under random interleavings, against the simulator's REST API.

A hypothesis `RuleBasedStateMachine` creates and deletes Operations, plays the Argo controller
(phase transitions, suspension), deletes Workflows, plants Workflows it does not own, restarts the
controller, makes its next status writes hit 409 Conflicts (another writer changes the Operation
between its read and its write) and crashes it between creating a Workflow and recording it.
Invariants: at most one Workflow per Operation, ever; once the controller has run, each
Operation's status is the mapping of the Workflow it observed last (terminal ones frozen); no
status written by someone else is lost; the controller never writes a Workflow after creating it.
"""

from __future__ import annotations

import atexit
import copy
import datetime
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from policies import loader
from reconciler import controller, kube, materialize, status
from webhooks import kinds, manifests

REPO = Path(__file__).resolve().parents[2]
NAMES = ("op-a", "op-b", "op-c")
OPS = ("ops.vworkspace.io", "Operation")
WF = ("argoproj.io", "Workflow")
POLICY = loader.load_policy(None)
STATE_PATHS = ("deploy/crds", "deploy/examples/cluster-state", "deploy/workflows")


class Crash(Exception):
    """The controller process dying at an unlucky moment."""


class FaultyApi(kube.Api):
    """The real client, plus the faults a real cluster produces: a writer that changes the
    Operation just before the controller's status write (so the server answers 409), and a crash
    right after a Workflow was created. Records every write the controller makes."""

    def __init__(self, client: Any, store: Any) -> None:
        super().__init__(client)
        self.store = store
        self.conflicts_to_inject = 0
        self.crash_after_next_create = False
        self.created: list[dict[str, Any]] = []
        self.workflow_writes: list[str] = []
        self.foreign: dict[str, list[dict[str, Any]]] = {}

    def replace_status(self, kind: kinds.Kind, namespace: str, name: str, body: Any) -> Any:
        if self.conflicts_to_inject > 0 and kind == kinds.OPERATION:
            self.conflicts_to_inject -= 1
            self._interfere(namespace, name)
        return super().replace_status(kind, namespace, name, body)

    def _interfere(self, namespace: str, name: str) -> None:
        """Another writer adds its own condition to the Operation's status."""
        op = self.store.get(*OPS, namespace, name)
        uid = op["metadata"]["uid"]
        cond = {
            "type": f"Audit{len(self.foreign.get(uid, []))}",
            "status": "True",
            "reason": "Audited",
            "message": "written by another controller",
            "lastTransitionTime": "2026-05-28T00:00:00Z",
        }
        new_status = copy.deepcopy(op.get("status") or {})
        new_status.setdefault("conditions", []).append(cond)
        op["status"] = new_status
        self.store.update_status(op)
        self.foreign.setdefault(uid, []).append(cond)

    def create(self, kind: kinds.Kind, namespace: str, body: Any) -> Any:
        created = super().create(kind, namespace, body)
        if kind == kinds.WORKFLOW:
            self.created.append(created)
        if self.crash_after_next_create:
            self.crash_after_next_create = False
            raise Crash("crashed after creating the Workflow")
        return created

    def replace(self, kind: kinds.Kind, namespace: str, name: str, body: Any) -> Any:
        if kind == kinds.WORKFLOW:
            self.workflow_writes.append(name)
        return super().replace(kind, namespace, name, body)


class SharedCluster:
    """One simulator and client per test process; each run of the machine gets a namespace of
    its own (the controller only needs the cluster-scoped templates and the namespace)."""

    def __init__(self) -> None:
        from sim import apiserver, store

        self._tmp = tempfile.TemporaryDirectory(prefix="opgate-reconciler-")
        self.store = store.Store(seed=3)
        self.store.load(manifests.load([REPO / p for p in STATE_PATHS]))
        url, stop = apiserver.serve_in_thread(self.store)
        kubeconfig = apiserver.write_kubeconfig(Path(self._tmp.name) / "kubeconfig", url)
        self.client = kube.api_client(str(kubeconfig))
        self.runs = 0
        atexit.register(self.close, stop)

    def new_namespace(self) -> str:
        self.runs += 1
        name = f"org-run{self.runs}"
        self.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        return name

    def close(self, stop: Any) -> None:
        self.client.close()
        stop()
        self._tmp.cleanup()


_SHARED: list[SharedCluster] = []


def shared_cluster() -> SharedCluster:
    if not _SHARED:
        _SHARED.append(SharedCluster())
    return _SHARED[0]


def example_operation(name: str, namespace: str, engine: str) -> dict[str, Any]:
    op = yaml.safe_load((REPO / "deploy" / "examples" / "operation.yaml").read_text())
    op["metadata"]["name"] = name
    op["metadata"]["namespace"] = namespace
    op["spec"]["engine"] = engine
    return op


def running_nodes(step: int) -> dict[str, Any]:
    names = ["prechecks", "quiesce", "take-snapshot", "migrate", "verify"]
    out = {}
    for i, display in enumerate(names[: step + 1]):
        out[f"n{i}"] = {
            "id": f"n{i}",
            "displayName": display,
            "type": "Pod",
            "phase": "Running" if i == step else "Succeeded",
            "startedAt": f"2026-05-28T10:0{i}:00Z",
        }
    return out


class ControllerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        shared = shared_cluster()
        self.store = shared.store
        self.ns = shared.new_namespace()
        self.api = FaultyApi(shared.client, self.store)
        self.clock = datetime.datetime(2026, 5, 28, 10, 0, tzinfo=datetime.UTC)
        self.ctl = self._new_controller()
        self.settled = False
        self.frozen: dict[str, dict[str, Any]] = {}  # op uid -> its terminal status (ours)
        self.specs: dict[str, Any] = {}  # workflow uid -> spec at creation

    def _now(self) -> datetime.datetime:
        self.clock += datetime.timedelta(seconds=7)
        return self.clock

    def _new_controller(self) -> controller.Controller:
        return controller.Controller(
            self.api,
            POLICY,
            controller.Settings(namespace=self.ns, leader_elect=False),
            clock=self._now,
        )

    def teardown(self) -> None:
        try:
            self.settle()  # every run ends with a settled, checked cluster
            self.status_is_the_mapping_of_the_last_observed_workflow()
            self.at_most_one_workflow_per_operation()
            self.no_lost_update()
        finally:
            self.store.delete("", "Namespace", "", self.ns)

    # --- helpers ---------------------------------------------------------------------------
    def op(self, name: str) -> dict[str, Any] | None:
        return self.store.find(*OPS, self.ns, name)

    def wf(self, name: str) -> dict[str, Any] | None:
        return self.store.find(*WF, self.ns, name)

    def owned_wf(self, name: str) -> dict[str, Any] | None:
        op, wf = self.op(name), self.wf(name)
        if (
            op is None
            or wf is None
            or not materialize.owned_by(wf, op, managed_by=POLICY.managed_by)
        ):
            return None
        return wf

    def argo_update(self, name: str, change: dict[str, Any]) -> None:
        wf = copy.deepcopy(self.wf(name))
        for key, value in change.items():
            wf.setdefault(key, {}).update(value)
        self.store.update(wf)
        self.settled = False

    # --- the world ---------------------------------------------------------------------------
    def free_names(self) -> list[str]:
        return [n for n in NAMES if self.op(n) is None]

    def op_names(self) -> list[str]:
        return [n for n in NAMES if self.op(n) is not None]

    def unfinished_workflows(self) -> list[str]:
        return [
            n
            for n in NAMES
            if (wf := self.owned_wf(n)) is not None
            and (wf.get("status") or {}).get("phase") not in ("Succeeded", "Failed", "Error")
        ]

    def deletable_workflows(self) -> list[str]:
        """A foreign Workflow, or one the controller has recorded. (A Workflow deleted between
        its creation and the controller recording its uid, which needs a crash in that window,
        is recreated: the documented limit of creation being idempotent by name.)"""
        out = []
        for name in NAMES:
            wf, op = self.wf(name), self.op(name)
            if wf is None:
                continue
            if op is not None and materialize.owned_by(wf, op, managed_by=POLICY.managed_by):
                recorded = ((op.get("status") or {}).get("outputs") or {}).get("runId")
                if recorded != wf["metadata"]["uid"]:
                    continue
            out.append(name)
        return out

    @precondition(lambda self: self.free_names())
    @rule(
        data=st.data(),
        engine=st.sampled_from(["workflow", "workflow", "workflow", "job"]),
        react=st.booleans(),
    )
    def create_operation(self, data: st.DataObject, engine: str, react: bool) -> None:
        name = data.draw(st.sampled_from(self.free_names()))
        self.store.create(example_operation(name, self.ns, engine))
        self.settled = False
        if react:  # the controller's watch fires before anything else happens
            self.settle()

    @precondition(lambda self: self.op_names())
    @rule(data=st.data())
    def delete_operation(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(self.op_names()))
        self.store.delete(*OPS, self.ns, name)
        self.settled = False

    @precondition(lambda self: any(self.wf(n) is None for n in self.free_names()))
    @rule(data=st.data())
    def plant_foreign_workflow(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from([n for n in self.free_names() if self.wf(n) is None]))
        self.store.create(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Workflow",
                "metadata": {"name": name, "namespace": self.ns},
                "spec": {"entrypoint": "main", "templates": [{"name": "main", "suspend": {}}]},
            }
        )
        self.settled = False

    @precondition(lambda self: self.unfinished_workflows())
    @rule(
        data=st.data(),
        phase=st.sampled_from(["Pending", "Running", "Running", "Succeeded", "Failed", "Error"]),
        step=st.integers(0, 4),
        suspend_node=st.booleans(),
        react=st.booleans(),
    )
    def argo_transition(
        self, data: st.DataObject, phase: str, step: int, suspend_node: bool, react: bool
    ) -> None:
        name = data.draw(st.sampled_from(self.unfinished_workflows()))
        nodes = running_nodes(step) if phase != "Pending" else {}
        if phase == "Running" and suspend_node:
            nodes["approve"] = {
                "id": "approve",
                "displayName": "approve",
                "type": "Suspend",
                "phase": "Running",
                "startedAt": "2026-05-28T11:00:00Z",
            }
        if phase == "Failed":
            nodes[f"n{step}"]["phase"] = "Failed"
            nodes[f"n{step}"]["message"] = "failed with exit code 1"
        body: dict[str, Any] = {"phase": phase, "nodes": nodes}
        if phase == "Error":
            body["message"] = "template not found"
        self.argo_update(name, {"status": body})
        if react:
            self.settle()

    @precondition(lambda self: self.unfinished_workflows())
    @rule(data=st.data(), suspend=st.booleans())
    def user_toggles_suspend(self, data: st.DataObject, suspend: bool) -> None:
        name = data.draw(st.sampled_from(self.unfinished_workflows()))
        self.argo_update(name, {"spec": {"suspend": suspend}})

    @precondition(lambda self: self.deletable_workflows())
    @rule(data=st.data())
    def delete_workflow(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(self.deletable_workflows()))
        self.store.delete(*WF, self.ns, name)
        self.settled = False

    # --- the controller and its faults ---------------------------------------------------------
    @rule(
        conflicts=st.sampled_from([0, 0, 1, 2, 3]),
        crash_after_create=st.booleans(),
        restart=st.booleans(),
    )
    def controller_runs(self, conflicts: int, crash_after_create: bool, restart: bool) -> None:
        """The controller (restarted first, or not) reconciles everything; its first status
        writes may meet 409 Conflicts and it may crash right after creating a Workflow."""
        if restart:
            self.ctl = self._new_controller()
        self.api.conflicts_to_inject = conflicts
        self.api.crash_after_next_create = crash_after_create
        self.settle()

    def settle(self) -> None:
        for _ in range(4):  # a crashed or conflicted key is retried on the next pass
            failures = self.ctl.stats.failures
            self.ctl.resync()
            self.ctl.drain()
            self.api.conflicts_to_inject = 0
            self.api.crash_after_next_create = False
            if self.ctl.stats.failures == failures:
                break
            self.ctl.queue = type(self.ctl.queue)()  # drop delayed retries: resync covers them
        self.settled = True
        for created in self.api.created:
            self.specs.setdefault(created["metadata"]["uid"], created["spec"])

    # --- invariants ----------------------------------------------------------------------------
    @invariant()
    def at_most_one_workflow_per_operation(self) -> None:
        per_op: dict[str, int] = {}
        for created in self.api.created:
            uid = created["metadata"]["labels"][materialize.OPERATION_LABEL]
            per_op[uid] = per_op.get(uid, 0) + 1
        assert all(n == 1 for n in per_op.values()), per_op

    @invariant()
    def workflows_never_written_after_creation(self) -> None:
        assert self.api.workflow_writes == []
        for name in NAMES:
            wf = self.wf(name)
            if wf is not None and wf["metadata"]["uid"] in self.specs:
                spec = {k: v for k, v in wf["spec"].items() if k != "suspend"}
                assert spec == self.specs[wf["metadata"]["uid"]]

    @invariant()
    def no_lost_update(self) -> None:
        for name in NAMES:
            op = self.op(name)
            if op is None:
                continue
            conds = (op.get("status") or {}).get("conditions") or []
            for cond in self.api.foreign.get(op["metadata"]["uid"], []):
                assert cond in conds, f"{name}: {cond['type']} was lost"

    @invariant()
    def status_is_the_mapping_of_the_last_observed_workflow(self) -> None:
        if not self.settled:
            return
        for name in NAMES:
            op = self.op(name)
            if op is None:
                continue
            current = op.get("status") or {}
            if op["spec"]["engine"] != "workflow":
                assert current == {}, "an Operation of another engine was touched"
                continue
            ours = {
                "phase": current.get("phase"),
                "conditions": [
                    c for c in current.get("conditions", []) if c["type"] in status.CONDITION_TYPES
                ],
                "outputs": current.get("outputs"),
            }
            uid = op["metadata"]["uid"]
            if uid in self.frozen:
                assert ours == self.frozen[uid], f"{name}: a terminal status moved"
                continue
            wf = self.wf(name)
            if wf is None:
                assert current["phase"] == "Failed", f"{name}: no Workflow after the controller ran"
                assert any(c["reason"] == "WorkflowMissing" for c in ours["conditions"])
            elif not materialize.owned_by(wf, op, managed_by=POLICY.managed_by):
                assert current["phase"] == "Failed"
                assert any(c["reason"] == "NameConflict" for c in ours["conditions"])
            else:
                recorded = current["outputs"]["runId"]
                if recorded != wf["metadata"]["uid"]:
                    assert current["phase"] == "Failed"
                else:
                    assert current["phase"] == status.map_workflow(wf).phase
                    again = status.operation_status(op, wf, self.clock)
                    assert again == current, f"{name}: status is not the mapping of its Workflow"
            if current["phase"] in status.TERMINAL:
                self.frozen[uid] = ours


def test_controller_state_machine() -> None:
    pytest.importorskip("sim.apiserver", reason="the simulator (sim/) is not present")
    deep = settings().max_examples > 100  # the "deep" profile
    run_state_machine_as_test(
        ControllerMachine,
        settings=settings(max_examples=200 if deep else 15, stateful_step_count=40, deadline=None),
    )
