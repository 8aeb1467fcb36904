"""The fake cluster served over the Kubernetes REST API, for kubectl and the `kubernetes` client.

Usage (tests, the reconciler against the simulator, `opgate simulate`)::

    from sim import apiserver, store
    cluster = store.Store(seed=1)
    url, stop = apiserver.serve_in_thread(cluster)      # http://127.0.0.1:<free port>
    apiserver.write_kubeconfig(tmp_path / "kubeconfig", url)
    ...  # kubernetes.config.load_kube_config(str(path)); kubectl --kubeconfig path get ns
    stop()                                              # closes watches, frees the port

`serve_in_thread(store, *, host="127.0.0.1", port=0, ssl_context=None, tokens=None,
bookmark_interval=1.0) -> (url, stop)` runs an aiohttp server on its own event loop in a daemon
thread; pass an `ssl.SSLContext` for HTTPS. `tokens` maps bearer tokens to `review.UserInfo`
(who the request is from, as webhooks see it); without a token, or with `Impersonate-User` /
`Impersonate-Group` headers (`kubectl --as`), requests come from that user or `store.ADMIN`.
`write_kubeconfig(path, url, *, namespace="default", token=None, ca_file=None) -> Path`.

Served: discovery (`/api`, `/apis`, `/api/v1`, `/apis/{g}`, `/apis/{g}/{v}`, `/version`,
`/healthz`, `/readyz`, `/livez`); for every resource, namespaced and cluster-scoped paths with
get, list (`labelSelector`, `fieldSelector`, `limit`/`continue`, Table output), `?watch=1`
(JSON lines; `resourceVersion`, `allowWatchBookmarks`, `timeoutSeconds`, `sendInitialEvents`),
create, update, patch (merge, JSON, strategic-as-merge, apply-as-merge), delete (DeleteOptions:
`propagationPolicy`, `preconditions`), deletecollection, the `/status` subresource and
`dryRun=All`. Failures are Kubernetes Status objects with their HTTP code.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import yaml
from aiohttp import web
from multidict import CIMultiDict

from sim import discovery, errors, patches, registry, store, watches
from webhooks import review

Obj = dict[str, Any]
# How long a watch without timeoutSeconds stays open (kube-apiserver: 30-60 min, randomized).
DEFAULT_WATCH_SECONDS = 1800.0
# The largest request body accepted (kube-apiserver limits requests to 3 MiB).
MAX_BODY = 3 * 1024 * 1024
STORE: web.AppKey[store.Store] = web.AppKey("store", store.Store)
CONFIG: web.AppKey[dict[str, Any]] = web.AppKey("config", dict)


def _json(data: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    """A JSON response; each warning becomes a `Warning: 299 - "..."` header, as the apiserver sends."""
    headers = CIMultiDict[str]()
    for text in warnings or ():
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        headers.add("Warning", f'299 - "{escaped}"')
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


def _error(exc: errors.ApiError) -> web.Response:
    return _json(exc.status, exc.code)


def _user(request: web.Request) -> review.UserInfo:
    config = request.app[CONFIG]
    user = store.ADMIN
    auth = request.headers.get("Authorization", "")
    tokens = config.get("tokens") or {}
    if auth.startswith("Bearer ") and tokens:
        found = tokens.get(auth.removeprefix("Bearer ").strip())
        if found is None:
            raise errors.ApiError(errors.status(401, "Unauthorized", "Unauthorized"))
        user = found
    impersonate = request.headers.get("Impersonate-User")
    if impersonate:
        user = review.UserInfo(
            impersonate,
            tuple(request.headers.getall("Impersonate-Group", [])) or ("system:authenticated",),
        )
    return user


def _dry_run(request: web.Request, options: Obj | None = None) -> bool:
    values = request.query.getall("dryRun", []) + list((options or {}).get("dryRun") or [])
    for value in values:
        if value != "All":
            raise errors.bad_request(
                f'Invalid dry run value: "{value}"; the only valid value is "All"'
            )
    return bool(values)


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise errors.ApiError(
            errors.status(413, "RequestEntityTooLarge", "Request entity too large")
        )
    if not raw.strip():
        return None
    content_type = request.headers.get("Content-Type", "")
    try:
        if "yaml" in content_type:
            return yaml.safe_load(raw)
        return orjson.loads(raw)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        raise errors.bad_request(
            f"the request body is not valid {'YAML' if 'yaml' in content_type else 'JSON'}: {exc}"
        ) from None


def _out(obj: Obj, res: registry.Resource, version: str) -> Obj:
    obj["apiVersion"] = res.api_version(version)
    return obj


class Target:
    """What a resource path addresses: resource, version, namespace, name and subresource."""

    def __init__(
        self, res: registry.Resource, version: str, namespace: str | None, name: str, sub: str
    ) -> None:
        self.res, self.version, self.namespace, self.name, self.sub = (
            res,
            version,
            namespace,
            name,
            sub,
        )


def _target(reg: registry.Registry, group: str, version: str, parts: list[str]) -> Target:
    namespace: str | None = None
    if len(parts) >= 3 and parts[0] == "namespaces":
        candidate = None
        with contextlib.suppress(errors.ApiError):
            candidate = reg.by_plural(group, version, parts[2])
        if candidate is not None and candidate.namespaced:
            namespace, parts = parts[1], parts[2:]
    if not parts or len(parts) > 3:
        raise errors.resource_not_found()
    res = reg.by_plural(group, version, parts[0])
    name = parts[1] if len(parts) > 1 else ""
    sub = parts[2] if len(parts) > 2 else ""
    if sub and (sub != "status" or not res.status):
        raise errors.resource_not_found()
    if (res.namespaced and name and namespace is None) or (
        not res.namespaced and namespace is not None
    ):
        raise errors.resource_not_found()
    return Target(res, version, namespace, name, sub)


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Route every request by its path, answering failures as Status objects."""
    try:
        return await _dispatch(request)
    except errors.ApiError as exc:
        return _error(exc)
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception as exc:  # a bug must still be answered, never crash the server
        return _error(errors.internal(f"{type(exc).__name__}: {exc}"))


