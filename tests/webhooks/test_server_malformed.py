"""Malformed requests: each gets its HTTP status and a clear message, and the server lives on."""

from __future__ import annotations

import http.client
import socket
import ssl
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhooks import manifests, server

sys.path.insert(0, str(Path(__file__).parent))  # helpers beside this file (no conftest)
import serverfixtures as sf

tls_dir = sf.tls_dir  # a fixture


def _op() -> dict[str, Any]:
    return manifests.load([sf.EXAMPLES / "operation.yaml"])[0]


def _review(**changes: Any) -> bytes:
    doc = sf.review_json(_op())
    for key, value in changes.items():
        if key.startswith("request_"):
            field = key.removeprefix("request_")
            if value is None:
                doc["request"].pop(field, None)
            else:
                doc["request"][field] = value
        elif value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return orjson.dumps(doc)


def _nested(depth: int) -> bytes:
    inner = b"[" * depth + b"]" * depth
    doc = sf.review_json(_op())
    doc["request"]["object"]["spec"]["parameters"]["deep"] = "__DEEP__"
    return orjson.dumps(doc).replace(b'"__DEEP__"', inner)


WORKFLOW = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"name": "w", "namespace": "org-myteam"},
}

CASES: list[tuple[str, bytes, dict[str, str], int, str]] = [
    ("not-json", b"{nope", {}, 400, "request body is not valid JSON"),
    ("empty", b"", {}, 400, "empty request body"),
    ("json-array", b"[1, 2]", {}, 400, "body must be a JSON object"),
    ("json-string", b'"AdmissionReview"', {}, 400, "body must be a JSON object"),
    (
        "wrong-apiversion",
        _review(apiVersion="admission.k8s.io/v1beta1"),
        {},
        400,
        "apiVersion must be admission.k8s.io/v1",
    ),
    ("wrong-kind", _review(kind="ConversionReview"), {}, 400, "kind must be AdmissionReview"),
    ("missing-request", _review(request=None), {}, 400, "request is missing"),
    ("missing-uid", _review(request_uid=None), {}, 400, "request.uid is missing"),
    ("empty-uid", _review(request_uid=""), {}, 400, "request.uid is missing"),
    ("bad-operation", _review(request_operation="PATCH"), {}, 400, "request.operation"),
    (
        "kind-not-handled",
        orjson.dumps(sf.review_json(WORKFLOW)),
        {},
        400,
        "/validate/operations judges Operation",
    ),
    ("too-deep", _nested(150), {}, 400, "nested deeper than 100 levels"),
    ("orjson-recursion-limit", _nested(5000), {}, 400, "nested deeper than 100 levels"),
    ("wrong-content-type", _review(), {"Content-Type": "text/plain"}, 415, "Content-Type must be"),
]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from certs import authority, files

    tls = tmp_path_factory.mktemp("tls-malformed")
    files.write(tls, authority.generate("opgate", "t", days=1, localhost=True))
    with sf.Running(sf.make_state(), tls) as running:
        yield running


def _still_alive(srv: sf.Running) -> None:
    status, _, body = srv.post("/validate/operations", sf.review_json(_op(), uid="alive"))
    assert status == 200
    assert orjson.loads(body)["response"]["allowed"] is True


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_malformed_request(srv: sf.Running, body, headers, status, message) -> None:
    got, resp_headers, text = srv.post("/validate/operations", body, headers=headers)
    assert got == status, text
    assert message in text.decode()
    assert "Traceback" not in text.decode()
    assert resp_headers["content-type"].startswith("text/plain")
    _still_alive(srv)


def test_body_over_7_mib_is_413(srv: sf.Running) -> None:
    doc = sf.review_json(_op())
    doc["request"]["object"]["metadata"]["annotations"] = {"big": "x" * (server.MAX_BODY + 10)}
    status, _, text = srv.post("/validate/operations", orjson.dumps(doc))
    assert status == 413
    assert "exceeds" in text.decode()
    _still_alive(srv)


