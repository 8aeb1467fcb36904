"""The admission HTTPS server: the only module that knows HTTP and TLS.

Each request: read at most 7 MiB (413), require JSON (415), decode with a nesting bound (400),
parse the AdmissionReview (400 with `MalformedReview`'s message), decide with the pure policy
core (inline on the loop: a decision is a few dict lookups and a cached schema check), encode.
Once a uid is known the answer is always HTTP 200 with an AdmissionReview; an unexpected
exception becomes a denial with code 500, never a traceback or a dead worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from policies import model
from webhooks import clusterview, decisions, errors, handler, logs, metrics, review

log = logging.getLogger("opgate.admission")

# kube-apiserver itself rejects request bodies over 3 MiB for most objects; a review holds the
# object and oldObject, so 7 MiB bounds the largest honest request and nothing more.
MAX_BODY = 7 * 1024 * 1024
# Kubernetes objects nest ~20 levels deep; parameters and JSON Schemas add some. 100 is far
# beyond any honest review and far below what would exhaust the recursion limit downstream.
MAX_DEPTH = 100
# kube-apiserver's default (and maximum) webhook timeout, when the request does not say.
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 30.0
JSON = "application/json"
# Every webhook path the policy core serves.
PATHS = tuple(handler.ENDPOINTS)
Decide = Callable[[str, review.AdmissionRequest, clusterview.ClusterView, model.Policy], Any]
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


@functools.lru_cache(maxsize=64)  # kube-apiserver sends the same `?timeout=` every time
def parse_timeout(text: str | None) -> float:
    """Seconds of a Go duration (`10s`, `1m30s`, `500ms`); the default when absent or bad."""
    if not text:
        return DEFAULT_TIMEOUT
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            return DEFAULT_TIMEOUT
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or total <= 0:
        return DEFAULT_TIMEOUT
    return min(total, MAX_TIMEOUT)


def may_be_too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """False when the raw JSON has too few brackets to nest deeper than `limit` (C-speed)."""
    return body.count(b"{") + body.count(b"[") > limit


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether decoded JSON nests arrays/objects deeper than `limit`."""
    kind = type(value)
    return (kind is dict or kind is list) and _deeper(value, limit)


def _deeper(node: dict[str, Any] | list[Any], budget: int) -> bool:
    # Recursion is bounded by `budget` (MAX_DEPTH), far below the interpreter's limit; it
    # descends only into containers, which makes it ~4x faster than an explicit stack.
    if budget <= 0:
        return True
    for child in node.values() if type(node) is dict else node:
        kind = type(child)
        if (kind is dict or kind is list) and _deeper(child, budget - 1):
            return True
    return False


@dataclasses.dataclass
class State:
    """What the admission routes read: the view, the policy, readiness and the metrics."""

    view: clusterview.ClusterView
    policy: model.Policy
    metrics: metrics.Metrics
    ready: Callable[[], bool] = lambda: True
    decide: Decide = handler.handle
    draining: bool = False
    active: int = 0  # requests being answered: the in-flight gauge reads it at scrape time

    def __post_init__(self) -> None:
        self.metrics.track_in_flight(lambda: self.active)


STATE = web.AppKey("state", State)


def _error(status: int, message: str) -> web.Response:
    """A plain-text HTTP error (not an AdmissionReview: there is no uid to answer)."""
    return web.Response(status=status, text=message + "\n", content_type="text/plain")


def _unread(status: int, message: str) -> web.Response:
    """An HTTP error answered before the body was read: the connection closes after it, as the
    unread body would otherwise be taken for the next request."""
    response = _error(status, message)
    response.force_close()
    return response


async def admit(request: web.BaseRequest, state: State) -> web.StreamResponse:
    """Answer one AdmissionReview POST."""
    path = request.path
    state.active += 1
    try:
        response = await _admit(request, state, path)
    except ConnectionResetError:  # the client went away mid-request: nobody to answer
        log.debug("client closed the connection", extra={"webhook": path})
        response = _error(400, "the client closed the connection")
    except Exception:  # the last line of defence: a clear error, never a traceback
        log.exception("unexpected failure answering a request", extra={"webhook": path})
        response = _error(400, "could not process this request; see opgate's logs")
    finally:
        state.active -= 1
    if state.draining:
        response.force_close()  # keep-alive clients reconnect to another replica
    return response


