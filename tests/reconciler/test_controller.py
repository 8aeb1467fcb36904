"""The controller against the simulator's Kubernetes REST API, through the real `kubernetes`
client: the worked example end to end, adoption, NameConflict, WorkflowMissing, other engines,
garbage collection, leader election."""

from __future__ import annotations

import copy
import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies import loader
from reconciler import controller, errors, kube, leader, materialize
from webhooks import kinds

OPS = ("ops.vworkspace.io", "Operation")
WF = ("argoproj.io", "Workflow")
NS = "org-myteam"
NAME = "nextcloud-myteam-migrate-2026-05-28"
# Short retries so the test is quick; a lease long enough that a loaded machine never loses it.
FAST = leader.Timing(lease_duration=15, renew_deadline=10, retry_period=0.1)


def the_operation(repo_root) -> dict[str, Any]:
    return yaml.safe_load((repo_root / "deploy" / "examples" / "operation.yaml").read_text())


@pytest.fixture
def example_operation() -> dict[str, Any]:
    return the_operation(Path(__file__).resolve().parents[2])


def get(cluster, kind: tuple[str, str], name: str = NAME, ns: str = NS) -> dict[str, Any] | None:
    return cluster.store.find(kind[0], kind[1], ns, name)


def phase(cluster, name: str = NAME) -> str | None:
    op = get(cluster, OPS, name)
    return ((op or {}).get("status") or {}).get("phase")


def condition(op: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in op["status"]["conditions"] if c["type"] == type_)


def argo_writes(cluster, status: dict[str, Any], name: str = NAME) -> None:
    """What the Argo controller does: update the Workflow with its status (the Workflow CRD
    has no status subresource)."""
    wf = copy.deepcopy(get(cluster, WF, name))
    wf["status"] = status
    cluster.store.update(wf)


def event_reasons(cluster, name: str = NAME) -> list[str]:
    items, _ = cluster.store.list("", "Event", NS)
    found = [e for e in items if e["involvedObject"]["name"] == name]
    found.sort(key=lambda e: int(e["metadata"]["resourceVersion"]))
    return [e["reason"] for e in found]


@pytest.fixture
def policy_():
    return loader.load_policy(None)


@pytest.fixture
def running(cluster, policy_):
    """A started controller (no leader election) on the example cluster; stopped afterwards."""
    ctl = controller.Controller(
        cluster.new_api(), policy_, controller.Settings(leader_elect=False, watch_timeout=5)
    )
    ctl.start()
    yield ctl
    ctl.stop()
    ctl.api.close()


def test_worked_example_end_to_end(cluster, running, example_operation, wait) -> None:
    """Pending -> Running with `Node: take-snapshot` -> Succeeded with runId and logsRef."""
    cluster.store.create(example_operation)
    wf = wait("the Workflow", lambda: get(cluster, WF))
    op = get(cluster, OPS)
    assert wf["metadata"]["labels"][materialize.OPERATION_LABEL] == op["metadata"]["uid"]
    assert wf["metadata"]["ownerReferences"][0]["uid"] == op["metadata"]["uid"]
    assert wf["spec"]["workflowTemplateRef"] == {
        "name": "app-migration-with-snapshot",
        "clusterScope": True,
    }
    assert wf["spec"]["activeDeadlineSeconds"] == 1800
    wait("Pending", lambda: phase(cluster) == "Pending")
    assert get(cluster, OPS)["status"]["outputs"]["runId"] == wf["metadata"]["uid"]

    argo_writes(
        cluster,
        {
            "phase": "Running",
            "startedAt": "2026-05-28T10:00:00Z",
            "nodes": {
                NAME: {"id": NAME, "displayName": NAME, "type": "DAG", "phase": "Running"},
                f"{NAME}-1": {
                    "id": f"{NAME}-1",
                    "displayName": "prechecks",
                    "type": "Pod",
                    "phase": "Succeeded",
                    "startedAt": "2026-05-28T10:00:00Z",
                    "finishedAt": "2026-05-28T10:00:20Z",
                },
                f"{NAME}-2": {
                    "id": f"{NAME}-2",
                    "displayName": "take-snapshot",
                    "type": "Pod",
                    "phase": "Running",
                    "startedAt": "2026-05-28T10:00:41Z",
                },
            },
        },
    )
    wait("Running", lambda: phase(cluster) == "Running")
    running_cond = condition(get(cluster, OPS), "Running")
    assert (running_cond["status"], running_cond["reason"]) == ("True", "WorkflowInProgress")
    assert running_cond["message"] == "Node: take-snapshot"

    argo_writes(cluster, {"phase": "Succeeded", "finishedAt": "2026-05-28T10:09:00Z"})
    wait("Succeeded", lambda: phase(cluster) == "Succeeded")
    op = get(cluster, OPS)
    assert condition(op, "Succeeded")["status"] == "True"
    assert op["status"]["outputs"] == {
        "logsRef": {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "namespace": NS,
            "name": NAME,
        },
        "runId": wf["metadata"]["uid"],
    }
    wait(
        "the Events",
        lambda: (
            event_reasons(cluster)
            == ["WorkflowCreated", "Pending", "WorkflowInProgress", "WorkflowSucceeded"]
        ),
        timeout=10,
    )
    # never modified after creation: only Argo's status writes changed it
    final = get(cluster, WF)
    assert (final["spec"], final["metadata"]["labels"]) == (wf["spec"], wf["metadata"]["labels"])