def test_chunked_body_over_7_mib_is_413(srv: sf.Running) -> None:
    """Without Content-Length the limit still holds (aiohttp stops reading at the bound)."""
    conn = http.client.HTTPSConnection(
        "127.0.0.1", srv.port, context=sf.client_context(srv.tls / "ca.crt"), timeout=30
    )
    chunk = b"x" * (1024 * 1024)

    def body() -> Any:
        yield b'{"apiVersion": "admission.k8s.io/v1", "pad": "'
        for _ in range(8):
            yield chunk
        yield b'"}'

    try:
        conn.request(
            "POST",
            "/validate/operations",
            body=body(),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        resp = conn.getresponse()
        assert resp.status == 413
        assert b"exceeds" in resp.read()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close before the client finished sending: also a refusal
    finally:
        conn.close()
    _still_alive(srv)


def test_body_just_under_the_limit_is_read(srv: sf.Running) -> None:
    doc = sf.review_json(_op(), uid="big-ok")
    doc["request"]["object"]["metadata"]["annotations"] = {"big": "x" * (6 * 1024 * 1024)}
    status, _, text = srv.post("/validate/operations", orjson.dumps(doc))
    assert status == 200
    assert orjson.loads(text)["response"]["uid"] == "big-ok"


def test_unknown_path_is_404_and_get_is_405(srv: sf.Running) -> None:
    status, _, _ = srv.post("/validate/nothing", _review())
    assert status == 404
    conn = http.client.HTTPSConnection(
        "127.0.0.1", srv.port, context=sf.client_context(srv.tls / "ca.crt"), timeout=10
    )
    try:
        conn.request("GET", "/validate/operations")
        assert conn.getresponse().status == 405
    finally:
        conn.close()


def _raw_exchange(srv: sf.Running, head: bytes) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    sock = sf.client_context(srv.tls / "ca.crt").wrap_socket(raw, server_hostname="localhost")
    sock.sendall(head)
    return sock


def _read_until(sock: ssl.SSLSocket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_expect_100_continue_is_answered_before_the_body_is_sent(srv: sf.Running) -> None:
    """A client that sends `Expect: 100-continue` (curl does, for large bodies) gets the interim
    response and only then sends the body; the review is answered as usual."""
    body = _review()
    head = (
        b"POST /validate/operations HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    sock = _raw_exchange(srv, head)
    try:
        interim = _read_until(sock, b"\r\n\r\n")  # nothing else can arrive: no body yet
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim
        sock.sendall(body)
        answer = _read_until(sock, b'"allowed"')
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    finally:
        sock.close()


def test_expect_is_refused_before_an_oversized_body_or_an_unknown_expectation(
    srv: sf.Running,
) -> None:
    for expect, length, status in (
        (b"100-continue", server.MAX_BODY + 1, b"413"),
        (b"something-else", 10, b"417"),
    ):
        head = (
            b"POST /validate/operations HTTP/1.1\r\nHost: localhost\r\nExpect: " + expect
            + b"\r\nContent-Length: " + str(length).encode() + b"\r\n\r\n"
        )  # fmt: skip
        sock = _raw_exchange(srv, head)
        try:
            answer = _read_until(sock, b"\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
            assert b"100 Continue" not in answer
            assert b"Connection: close" in answer  # the unread body ends this connection
            sock.sendall(b"x" * length)  # a client that sends anyway: drained, then closed
            _read_until(sock, b"never")
        finally:
            sock.close()


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300) | st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=20,
).map(orjson.dumps))  # fmt: skip
def test_arbitrary_bodies_never_get_a_5xx(srv: sf.Running, body: bytes) -> None:
    status, _, text = srv.post("/validate/operations", body)
    assert status in (200, 400, 413, 415), text
    assert "Traceback" not in text.decode(errors="replace")


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    request=st.dictionaries(
        st.sampled_from(["uid", "kind", "operation", "object", "oldObject", "userInfo",
                         "namespace", "name", "dryRun", "subResource"]),
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8)
        | st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    )
)  # fmt: skip
def test_arbitrary_requests_get_200_or_400(srv: sf.Running, request: dict[str, Any]) -> None:
    doc = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    status, _, text = srv.post("/validate/operations", orjson.dumps(doc))
    assert status in (200, 400), text
    if status == 200:
        assert orjson.loads(text)["response"]["uid"] == request["uid"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (None, server.DEFAULT_TIMEOUT),
        ("", server.DEFAULT_TIMEOUT),
        ("10s", 10.0),
        ("1m30s", 30.0),
        ("500ms", 0.5),
        ("1.5s", 1.5),
        ("2s500ms", 2.5),
        ("abc", server.DEFAULT_TIMEOUT),
        ("10", server.DEFAULT_TIMEOUT),
        ("0s", server.DEFAULT_TIMEOUT),
        ("5sx", server.DEFAULT_TIMEOUT),
    ],
)
def test_parse_timeout(text: str | None, seconds: float) -> None:
    assert server.parse_timeout(text) == seconds


@given(depth=st.integers(min_value=1, max_value=300))
def test_too_deep_matches_the_depth(depth: int) -> None:
    value: Any = 1
    for _ in range(depth):
        value = {"k": [value]} if depth % 2 else [value]
    levels = depth * 2 if depth % 2 else depth
    assert server.too_deep(value) == (levels > server.MAX_DEPTH)


def _depth(value: Any) -> int:
    """Container nesting depth, the obvious way (the reference for too_deep)."""
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@given(
    value=st.recursive(
        st.none() | st.integers(),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3)
        ),
        max_leaves=40,
    ),
    limit=st.integers(0, 12),
)
def test_too_deep_agrees_with_the_nesting_depth_of_any_tree(value: Any, limit: int) -> None:
    assert server.too_deep(value, limit) == (_depth(value) > limit)


@given(
    parts=st.lists(
        st.tuples(st.integers(0, 90), st.sampled_from(["h", "m", "s", "ms", "us", "ns"])),
        min_size=1,
        max_size=4,
    )
)
def test_parse_timeout_sums_go_duration_parts(parts: list[tuple[int, str]]) -> None:
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    text = "".join(f"{n}{unit}" for n, unit in parts)
    total = sum(n * scale[unit] for n, unit in parts)
    expected = server.DEFAULT_TIMEOUT if total <= 0 else min(total, server.MAX_TIMEOUT)
    assert server.parse_timeout(text) == pytest.approx(expected)