async def _dispatch(request: web.Request) -> web.StreamResponse:
    sim = request.app[STORE]
    parts = [p for p in request.path.split("/") if p]
    if request.method == "GET":
        static = _discovery(request, sim, parts)
        if static is not None:
            return static
    if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise errors.resource_not_found()
    with sim.lock:
        target = _target(sim.registry, group, version, rest)
    user = _user(request)
    method = request.method
    if method == "GET":
        if target.name:
            ns = target.namespace or ""
            return _json(
                _out(
                    sim.get(target.res.group, target.res.kind, ns, target.name), target.res, version
                )
            )
        if request.query.get("watch") in ("1", "true", "True"):
            return await _watch(request, sim, target)
        return _list(request, sim, target)
    if method == "POST" and not target.name and not target.sub:
        return await _write(request, sim, target, user, "create")
    if method == "PUT" and target.name:
        return await _write(request, sim, target, user, "update")
    if method == "PATCH" and target.name:
        return await _write(request, sim, target, user, "patch")
    if method == "DELETE" and not target.sub:
        return await _write(
            request, sim, target, user, "delete" if target.name else "deletecollection"
        )
    raise errors.method_not_allowed()


def _discovery(request: web.Request, sim: store.Store, parts: list[str]) -> web.Response | None:
    if parts in (["healthz"], ["readyz"], ["livez"]):
        return web.Response(text="ok")
    if parts == ["version"]:
        return _json(discovery.VERSION)
    with sim.lock:
        if parts == ["openapi", "v3"]:
            return _json(discovery.openapi_index(sim.registry))
        if parts[:2] == ["openapi", "v3"] and len(parts) in (4, 5):
            grp, version = (
                ("", parts[3])
                if parts[2] == "api"
                else (parts[3], parts[4] if len(parts) > 4 else "")
            )
            doc = discovery.openapi_doc(sim.registry, grp, version)
            if doc is None:
                raise errors.resource_not_found()
            return _json(doc)
        if parts == ["api"]:
            return _json(discovery.api_versions(request.host))
        if parts == ["apis"]:
            return _json(discovery.group_list(sim.registry))
        if parts == ["api", "v1"]:
            return _json(discovery.resource_list(sim.registry, "", "v1"))
        if len(parts) == 2 and parts[0] == "apis":
            found = discovery.group(sim.registry, parts[1])
            if found is None:
                raise errors.resource_not_found()
            return _json(found)
        if len(parts) == 3 and parts[0] == "apis":
            found = discovery.resource_list(sim.registry, parts[1], parts[2])
            if found is None:
                raise errors.resource_not_found()
            return _json(found)
    return None


