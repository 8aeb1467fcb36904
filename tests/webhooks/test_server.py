"""End to end over real TLS, in process: the wire contract for admits, every deny reason,
mutations, warnings, readiness, timeouts, internal errors and metrics."""

from __future__ import annotations

import base64
import copy
import dataclasses
import re
import ssl
import sys
import time
from pathlib import Path
from typing import Any

import jsonpatch
import orjson
import pytest

from policies import loader, model
from webhooks import clusterview, handler, kinds, manifests, review

sys.path.insert(0, str(Path(__file__).parent))  # helpers beside this file (no conftest)
import serverfixtures as sf

running = sf.running  # a fixture
tls_dir = sf.tls_dir  # a fixture

BAD = sorted((sf.EXAMPLES / "bad").glob("*.yaml"))
PATH_OF = {
    kinds.OPERATION.key: "/validate/operations",
    kinds.OPERATION_TEMPLATE.key: "/validate/operationtemplates",
    kinds.WORKFLOW.key: "/validate/workflows",
}


def source_operation() -> dict[str, Any]:
    return manifests.load([sf.EXAMPLES / "operation.yaml"])[0]


def answer(status: int, body: bytes, uid: str) -> dict[str, Any]:
    """The `response` of an AdmissionReview answer, after checking the envelope."""
    assert status == 200, body
    doc = orjson.loads(body)
    assert doc["apiVersion"] == "admission.k8s.io/v1"
    assert doc["kind"] == "AdmissionReview"
    assert doc["response"]["uid"] == uid
    return doc["response"]


