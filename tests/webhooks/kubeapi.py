"""A small real Kubernetes API for the live-view tests: list and watch over HTTP, with
resourceVersions, bookmarks, history compaction (410 Gone) and injectable failures.

Runs an aiohttp app on 127.0.0.1 in its own thread; tests mutate it through thread-safe calls.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import orjson
from aiohttp import web

from webhooks import kinds

Obj = dict[str, Any]


def _status(code: int, reason: str, message: str) -> Obj:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class FakeKubeApi:
    """Objects by collection path; an event log with a compaction point; open watch queues."""

    def __init__(self, objects: list[Obj], *, bookmark_every: float = 0.1) -> None:
        self.rv = 0
        self.store: dict[str, dict[tuple[str, str], Obj]] = {}
        self.log: list[tuple[int, str, str, Obj]] = []
        self.compacted = 0
        self.watches: list[tuple[str, asyncio.Queue[Any]]] = []
        self.bookmark_every = bookmark_every
        self.fail_lists: dict[str, int] = {}  # collection path -> how many lists answer 500
        self.forbidden: set[str] = set()  # collection paths that answer 403 (no RBAC for them)
        self.hold_lists = threading.Event()  # cleared: lists wait (to observe "not synced")
        self.hold_lists.set()
        self.requests: list[str] = []
        self.loop = asyncio.new_event_loop()
        for obj in objects:
            self._put("ADDED", obj, record=False)

    # --- the store (call through `do` from tests) --------------------------------------------
    def path_of(self, obj: Obj) -> str:
        group, kind = kinds.key_of(obj)
        api_version = str(obj["apiVersion"])
        plural = next(
            (k.plural for k in kinds.VIEW_KINDS if k.key == (group, kind)),
            kind.lower() + "s",
        )
        return f"/apis/{api_version}/{plural}" if group else f"/api/{api_version}/{plural}"

    def _put(self, type_: str, obj: Obj, *, record: bool = True) -> None:
        self.rv += 1
        obj = orjson.loads(orjson.dumps(obj))
        obj["metadata"]["resourceVersion"] = str(self.rv)
        path = self.path_of(obj)
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        bucket = self.store.setdefault(path, {})
        if type_ == "DELETED":
            bucket.pop(key, None)
        else:
            type_ = "MODIFIED" if key in bucket else "ADDED"
            bucket[key] = obj
        if record:
            self.log.append((self.rv, path, type_, obj))
            for watch_path, queue in self.watches:
                if watch_path == path:
                    queue.put_nowait({"type": type_, "object": obj})

    def do(self, fn: Any, *args: Any) -> Any:
        """Run a store change on the server's loop and wait for it."""

        async def call() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(10)

    def upsert(self, obj: Obj) -> None:
        """Create or update an object (watchers get ADDED/MODIFIED)."""
        self.do(self._put, "ADDED", obj)

    def delete(self, obj: Obj) -> None:
        """Delete an object (watchers get DELETED)."""
        self.do(self._put, "DELETED", obj)

    def compact_and_drop_watches(self) -> None:
        """Forget history up to now and end every open watch: resuming watchers get 410."""

        def go() -> None:
            self.compacted = self.rv
            for _, queue in self.watches:
                queue.put_nowait(None)

        self.do(go)

    def delete_silently(self, obj: Obj) -> None:
        """Delete without an event (as if it happened during a disconnection)."""

        def go() -> None:
            self.rv += 1
            self.store.get(self.path_of(obj), {}).pop(
                (obj["metadata"].get("namespace", ""), obj["metadata"]["name"]), None
            )

        self.do(go)

    # --- HTTP ---------------------------------------------------------------------------------
    async def collection(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests.append(request.path_qs)
        if path in self.forbidden:
            return web.json_response(_status(403, "Forbidden", "injected"), status=403)
        if request.query.get("watch") in ("true", "1"):
            return await self._watch(request, path)
        while not self.hold_lists.is_set():
            await asyncio.sleep(0.01)
        if self.fail_lists.get(path, 0) > 0:
            self.fail_lists[path] -= 1
            return web.json_response(_status(500, "InternalError", "injected"), status=500)
        items = [self.store.get(path, {})[k] for k in sorted(self.store.get(path, {}))]
        kind = (items[0]["kind"] if items else "Object") + "List"
        return web.json_response(
            {
                "kind": kind,
                "apiVersion": "v1",
                "metadata": {"resourceVersion": str(self.rv)},
                # Built-in lists carry no apiVersion/kind on items; strip them like the apiserver.
                "items": [
                    {k: v for k, v in i.items() if not path.startswith("/api/") or k not in ("apiVersion", "kind")}
                    for i in items
                ],
            },
            dumps=lambda d: orjson.dumps(d).decode(),
        )  # fmt: skip

    async def _watch(self, request: web.Request, path: str) -> web.StreamResponse:
        since = int(request.query.get("resourceVersion") or self.rv)
        timeout = float(request.query.get("timeoutSeconds") or 30)
        bookmarks = request.query.get("allowWatchBookmarks") == "true"
        resp = web.StreamResponse()
        resp.content_type = "application/json"
        await resp.prepare(request)
        if since < self.compacted:
            event = {"type": "ERROR", "object": _status(410, "Expired", "too old resource version")}
            await resp.write(orjson.dumps(event) + b"\n")
            return resp
        queue: asyncio.Queue[Any] = asyncio.Queue()
        for rv, p, type_, obj in self.log:
            if p == path and rv > since:
                queue.put_nowait({"type": type_, "object": obj})
        self.watches.append((path, queue))
        deadline = self.loop.time() + timeout
        try:
            while self.loop.time() < deadline:
                try:
                    event = await asyncio.wait_for(queue.get(), self.bookmark_every)
                except TimeoutError:
                    if bookmarks:
                        mark = {"kind": "Bookmark", "metadata": {"resourceVersion": str(self.rv)}}
                        await resp.write(orjson.dumps({"type": "BOOKMARK", "object": mark}) + b"\n")
                    continue
                if event is None:
                    break
                await resp.write(orjson.dumps(event) + b"\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.watches.remove((path, queue))
        return resp

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> str:
        """Serve on 127.0.0.1:0; returns the base URL."""
        app = web.Application()
        app.router.add_get("/api/{version}/{plural}", self.collection)
        app.router.add_get("/apis/{group}/{version}/{plural}", self.collection)
        self.runner = web.AppRunner(app, shutdown_timeout=0.5)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    def stop(self) -> None:
        """End every watch and stop serving."""

        async def go() -> None:
            for _, queue in list(self.watches):
                queue.put_nowait(None)
            await self.runner.cleanup()

        asyncio.run_coroutine_threadsafe(go(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