def _list(request: web.Request, sim: store.Store, target: Target) -> web.Response:
    res = target.res
    items, rv = sim.list(
        res.group,
        res.kind,
        target.namespace,
        labels=request.query.get("labelSelector", ""),
        fields=request.query.get("fieldSelector", ""),
    )
    meta: Obj = {"resourceVersion": str(rv)}
    token = request.query.get("continue", "")
    if token:
        try:
            start = tuple(orjson.loads(base64.urlsafe_b64decode(token.encode()))["start"])
        except (ValueError, KeyError, TypeError):
            raise errors.ApiError(
                errors.status(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                )
            ) from None
        items = [o for o in items if _sort_key(o) > start]
    limit = request.query.get("limit", "")
    if limit.isdigit() and 0 < int(limit) < len(items):
        items = items[: int(limit)]
        last = list(_sort_key(items[-1]))
        meta["continue"] = base64.urlsafe_b64encode(
            orjson.dumps({"rv": rv, "start": last})
        ).decode()
    for obj in items:
        _out(obj, res, target.version)
    if "as=Table" in request.headers.get("Accept", ""):
        return _json(discovery.table(res, target.version, items, rv, sim.clock))
    return _json(
        {
            "kind": res.list_kind,
            "apiVersion": res.api_version(target.version),
            "metadata": meta,
            "items": items,
        }
    )


def _sort_key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


async def _write(
    request: web.Request, sim: store.Store, target: Target, user: review.UserInfo, verb: str
) -> web.Response:
    res, ns = target.res, target.namespace
    body = await _body(request)
    options = body if verb in ("delete", "deletecollection") and isinstance(body, dict) else {}
    dry_run = _dry_run(request, options)
    found: list[str] = []
    kwargs: Obj = {"user": user, "dry_run": dry_run, "warnings": found}
    if verb in ("create", "update", "patch"):
        kwargs["field_validation"] = request.query.get("fieldValidation") or "Warn"

    def run() -> tuple[Any, int]:
        if verb == "create":
            _check_body(body, res, target.version)
            return sim.create(body, namespace=ns, **kwargs), 201
        if verb == "update":
            _check_body(body, res, target.version)
            return sim.update(
                body, subresource=target.sub, namespace=ns, name=target.name, **kwargs
            ), 200
        if verb == "patch":
            content_type = request.headers.get("Content-Type", patches.MERGE)
            if (
                content_type.startswith(patches.APPLY)
                and sim.find(res.group, res.kind, ns or "", target.name) is None
            ):
                _check_body(body, res, target.version)
                return sim.create(body, namespace=ns, **kwargs), 201
            return sim.patch(
                res.group,
                res.kind,
                ns or "",
                target.name,
                body,
                patch_type=content_type,
                subresource=target.sub,
                **kwargs,
            ), 200
        propagation = request.query.get("propagationPolicy") or options.get("propagationPolicy")
        if verb == "delete":
            gone = sim.delete(
                res.group,
                res.kind,
                ns or "",
                target.name,
                propagation=propagation,
                preconditions=options.get("preconditions"),
                **kwargs,
            )
            still = sim.find(res.group, res.kind, ns or "", target.name) is not None and not dry_run
            if res.crd or res.kind == "Namespace" or still:
                return gone, 202 if still else 200
            meta = gone.get("metadata") or {}
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {
                    "name": meta.get("name"),
                    "group": res.group,
                    "kind": res.plural,
                    "uid": meta.get("uid"),
                },
            }, 200
        items, _ = sim.list(
            res.group,
            res.kind,
            ns,
            labels=request.query.get("labelSelector", ""),
            fields=request.query.get("fieldSelector", ""),
        )
        for obj in items:
            meta = obj.get("metadata") or {}
            with contextlib.suppress(errors.ApiError):
                sim.delete(
                    res.group,
                    res.kind,
                    meta.get("namespace", ""),
                    meta["name"],
                    propagation=propagation,
                    **kwargs,
                )
        return {
            "kind": res.list_kind,
            "apiVersion": res.api_version(target.version),
            "metadata": {},
            "items": items,
        }, 200

    result, code = await asyncio.get_running_loop().run_in_executor(None, run)
    if result.get("kind") == res.kind:
        _out(result, res, target.version)
    return _json(result, code, found)


def _check_body(body: Any, res: registry.Resource, version: str) -> None:
    """Default apiVersion/kind from the path, as kube-apiserver's decoder does; 400 on a mismatch."""
    if not isinstance(body, dict):
        raise errors.bad_request("the request body must be a JSON object (a Kubernetes object)")
    want = res.api_version(version)
    body.setdefault("apiVersion", want)
    body.setdefault("kind", res.kind)
    if body.get("apiVersion") != want:
        raise errors.bad_request(
            f"the API version in the data ({body.get('apiVersion')}) does not match the expected API version ({want})"
        )
    if body.get("kind") != res.kind:
        raise errors.bad_request(
            f"the kind in the data ({body.get('kind')}) does not match the expected kind ({res.kind})"
        )