def test_restarted_controller_adopts_and_never_creates_a_second(
    cluster, policy_, example_operation
) -> None:
    cluster.store.create(example_operation)
    first = controller.Controller(cluster.api, policy_, controller.Settings(leader_elect=False))
    first.resync()
    first.drain()
    uid = get(cluster, WF)["metadata"]["uid"]
    for _ in range(3):
        again = controller.Controller(cluster.api, policy_, controller.Settings(leader_elect=False))
        again.resync()
        again.drain()
        assert again.stats.created == 0
    assert get(cluster, WF)["metadata"]["uid"] == uid
    items, _ = cluster.store.list(*WF, NS)
    assert len(items) == 1


def test_crash_between_create_and_status_adopts_by_name(cluster, policy_, example_operation):
    """The Workflow exists but the status never recorded it: the next run adopts it."""
    op = cluster.store.create(example_operation)
    ctl = controller.Controller(cluster.api, policy_, controller.Settings(leader_elect=False))
    templates = ctl.templates(op)
    body = materialize.materialize(op, templates.optemplate, templates.resolved, policy_)
    cluster.store.create(body)
    ctl.resync()
    ctl.drain()
    assert ctl.stats.created == 0
    assert phase(cluster) == "Pending"
    assert get(cluster, OPS)["status"]["outputs"]["runId"] == get(cluster, WF)["metadata"]["uid"]


def test_name_conflict(cluster, running, example_operation, wait) -> None:
    stranger = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": NAME, "namespace": NS},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "suspend": {}}]},
    }
    before = cluster.store.create(stranger)
    cluster.store.create(example_operation)
    wait("Failed", lambda: phase(cluster) == "Failed")
    failed = condition(get(cluster, OPS), "Failed")
    assert (failed["status"], failed["reason"]) == ("True", "NameConflict")
    assert get(cluster, WF)["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_workflow_deleted_while_running(cluster, running, example_operation, wait) -> None:
    cluster.store.create(example_operation)
    wait("the Workflow", lambda: get(cluster, WF))
    argo_writes(cluster, {"phase": "Running"})
    wait("Running", lambda: phase(cluster) == "Running")
    cluster.store.delete(*WF, NS, NAME)
    wait("Failed", lambda: phase(cluster) == "Failed")
    failed = condition(get(cluster, OPS), "Failed")
    assert (failed["status"], failed["reason"]) == ("True", "WorkflowMissing")
    running.resync()
    wait("the queue to drain", running.queue.idle)
    assert get(cluster, WF) is None  # no second Workflow


def test_other_engines_left_alone(cluster, policy_, example_operation) -> None:
    job = copy.deepcopy(example_operation)
    job["metadata"]["name"] = "a-job"
    job["spec"]["engine"] = "job"
    stored = cluster.store.create(job)
    ctl = controller.Controller(cluster.api, policy_, controller.Settings(leader_elect=False))
    ctl.resync()
    ctl.drain()
    assert get(cluster, WF, "a-job") is None
    assert (
        get(cluster, OPS, "a-job")["metadata"]["resourceVersion"]
        == (stored["metadata"]["resourceVersion"])
    )


def test_operation_deleted_takes_its_workflow(cluster, policy_, example_operation) -> None:
    cluster.store.create(example_operation)
    ctl = controller.Controller(cluster.api, policy_, controller.Settings(leader_elect=False))
    ctl.resync()
    ctl.drain()
    assert get(cluster, WF) is not None
    cluster.store.delete(*OPS, NS, NAME)
    assert get(cluster, WF) is None  # ownerReference garbage collection
    ctl.resync()
    ctl.drain()
    assert get(cluster, WF) is None


def test_leader_election_one_active_then_failover(cluster, policy_, example_operation, wait):
    def replica(identity: str) -> controller.Controller:
        settings = controller.Settings(
            leader_elect=True, identity=identity, timing=FAST, watch_timeout=5
        )
        return controller.Controller(cluster.new_api(), policy_, settings)

    if cluster.store.find("", "Namespace", "", "vworkspace-system") is None:
        cluster.store.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "vworkspace-system"}}
        )
    a, b = replica("replica-a"), replica("replica-b")
    a.start()
    wait("replica-a to lead", a.elector.leading.is_set)
    b.start()
    try:
        cluster.store.create(example_operation)
        wait("Pending", lambda: phase(cluster) == "Pending")
        assert not b.elector.leading.is_set()
        assert b.stats.status_writes == 0 and b.stats.created == 0
        lease = cluster.store.find(
            "coordination.k8s.io", "Lease", "vworkspace-system", "opgate-reconciler"
        )
        assert lease["spec"]["holderIdentity"] == "replica-a"
        a.stop()
        wait("replica-b to lead", b.elector.leading.is_set)
        argo_writes(cluster, {"phase": "Failed", "message": "boom"})
        wait("Failed", lambda: phase(cluster) == "Failed")
        assert b.stats.status_writes >= 1
    finally:
        a.stop()
        b.stop()
        a.api.close()
        b.api.close()


