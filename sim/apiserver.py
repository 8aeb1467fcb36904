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
`/openapi/v3` (just enough for kubectl to validate on the server), `/healthz`, `/readyz`,
`/livez`); for every resource, namespaced and cluster-scoped paths with get, list
(`labelSelector`, `fieldSelector`, `limit`/`continue`, Table output for kubectl), `?watch=1`
(JSON lines; `resourceVersion`, `allowWatchBookmarks`, `timeoutSeconds`, `sendInitialEvents`;
Tables for `kubectl get -w`), create, update, patch (merge, JSON, strategic merge, apply as a
merge), delete (DeleteOptions: `propagationPolicy`, `preconditions`), deletecollection, the
`/status` subresource, `dryRun=All` and `fieldValidation`. Request bodies are JSON, YAML, or the
protobuf kubectl sends for built-in creates (`sim.protobuf`); answers are JSON. Failures are
Kubernetes Status objects with their HTTP code; admission and pruning warnings come back as
`Warning: 299 - "..."` headers.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from sim import discovery, errors, registry, rest, restwatch, store
from webhooks import review

Obj = dict[str, Any]


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Route every request by its path, answering failures as Status objects."""
    try:
        return await _dispatch(request)
    except errors.ApiError as exc:
        return rest.error_response(exc)
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception as exc:  # a bug must still be answered, never crash the server
        return rest.error_response(errors.internal(f"{type(exc).__name__}: {exc}"))


async def _dispatch(request: web.Request) -> web.StreamResponse:
    sim = request.app[rest.STORE]
    parts = [p for p in request.path.split("/") if p]
    if request.method == "GET":
        static = _discovery(request, sim, parts)
        if static is not None:
            return static
    if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
        group, version, tail = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, tail = parts[1], parts[2], parts[3:]
    else:
        raise errors.resource_not_found()
    with sim.lock:
        target = rest.target_of(sim.registry, group, version, tail)
    user = rest.user_of(request)
    method = request.method
    if target.res in registry.REVIEWS and (method != "POST" or target.name):
        raise errors.method_not_allowed()
    if method == "GET":
        if target.name:
            ns = target.namespace or ""
            return rest.json_response(
                rest.out(
                    sim.get(target.res.group, target.res.kind, ns, target.name), target.res, version
                )
            )
        if request.query.get("watch") in restwatch.TRUE:
            return await restwatch.stream(request, sim, target)
        return rest.list_objects(request, sim, target)
    if method == "POST" and not target.name and not target.sub:
        return await rest.write(request, sim, target, user, "create")
    if method == "PUT" and target.name:
        return await rest.write(request, sim, target, user, "update")
    if method == "PATCH" and target.name:
        return await rest.write(request, sim, target, user, "patch")
    if method == "DELETE" and not target.sub:
        return await rest.write(
            request, sim, target, user, "delete" if target.name else "deletecollection"
        )
    raise errors.method_not_allowed()


def _discovery(request: web.Request, sim: store.Store, parts: list[str]) -> web.Response | None:
    if parts in (["healthz"], ["readyz"], ["livez"]):
        return web.Response(text="ok")
    if parts == ["version"]:
        return rest.json_response(discovery.VERSION)
    with sim.lock:
        if parts == ["openapi", "v3"]:
            return rest.json_response(discovery.openapi_index(sim.registry))
        if parts[:2] == ["openapi", "v3"] and len(parts) in (4, 5):
            grp, version = (
                ("", parts[3])
                if parts[2] == "api"
                else (parts[3], parts[4] if len(parts) > 4 else "")
            )
            doc = discovery.openapi_doc(sim.registry, grp, version)
            if doc is None:
                raise errors.resource_not_found()
            return rest.json_response(doc)
        if parts == ["api"]:
            return rest.json_response(discovery.api_versions(request.host))
        if parts == ["apis"]:
            return rest.json_response(discovery.group_list(sim.registry))
        if parts == ["api", "v1"]:
            return rest.json_response(discovery.resource_list(sim.registry, "", "v1"))
        if len(parts) == 2 and parts[0] == "apis":
            found = discovery.group(sim.registry, parts[1])
            if found is None:
                raise errors.resource_not_found()
            return rest.json_response(found)
        if len(parts) == 3 and parts[0] == "apis":
            found = discovery.resource_list(sim.registry, parts[1], parts[2])
            if found is None:
                raise errors.resource_not_found()
            return rest.json_response(found)
    return None


def make_app(
    sim: store.Store,
    *,
    tokens: dict[str, review.UserInfo] | None = None,
    bookmark_interval: float = 1.0,
) -> web.Application:
    """The aiohttp application serving `sim` (see the module docstring)."""
    app = web.Application(client_max_size=rest.MAX_BODY + 1024)
    app[rest.STORE] = sim
    app[rest.CONFIG] = {
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
        for watcher in list(app[rest.CONFIG]["watchers"]):
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