async def _watch(request: web.Request, sim: store.Store, target: Target) -> web.StreamResponse:
    loop = asyncio.get_running_loop()
    config = request.app[CONFIG]
    flag = asyncio.Event()
    res = target.res

    def wake() -> None:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(flag.set)

    query = request.query
    bookmarks = query.get("allowWatchBookmarks") in ("1", "true", "True")
    initial = query.get("sendInitialEvents") in ("1", "true", "True")
    timeout = float(query.get("timeoutSeconds") or DEFAULT_WATCH_SECONDS)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        watcher = sim.watch(
            res.group,
            res.kind,
            target.namespace,
            resource_version=None if initial else query.get("resourceVersion"),
            labels=query.get("labelSelector", ""),
            fields=query.get("fieldSelector", ""),
            bookmarks=bookmarks,
            wake=wake,
        )
    except errors.ApiError as exc:
        await response.write(orjson.dumps({"type": watches.ERROR, "object": exc.status}) + b"\n")
        return response
    config["watchers"].add(watcher)
    if initial and bookmarks:
        sim.bookmark(watcher, initial_end=True)
    deadline = loop.time() + timeout
    next_bookmark = loop.time() + config["bookmark_interval"]
    try:
        while True:
            for event in watcher.drain():
                line = event.to_json()
                if event.type == watches.BOOKMARK:
                    line["object"].update(kind=res.kind, apiVersion=res.api_version(target.version))
                else:
                    _out(line["object"], res, target.version)
                await response.write(orjson.dumps(line) + b"\n")
            now = loop.time()
            if watcher.closed or now >= deadline:
                break
            if bookmarks and now >= next_bookmark:
                sim.bookmark(watcher)
                next_bookmark = now + config["bookmark_interval"]
                continue
            flag.clear()
            wait = min(deadline, next_bookmark if bookmarks else deadline) - now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(flag.wait(), timeout=max(0.01, wait))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        watcher.close()
        config["watchers"].discard(watcher)
    return response


def make_app(
    sim: store.Store,
    *,
    tokens: dict[str, review.UserInfo] | None = None,
    bookmark_interval: float = 1.0,
) -> web.Application:
    """The aiohttp application serving `sim` (see the module docstring)."""
    app = web.Application(client_max_size=MAX_BODY + 1024)
    app[STORE] = sim
    app[CONFIG] = {
        "tokens": tokens or {},
        "bookmark_interval": bookmark_interval,
        "watchers": set(),
    }
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app


def serve_in_thread(
    sim: store.Store,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
    tokens: dict[str, review.UserInfo] | None = None,
    bookmark_interval: float = 1.0,
) -> tuple[str, Callable[[], None]]:
    """Serve `sim` from a daemon thread; returns the base URL and a `stop()` that ends it."""
    ready = threading.Event()
    box: dict[str, Any] = {}
    app = make_app(sim, tokens=tokens, bookmark_interval=bookmark_interval)

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(app, shutdown_timeout=2.0, access_log=None)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
            loop.run_until_complete(site.start())
            bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            scheme = "https" if ssl_context else "http"
            box.update(url=f"{scheme}://{host}:{bound}", loop=loop, runner=runner)
        except Exception as exc:  # reported to the caller below
            box["error"] = exc
            ready.set()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, name="sim-apiserver", daemon=True)
    thread.start()
    ready.wait(30)
    if "error" in box or "url" not in box:
        raise errors.SimError(
            f"the fake apiserver could not start on {host}:{port}: {box.get('error', 'timeout')}"
        )

    def stop() -> None:
        loop = box["loop"]
        if loop.is_closed():
            return
        for watcher in list(app[CONFIG]["watchers"]):
            watcher.close()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)

    return box["url"], stop


def write_kubeconfig(
    path: str | Path,
    url: str,
    *,
    namespace: str = "default",
    token: str | None = None,
    ca_file: str | Path | None = None,
) -> Path:
    """Write a kubeconfig whose current context points at `url` (context and cluster `opgate-sim`)."""
    cluster: Obj = {"server": url}
    if ca_file is not None:
        cluster["certificate-authority"] = str(ca_file)
    user: Obj = {"token": token} if token else {}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "opgate-sim", "cluster": cluster}],
        "users": [{"name": "opgate-sim", "user": user}],
        "contexts": [
            {
                "name": "opgate-sim",
                "context": {"cluster": "opgate-sim", "user": "opgate-sim", "namespace": namespace},
            }
        ],
        "current-context": "opgate-sim",
    }
    path = Path(path)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