def test_lease_body_transitions() -> None:
    now = datetime.datetime(2026, 5, 28, 10, 0, tzinfo=datetime.UTC)
    first = leader.lease_body("ns", "l", "a", now, 15, None)
    assert first["spec"]["holderIdentity"] == "a"
    assert first["spec"]["leaseTransitions"] == 0
    renewed = leader.lease_body("ns", "l", "a", now + datetime.timedelta(seconds=5), 15, first)
    assert renewed["spec"]["acquireTime"] == first["spec"]["acquireTime"]
    assert renewed["spec"]["leaseTransitions"] == 0
    taken = leader.lease_body("ns", "l", "b", now, 15, renewed)
    assert taken["spec"]["leaseTransitions"] == 1
    assert kinds.OPERATION.plural == "operations"


def test_worked_example_with_the_fake_argo_controller(cluster, running, example_operation, wait):
    """The worked example run by the simulator's Argo controller on the shipped library: each
    running step is mirrored as `Node: <displayName>` (Argo names a DAG task's node after the
    task, so the step running template take-snapshot shows as `snapshot`)."""
    argo_controller = pytest.importorskip("sim.argo.controller")
    from sim.argo import world
    from webhooks import manifests

    crd = Path(__file__).resolve().parents[2] / "sim/scenarios/manifests/volumesnapshot-crd.yaml"
    if not crd.is_file():
        pytest.skip(f"{crd} not present")
    cluster.store.load(manifests.load([crd]))

    def outcome(step: Any) -> Any:
        return world.Outcome(result="ok") if step.task == "verify" else world.Outcome()

    snapshots: list[dict[str, Any]] = []

    def snapshot_ready() -> None:
        """The CSI driver finishing the snapshot (after the test saw the step running)."""
        for meta in (s["metadata"] for s in snapshots):
            cluster.store.patch(
                "snapshot.storage.k8s.io",
                "VolumeSnapshot",
                meta["namespace"],
                meta["name"],
                {"status": {"readyToUse": True}},
                subresource="status",
            )

    argo = argo_controller.Controller(cluster.store, outcome, on_create=snapshots.append)
    cluster.store.create(example_operation)
    wait("the Workflow", lambda: get(cluster, WF))
    seen: list[str] = []
    for _ in range(40):
        argo.sync(cluster.store.clock.now())
        wf = get(cluster, WF)
        wf_phase = (wf.get("status") or {}).get("phase")
        if wf_phase == "Running":
            steps = [
                n
                for n in wf["status"]["nodes"].values()
                if n["type"] == "Pod" and n["phase"] == "Running"
            ]
            if steps:
                expected = f"Node: {steps[0]['displayName']}"
                wait(
                    expected,
                    lambda e=expected: (
                        phase(cluster) == "Running"
                        and condition(get(cluster, OPS), "Running")["message"] == e
                    ),
                )
                seen.append(expected)
                if expected == "Node: snapshot":
                    snapshot_ready()
        if wf_phase in ("Succeeded", "Failed", "Error"):
            break
        cluster.store.clock.advance(5)
    assert get(cluster, WF)["status"]["phase"] == "Succeeded"
    wait("Succeeded", lambda: phase(cluster) == "Succeeded")
    assert list(dict.fromkeys(seen)) == [
        "Node: prechecks",
        "Node: quiesce(0)",  # a step with a retryStrategy: its attempt is the running Pod node
        "Node: snapshot",  # the task running template take-snapshot
        "Node: migrate(0)",
        "Node: verify",
        "Node: unquiesce(0)",
    ]
    op = get(cluster, OPS)
    assert op["status"]["outputs"]["runId"] == get(cluster, WF)["metadata"]["uid"]