async def _read(
    request: web.BaseRequest, path: str, mets: metrics.Metrics, timeout: float = DEFAULT_TIMEOUT
) -> Any:
    """The decoded JSON body, or an HTTP error response (408 when it is not all there within
    the request's timeout: a stalled client must not hold a connection for ever)."""
    if request.content_type not in (JSON, "application/octet-stream") and request.content_type:
        mets.malformed.labels(path, "415").inc()
        return _unread(415, f"Content-Type must be {JSON}, got {request.content_type}")
    if request.content_length is not None and request.content_length > MAX_BODY:
        mets.malformed.labels(path, "413").inc()
        return _unread(413, f"request body of {request.content_length} bytes exceeds {MAX_BODY}")
    expect = request.headers.get("Expect")
    if expect is not None and request.version == aiohttp.HttpVersion11:
        # The body is acceptable so far: ask for it now rather than let the client wait out
        # its Expect timeout (curl waits 1 s); an unknown expectation is 417. This is what
        # aiohttp's router does (web_urldispatcher._default_expect_handler), which the
        # low-level server does not run; it relies on the writer's output_size as that does.
        if expect.lower() != "100-continue":
            return _unread(417, f"unsupported Expect: {expect}; only 100-continue is understood")
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the response proper has not started
    try:
        if request.content.is_eof():  # the whole body is buffered already (the common case)
            body = request.content.read_nowait()
            if len(body) > MAX_BODY:
                raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=len(body))
        else:
            async with asyncio.timeout(timeout):
                body = await request.read()
    except TimeoutError:
        mets.malformed.labels(path, "408").inc()
        return _error(
            408, f"request body not received within the request's timeout of {timeout:g}s"
        )
    except web.HTTPRequestEntityTooLarge:
        mets.malformed.labels(path, "413").inc()
        return _error(413, f"request body exceeds {MAX_BODY} bytes")
    if not body:
        mets.malformed.labels(path, "400").inc()
        return _error(400, "empty request body; expected an AdmissionReview JSON object")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        mets.malformed.labels(path, "400").inc()
        if "depth" in str(exc) or "recursion" in str(exc):  # orjson's own bound (1024)
            return _error(400, f"request body is nested deeper than {MAX_DEPTH} levels")
        return _error(400, f"request body is not valid JSON: {exc}")
    if may_be_too_deep(body) and too_deep(doc):
        mets.malformed.labels(path, "400").inc()
        return _error(400, f"request body is nested deeper than {MAX_DEPTH} levels")
    return doc


async def _admit(request: web.BaseRequest, state: State, path: str) -> web.StreamResponse:
    started = time.perf_counter()
    timeout = parse_timeout(request.query.get("timeout"))
    mets = state.metrics
    doc = await _read(request, path, mets, timeout)
    if isinstance(doc, web.StreamResponse):
        return doc
    try:
        req = review.parse_request(doc)
    except errors.MalformedReview as exc:
        mets.malformed.labels(path, str(exc.status)).inc()
        return _error(exc.status, f"malformed AdmissionReview: {exc}")
    except Exception as exc:  # a shape parse_request did not foresee: still the client's
        log.warning("unparseable AdmissionReview", extra={"webhook": path, "error": repr(exc)})
        mets.malformed.labels(path, "400").inc()
        return _error(400, "malformed AdmissionReview: request has fields of the wrong type")
    decision = _decide(state, path, req, started, timeout)
    if isinstance(decision, web.StreamResponse):
        return decision
    try:
        body = orjson.dumps(review.response(req.uid, decision))
    except Exception:  # an unencodable patch is a bug: deny rather than crash
        log.exception("cannot encode the response", extra={"uid": req.uid})
        decision = decisions.errored(500, "internal error encoding the admission response")
        body = orjson.dumps(review.response(req.uid, decision))
    seconds = time.perf_counter() - started
    mets.observe(path, req.operation, decision.allowed, decision.reason or "", seconds)
    if log.isEnabledFor(logging.INFO):
        _log_decision(path, req, decision, seconds)
    return web.Response(body=body, content_type=JSON)


def _decide(
    state: State, path: str, req: review.AdmissionRequest, started: float, timeout: float
) -> decisions.Decision | web.StreamResponse:
    if not state.ready():
        return decisions.errored(
            503,
            "opgate is not ready: the cluster view has not finished its initial sync; "
            "retry shortly",
        )
    # The decision runs inline: it is pure, CPU-bound and sub-millisecond, so an executor hop
    # would cost more than it protects. The timeout is honoured by checking the clock before
    # (a body that took too long to arrive) and after: a late answer is a Timeout denial,
    # never a late admission that kube-apiserver would already have given up on.
    if time.perf_counter() - started > timeout:
        return _timed_out(timeout)
    try:
        decision = state.decide(path, req, state.view, state.policy)
    except errors.MalformedReview as exc:
        state.metrics.malformed.labels(path, str(exc.status)).inc()
        return _error(exc.status, f"malformed AdmissionReview: {exc}")
    except Exception:  # the handler recovers its own; this is the last line of defence
        log.exception("admission handler failed", extra={"uid": req.uid, "webhook": path})
        return decisions.errored(500, "internal error deciding this request; see opgate's logs")
    if time.perf_counter() - started > timeout:
        return _timed_out(timeout)
    return decision


def _timed_out(timeout: float) -> decisions.Decision:
    return decisions.errored(
        504, f"opgate could not decide within the request's timeout of {timeout:g}s"
    )


