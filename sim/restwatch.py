"""Watch streams of the fake apiserver: `?watch=1` as JSON lines, with bookmarks and timeouts.

Events come from a `sim.watches.Watcher` fed by the store's writing threads; the writer wakes the
event loop with `call_soon_threadsafe`. A resourceVersion older than the store's history is
answered, as by kube-apiserver, with HTTP 200 and one ERROR event carrying a 410 Expired Status.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from aiohttp import web

from sim import discovery, errors, rest, store, watches

# How long a watch without timeoutSeconds stays open (kube-apiserver: 30-60 min, randomized).
DEFAULT_WATCH_SECONDS = 1800.0
TRUE = ("1", "true", "True")


def _timeout(text: str | None) -> float:
    if not text:
        return DEFAULT_WATCH_SECONDS
    try:
        value = float(text)
    except ValueError:
        raise errors.bad_request(
            f"invalid timeoutSeconds {text!r}: must be a number of seconds"
        ) from None
    return max(0.0, value)


async def stream(request: web.Request, sim: store.Store, target: rest.Target) -> web.StreamResponse:
    loop = asyncio.get_running_loop()
    config = request.app[rest.CONFIG]
    flag = asyncio.Event()
    res = target.res

    def wake() -> None:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(flag.set)

    query = request.query
    bookmarks = query.get("allowWatchBookmarks") in TRUE
    initial = query.get("sendInitialEvents") in TRUE
    timeout = _timeout(query.get("timeoutSeconds"))
    as_table = "as=Table" in request.headers.get("Accept", "")
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
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
        if exc.code != 410:
            raise
        await response.prepare(request)
        await response.write(orjson.dumps({"type": watches.ERROR, "object": exc.status}) + b"\n")
        return response
    config["watchers"].add(watcher)
    if initial and bookmarks:
        sim.bookmark(watcher, initial_end=True)
    deadline = loop.time() + timeout
    next_bookmark = loop.time() + config["bookmark_interval"]
    try:
        await response.prepare(request)
        while True:
            for event in watcher.drain():
                line = event.to_json()
                if event.type == watches.BOOKMARK:
                    line["object"].update(kind=res.kind, apiVersion=res.api_version(target.version))
                else:
                    rest.out(line["object"], res, target.version)
                    if as_table:  # kubectl get -w: each event carries a one-row Table
                        line["object"] = discovery.table(
                            res, target.version, [line["object"]], event.rv, sim.clock
                        )
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
    except ConnectionResetError:
        pass  # the client went away
    finally:
        watcher.close()
        config["watchers"].discard(watcher)
    return response