def test_refused_creation_is_an_event_and_retried(cluster, policy_, example_operation) -> None:
    """A Workflow the API refuses (an admission denial) leaves the Operation Pending, says why
    in a Warning Event, and is retried."""

    class Refusing(kube.Api):
        refusals = 3

        def create(self, kind, namespace, body, **kw):
            if kind == kinds.WORKFLOW and Refusing.refusals:
                Refusing.refusals -= 1
                raise errors.ApiError(403, "Forbidden", "admission webhook denied the request")
            return super().create(kind, namespace, body, **kw)

    cluster.store.create(example_operation)
    ctl = controller.Controller(
        Refusing(cluster.api.client), policy_, controller.Settings(leader_elect=False)
    )
    for attempt in range(3):
        ctl.resync()
        ctl.drain()
        assert get(cluster, WF) is None
        assert ctl.stats.failures == attempt + 1
        assert phase(cluster) == "Pending"  # not yet observed: DESIGN's first row
    # The same refusal three times is one Warning Event, not three.
    assert event_reasons(cluster).count("WorkflowCreateFailed") == 1
    meta = example_operation["metadata"]
    assert list(ctl._refusals) == [(meta["namespace"], meta["name"])]
    ctl.resync()
    ctl.drain()
    assert get(cluster, WF) is not None
    assert phase(cluster) == "Pending"
    assert ctl._refusals == {}  # forgotten once created: a later refusal warns again


def test_a_refusal_is_forgotten_when_its_operation_goes(cluster, policy_, example_operation):
    """An Operation deleted while its Workflow is refused leaves nothing behind, so a new
    Operation of the same name gets its own Warning."""

    class Refusing(kube.Api):
        def create(self, kind, namespace, body, **kw):
            if kind == kinds.WORKFLOW:
                raise errors.ApiError(403, "Forbidden", "admission webhook denied the request")
            return super().create(kind, namespace, body, **kw)

    cluster.store.create(example_operation)
    ctl = controller.Controller(
        Refusing(cluster.api.client), policy_, controller.Settings(leader_elect=False)
    )
    ctl.resync()
    ctl.drain()
    assert ctl._refusals
    meta = example_operation["metadata"]
    cluster.store.delete(*OPS, meta["namespace"], meta["name"])
    ctl.reconcile((meta["namespace"], meta["name"]))
    assert ctl._refusals == {}


def test_a_holder_cut_off_from_the_api_stops_leading_in_time_and_leads_again(
    cluster, tmp_path, wait
):
    """An API that accepts connections and never answers (a partition) ends each Lease call in
    time, so the holder stops leading within its renew deadline instead of minutes later; the
    elector never dies of it and takes the Lease again once the API is back."""
    import socket
    import threading
    import time

    from sim import apiserver

    if cluster.store.find("", "Namespace", "", "vworkspace-system") is None:
        cluster.store.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "vworkspace-system"}}
        )
    timing = leader.Timing(lease_duration=3, renew_deadline=1.5, retry_period=0.1)
    elector = leader.LeaderElector(
        cluster.new_api(), "vworkspace-system", "partition-test", "solo", timing=timing
    )
    stop = threading.Event()
    changes: list[str] = []
    thread = threading.Thread(
        target=elector.run,
        args=(stop, lambda: changes.append("started"), lambda: changes.append("stopped")),
        daemon=True,
    )
    thread.start()
    silent = socket.socket()
    try:
        wait("leading", elector.leading.is_set)
        good = elector.api
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # accepts connections, never answers
        dead = apiserver.write_kubeconfig(
            tmp_path / "silent", f"http://127.0.0.1:{silent.getsockname()[1]}"
        )
        elector.api = kube.Api(kube.api_client(str(dead)))
        cut = time.monotonic()
        wait("the holder to stop leading", lambda: not elector.leading.is_set(), timeout=20)
        assert time.monotonic() - cut < 6  # renew deadline 1.5 s, each call bounded to 0.5 s
        assert thread.is_alive()
        elector.api = good
        wait("leading again", elector.leading.is_set, timeout=20)
        assert changes == ["started", "stopped", "started"]
    finally:
        stop.set()
        thread.join(10)
        silent.close()