def test_certificate_chain_verifies_with_the_generated_ca(running: sf.Running) -> None:
    ctx = sf.client_context(running.tls / "ca.crt")
    import socket

    for name in ("localhost", "127.0.0.1"):
        with (
            socket.create_connection(("127.0.0.1", running.port), timeout=10) as raw,
            ctx.wrap_socket(raw, server_hostname=name) as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            sans = dict(tls.getpeercert()["subjectAltName"])  # type: ignore[arg-type, index]
            assert sans["DNS"]
    untrusting = ssl.create_default_context()  # system CAs only: the chain must not verify
    with (
        pytest.raises(ssl.SSLCertVerificationError),
        socket.create_connection(("127.0.0.1", running.port), timeout=10) as raw,
        untrusting.wrap_socket(raw, server_hostname="localhost"),
    ):
        pass


def test_admits_the_source_operation(running: sf.Running) -> None:
    uid = "a1b2c3d4-0000-4000-8000-00000000abcd"
    status, headers, body = running.post(
        "/validate/operations", sf.review_json(source_operation(), uid=uid)
    )
    assert headers["content-type"].startswith("application/json")
    resp = answer(status, body, uid)
    assert resp == {"uid": uid, "allowed": True}


def test_mutate_patch_decodes_and_applies(running: sf.Running) -> None:
    op = source_operation()
    del op["spec"]["engine"]
    del op["spec"]["parameters"]["failureAction"]
    status, _, body = running.post("/mutate/operations", sf.review_json(op, uid="m-1"))
    resp = answer(status, body, "m-1")
    assert resp["allowed"] is True
    assert resp["patchType"] == "JSONPatch"
    patch = orjson.loads(base64.b64decode(resp["patch"]))
    patched = jsonpatch.apply_patch(op, patch)
    assert patched["spec"]["engine"] == "workflow"
    assert patched["spec"]["parameters"]["failureAction"] == "rollback"
    # Nothing to patch: no patchType, no patch.
    status, _, body = running.post("/mutate/operations", sf.review_json(source_operation()))
    resp = answer(status, body, "2f7a1c1e-0000-4000-8000-000000000001")
    assert "patch" not in resp and "patchType" not in resp


def _expected_reason(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    match = re.match(r"# (\w+):", first)
    assert match, f"{path} should start with '# Reason: ...'"
    return match.group(1)


@pytest.mark.parametrize("example", BAD, ids=[p.stem for p in BAD])
def test_every_deny_reason_over_the_wire(running: sf.Running, example: Path) -> None:
    """Each bad example is denied over HTTPS exactly as the policy core decides it."""
    obj = manifests.load([example])[0]
    view = running.state.view
    group, kind = kinds.key_of(obj)
    meta = obj["metadata"]
    old = view.get(group, kind, meta.get("namespace", ""), meta["name"])
    operation = "UPDATE" if old is not None else "CREATE"
    path = PATH_OF[(group, kind)]
    uid = f"uid-{example.stem}"
    status, _, body = running.post(path, sf.review_json(obj, operation=operation, old=old, uid=uid))
    resp = answer(status, body, uid)
    expected = handler.handle(
        path,
        review.request_review(obj, operation=operation, old=old, uid=uid, username="x"),
        view,
        running.state.policy,
    )
    reason = _expected_reason(example)
    assert resp["allowed"] is False
    assert resp["status"]["reason"] == reason == expected.reason
    assert resp["status"]["code"] == expected.code
    assert resp["status"]["status"] == "Failure"
    assert resp["status"]["message"].startswith(reason)
    assert resp["status"]["message"] == expected.message
    causes = [c.to_json() for c in expected.causes]
    if causes:
        assert resp["status"]["details"]["causes"] == causes
        assert all(c["field"] for c in causes)
    else:
        assert "details" not in resp["status"]
    assert "patch" not in resp


def test_warn_mode_admits_with_short_warnings(tls_dir: Path) -> None:
    policy = loader.load_policy()
    relaxed = dataclasses.replace(policy, enforcement={check: "warn" for check in model.CHECKS})
    obj = manifests.load([sf.EXAMPLES / "bad" / "04-target-not-found.yaml"])[0]
    with sf.Running(sf.make_state(policy=relaxed), tls_dir) as srv:
        status, _, body = srv.post("/validate/operations", sf.review_json(obj, uid="w"))
    resp = answer(status, body, "w")
    assert resp["allowed"] is True
    assert resp["warnings"]
    assert all(len(w) <= 120 for w in resp["warnings"])


def test_unknown_fields_are_ignored(running: sf.Running) -> None:
    doc = sf.review_json(source_operation(), uid="u-1")
    doc["futureField"] = {"x": 1}
    doc["request"]["futureField"] = [1, 2]
    doc["request"]["userInfo"]["extra"] = {"scopes": ["a"]}
    doc["request"]["object"]["metadata"]["annotations"] = {"x": "y"}
    status, _, body = running.post("/validate/operations", doc)
    assert answer(status, body, "u-1")["allowed"] is True


def test_workflow_guard_route_exists(running: sf.Running) -> None:
    wf = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {"entrypoint": "main", "templates": [{"name": "main"}]},
    }
    status, _, body = running.post("/validate/workflows", sf.review_json(wf, uid="wf"))
    assert answer(status, body, "wf")["allowed"] is True


def test_not_ready_answers_503_denial_and_readyz_flips(tls_dir: Path) -> None:
    ready = {"now": False}
    state = sf.make_state(ready=lambda: ready["now"])
    with sf.Running(state, tls_dir) as srv:
        assert srv.health("/readyz")[0] == 503
        assert srv.health("/healthz") == (200, b"ok\n")
        status, _, body = srv.post("/validate/operations", sf.review_json(source_operation()))
        resp = answer(status, body, "2f7a1c1e-0000-4000-8000-000000000001")
        assert resp["allowed"] is False
        assert resp["status"]["code"] == 503
        assert resp["status"]["reason"] == "ServiceUnavailable"
        assert "not ready" in resp["status"]["message"]
        ready["now"] = True
        assert srv.health("/readyz") == (200, b"ok\n")
        status, _, body = srv.post("/validate/operations", sf.review_json(source_operation()))
        assert orjson.loads(body)["response"]["allowed"] is True


def _slow(path: str, req: Any, view: Any, policy: Any) -> Any:
    time.sleep(0.05)
    return handler.handle(path, req, view, policy)


def test_timeout_query_parameter_denies_late_decisions(tls_dir: Path) -> None:
    with sf.Running(sf.make_state(decide=_slow), tls_dir) as srv:
        status, _, body = srv.post(
            "/validate/operations?timeout=10ms", sf.review_json(source_operation(), uid="t")
        )
        resp = answer(status, body, "t")
        assert resp["allowed"] is False
        assert resp["status"]["code"] == 504
        assert resp["status"]["reason"] == "Timeout"
        assert "timeout of 0.01s" in resp["status"]["message"]
        status, _, body = srv.post(
            "/validate/operations?timeout=10s", sf.review_json(source_operation(), uid="t2")
        )
        assert answer(status, body, "t2")["allowed"] is True


def _boom(path: str, req: Any, view: Any, policy: Any) -> Any:
    raise RuntimeError("bug")


def test_internal_error_is_a_denial_not_a_500(tls_dir: Path) -> None:
    with sf.Running(sf.make_state(decide=_boom), tls_dir) as srv:
        status, _, body = srv.post("/validate/operations", sf.review_json(source_operation()))
        resp = answer(status, body, "2f7a1c1e-0000-4000-8000-000000000001")
        assert resp["allowed"] is False
        assert resp["status"]["code"] == 500
        assert resp["status"]["reason"] == "InternalError"
        assert "Traceback" not in body.decode()


def test_metrics_count_decisions(running: sf.Running) -> None:
    running.post("/validate/operations", sf.review_json(source_operation()))
    bad = manifests.load([sf.EXAMPLES / "bad" / "01-unknown-engine.yaml"])[0]
    running.post("/validate/operations", sf.review_json(bad))
    running.post("/validate/operations", b"nope")
    status, text = running.health("/metrics")
    assert status == 200
    body = text.decode()
    assert (
        'opgate_admission_requests_total{allowed="true",operation="CREATE",reason="",'
        'webhook="/validate/operations"} 1.0'
    ) in body
    assert (
        'opgate_admission_requests_total{allowed="false",operation="CREATE",'
        'reason="UnknownEngine",webhook="/validate/operations"} 1.0'
    ) in body
    assert (
        'opgate_admission_duration_seconds_bucket{le="0.0005",webhook="/validate/operations"}'
        in body
    )
    assert 'opgate_admission_duration_seconds_count{webhook="/validate/operations"} 2.0' in body
    assert "opgate_admission_requests_in_flight 0.0" in body
    assert (
        'opgate_admission_malformed_requests_total{status="400",webhook="/validate/operations"} 1.0'
        in body
    )
    assert "opgate_cert_reloads_total" in body or "opgate_cert_reloads" in body


def test_two_servers_in_one_process_keep_separate_metrics(tls_dir: Path) -> None:
    with sf.Running(sf.make_state(), tls_dir) as a, sf.Running(sf.make_state(), tls_dir) as b:
        a.post("/validate/operations", sf.review_json(source_operation()))
        assert "opgate_admission_duration_seconds_count" in a.health("/metrics")[1].decode()
        assert 'webhook="/validate/operations"' not in b.health("/metrics")[1].decode()


def test_view_changes_are_seen_without_restart(running: sf.Running) -> None:
    """The server reads the index live: removing the target flips the decision."""
    view: clusterview.ClusterIndex = running.state.view
    target = copy.deepcopy(
        view.get("apps.vworkspace.io", "ApplicationInstance", "org-myteam", "nextcloud-myteam")
    )
    assert target is not None
    view.delete(target)
    _, _, body = running.post("/validate/operations", sf.review_json(source_operation()))
    assert orjson.loads(body)["response"]["status"]["reason"] == "TargetNotFound"
    view.upsert(target)
    _, _, body = running.post("/validate/operations", sf.review_json(source_operation()))
    assert orjson.loads(body)["response"]["allowed"] is True