def _log_decision(
    path: str, req: review.AdmissionRequest, decision: decisions.Decision, seconds: float
) -> None:
    log.info(
        "decision",
        extra=logs.fields(
            webhook=path,
            uid=req.uid,
            operation=req.operation,
            kind=req.kind,
            namespace=req.namespace,
            name=req.name,
            user=req.user.username,
            allowed=decision.allowed,
            reason=decision.reason,
            code=decision.code,
            duration_ms=round(seconds * 1000, 3),
            dry_run=req.dry_run,
            **({"warnings": list(decision.warnings)} if decision.warnings else {}),
        ),
    )


def admission_server(state: State, paths: tuple[str, ...] = PATHS) -> web.Server:
    """The HTTPS request handler: POST to one of `paths` is an AdmissionReview; any other path
    is 404, any other method 405.

    aiohttp's low-level server, not a web.Application: the paths are fixed, and the router,
    middleware chain and signals an Application runs per request cost ~10% of the throughput.
    Must be created inside the running event loop.
    """
    routes = frozenset(paths)
    loop = asyncio.get_running_loop()

    def make_request(
        message: Any, payload: Any, protocol: Any, writer: Any, task: Any
    ) -> web.BaseRequest:
        # client_max_size makes aiohttp stop reading at the limit (chunked bodies included).
        return web.BaseRequest(
            message, payload, protocol, writer, task, loop, client_max_size=MAX_BODY
        )

    async def dispatch(request: web.BaseRequest) -> web.StreamResponse:
        if request.path not in routes:
            return _error(404, f"no webhook at {request.path}; serve one of: {', '.join(paths)}")
        if request.method != "POST":
            response = _error(405, f"{request.method} is not allowed; POST an AdmissionReview")
            response.headers["Allow"] = "POST"
            return response
        return await admit(request, state)

    return web.Server(dispatch, request_factory=make_request, access_log=None)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.Response(text="ok\n")


async def readyz(request: web.Request) -> web.Response:
    """Readiness: 200 once the cluster view has synced and while not shutting down."""
    state = request.app[STATE]
    if state.draining:
        return web.Response(status=503, text="shutting down\n")
    if not state.ready():
        return web.Response(status=503, text="cluster view not synced\n")
    return web.Response(text="ok\n")


async def metrics_route(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    state = request.app[STATE]
    return web.Response(
        body=state.metrics.exposition(), headers={"Content-Type": metrics.CONTENT_TYPE}
    )


def health_app(state: State) -> web.Application:
    """The plain-HTTP side application: /healthz, /readyz, /metrics."""
    app = web.Application()
    app[STATE] = state
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_route)
    return app


# Seconds SIGTERM waits for requests in flight; kube-apiserver's webhook timeout is at most 30 s,
# and Kubernetes' default terminationGracePeriodSeconds is 30 s.
DEFAULT_GRACE = 15.0
# How often the drain checks whether the requests in flight are done.
DRAIN_POLL = 0.01


class Server:
    """The HTTPS admission site and the plain-HTTP health site, started and stopped together."""

    def __init__(
        self,
        state: State,
        ssl_context: Any,
        *,
        host: str = "0.0.0.0",
        port: int = 8443,
        health_host: str | None = None,
        health_port: int = 8080,
        grace: float = DEFAULT_GRACE,
    ) -> None:
        self.state = state
        self.ssl_context = ssl_context
        self.host = host
        self.port = port
        self.health_host = health_host if health_host is not None else host
        self.health_port = health_port
        self.grace = grace
        self._runners: list[web.BaseRunner] = []

    async def start(self) -> None:
        """Bind both sites (port 0 picks a free port; see `ports`)."""
        admission = web.ServerRunner(admission_server(self.state), shutdown_timeout=1.0)
        health = web.AppRunner(health_app(self.state), access_log=None, shutdown_timeout=1.0)
        for runner in (admission, health):
            await runner.setup()
            self._runners.append(runner)
        await web.TCPSite(
            admission, self.host, self.port, ssl_context=self.ssl_context, backlog=1024
        ).start()
        await web.TCPSite(health, self.health_host, self.health_port).start()

    @property
    def ports(self) -> tuple[int, int]:
        """The bound (admission, health) ports."""
        admission, health = self._runners
        return (admission.addresses[0][1], health.addresses[0][1])

    async def stop(self) -> None:
        """Stop accepting, finish requests in flight (up to `grace` seconds), close.

        aiohttp's own shutdown drops the rest of a body still being uploaded, so the drain is
        done here: close the listener, answer what is in flight (with `Connection: close`),
        and only then close the connections that are left idle.
        """
        self.state.draining = True
        loop = asyncio.get_running_loop()
        if self._runners:
            for site in list(self._runners[0].sites):
                await site.stop()
            deadline = loop.time() + self.grace
            while self.state.active > 0 and loop.time() < deadline:
                await asyncio.sleep(DRAIN_POLL)
            if self.state.active:
                log.warning("grace period over", extra={"abandoned": self.state.active})
        for runner in self._runners:  # admission first: health answers 503 until the end
            await runner.cleanup()
        self._runners.clear()
