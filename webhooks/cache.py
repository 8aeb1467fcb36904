"""The live cluster view: list+watch caches feeding a `ClusterIndex`, off the event loop.

One reflector thread per kind, like client-go's: list (replace the kind in the index, note the
list's resourceVersion), then watch from that resourceVersion with bookmarks, in the loop of
`webhooks.listwatch` (resume, 410 Gone lists again, other failures back off with jitter).
Admission never waits on any of it: the index is read from memory, and `synced` says when
every kind has been listed once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from kubernetes import client, config

from webhooks import clusterview, errors, kinds, listwatch, metrics

log = logging.getLogger("opgate.cache")

# Watches end server-side after this long and are resumed from the last resourceVersion, as
# client-go's reflector does (it picks 5-10 min); short enough to notice a dead connection.
WATCH_SECONDS = 300
# Connect and read timeouts; the read timeout exceeds the server-side watch timeout.
CONNECT_TIMEOUT = 10.0
READ_SLACK = 30.0
# Built-in API groups whose namespaced kinds pluralize regularly: target kinds without a CRD.
BUILTIN_GROUPS = frozenset({"", "apps", "batch"})
# One long-lived watch connection per reflector (10 view kinds plus target kinds) and lists.
POOL_SIZE = 32


def connect(
    kubeconfig: str | None, *, context: str | None = None, retries: bool = True
) -> client.ApiClient:
    """An API client from a kubeconfig file, else in-cluster config, else ~/.kube/config.

    `retries=False` turns off urllib3's hidden retries, for callers that bound every call by
    its own timeout and decide themselves when to try again.
    """
    cfg = client.Configuration()
    try:
        if kubeconfig or not in_cluster():
            config.load_kube_config(
                config_file=kubeconfig, context=context, client_configuration=cfg
            )
        else:
            config.load_incluster_config(client_configuration=cfg)
    except (config.ConfigException, OSError) as exc:
        where = kubeconfig or ("~/.kube/config" if not in_cluster() else "the pod's account")
        raise errors.UsageError(
            f"cannot load the cluster config from {where} ({exc}); pass --kubeconfig PATH or "
            "run in a pod"
        ) from None
    cfg.connection_pool_maxsize = POOL_SIZE
    if not retries:
        cfg.retries = False
    return client.ApiClient(cfg)


def in_cluster() -> bool:
    """Whether this process runs in a pod with a service account token mounted."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and os.path.exists(
        "/var/run/secrets/kubernetes.io/serviceaccount/token"
    )


def collection_path(kind: kinds.Kind) -> str:
    """The all-namespaces collection URL path of a kind."""
    if kind.group:
        return f"/apis/{kind.group}/{kind.version}/{kind.plural}"
    return f"/api/{kind.version}/{kind.plural}"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _name_of(obj: dict[str, Any]) -> tuple[str, str]:
    meta = _mapping(obj.get("metadata"))
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


class Gone(Exception):
    """The resourceVersion is too old (HTTP 410): list again."""


class Reflector:
    """Keeps one kind of the index current: list, then watch, forever until stopped."""

    def __init__(
        self,
        api: client.ApiClient,
        kind: kinds.Kind,
        index: clusterview.ClusterIndex,
        *,
        metrics_: metrics.Metrics | None = None,
        watch_seconds: int = WATCH_SECONDS,
        on_sync: Callable[[], None] = lambda: None,
        on_change: Callable[[], None] = lambda: None,
        required: bool = True,
    ) -> None:
        self.api = api
        self.kind = kind
        self.index = index
        self.metrics = metrics_
        self.watch_seconds = watch_seconds
        self.on_sync = on_sync
        self.on_change = on_change
        # A kind readiness may do without (a target kind opgate is not allowed to list).
        self.required = required
        self.resource_version = ""
        self.synced = threading.Event()
        self._stop = threading.Event()
        self._response: Any = None
        self._thread = threading.Thread(
            target=self._run, name=f"reflector-{kind.plural}", daemon=True
        )

    def start(self) -> None:
        """Start the background thread."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching, cut the open watch connection, and wait for the thread."""
        self._stop.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):  # best effort on a socket being torn down
                response.shutdown()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # --- HTTP --------------------------------------------------------------------------------
    def _request(self, query: list[tuple[str, Any]], read_timeout: float) -> Any:
        method, url, headers, body, post = self.api.param_serialize(
            "GET",
            collection_path(self.kind),
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        return self.api.call_api(
            method, url, headers, body, post, _request_timeout=(CONNECT_TIMEOUT, read_timeout)
        )

    def _fixed(self, obj: dict[str, Any]) -> dict[str, Any]:
        # List items of built-in kinds come without apiVersion/kind; the index needs both.
        obj.setdefault("apiVersion", self.kind.api_version)
        obj.setdefault("kind", self.kind.kind)
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            meta.pop("managedFields", None)  # large and never read: keep the cache small
        return obj

    def list_once(self) -> None:
        """List every object of the kind, replace them in the index, remember the version."""
        resp = self._request([], CONNECT_TIMEOUT + READ_SLACK)
        data = resp.read()
        if resp.status == 410:
            raise Gone()
        if not 200 <= resp.status < 300:
            raise client.ApiException(status=resp.status, reason=resp.reason)
        doc = orjson.loads(data)
        items = [self._fixed(i) for i in doc.get("items") or () if isinstance(i, dict)]
        self._replace(items)
        self.resource_version = str((doc.get("metadata") or {}).get("resourceVersion") or "")
        if self.metrics is not None:
            self.metrics.cache_syncs.labels(self.kind.kind).inc()
        if self.synced.is_set():  # a relist may hold changes no watch event told of
            self.on_change()
        else:
            self.synced.set()
            self.on_sync()
        log.info(
            "listed",
            extra={"kind": self.kind.kind, "count": len(items), "rv": self.resource_version},
        )

    def _replace(self, items: list[dict[str, Any]]) -> None:
        """Make the index hold exactly `items` for this kind, without a moment where an object
        that exists before and after is missing (readers never see a half-done relist)."""
        group, kind = self.kind.group, self.kind.kind
        keep = {_name_of(i) for i in items}
        stale = [o for o in self.index.list(group, kind) if _name_of(o) not in keep]
        for obj in items:
            self.index.upsert(obj)
        for obj in stale:
            self.index.delete(obj)

    def _lines(self, response: Any) -> Iterator[bytes]:
        buffer = b""
        for chunk in response.stream(amt=None, decode_content=True):
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    yield line

    def watch_once(self) -> None:
        """Watch from the last resourceVersion until the server ends the watch."""
        query: list[tuple[str, Any]] = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", self.watch_seconds),
        ]
        if self.resource_version:
            query.append(("resourceVersion", self.resource_version))
        resp = self._request(query, self.watch_seconds + READ_SLACK)
        if resp.status == 410:
            resp.read()
            raise Gone()
        if not 200 <= resp.status < 300:
            resp.read()
            raise client.ApiException(status=resp.status, reason=resp.reason)
        raw = resp.response
        self._response = raw
        try:
            for line in self._lines(raw):
                if self._stop.is_set():
                    return
                self._apply(orjson.loads(line))
        finally:
            self._response = None
            raw.release_conn()

    def _apply(self, event: dict[str, Any]) -> None:
        type_ = event.get("type")
        obj = event.get("object")
        if not isinstance(obj, dict):
            return
        if type_ == "ERROR":
            if obj.get("code") == 410:
                raise Gone()
            raise client.ApiException(status=obj.get("code"), reason=str(obj.get("message")))
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if type_ in ("ADDED", "MODIFIED"):
            self.index.upsert(self._fixed(obj))
            self.on_change()
        elif type_ == "DELETED":
            self.index.delete(self._fixed(obj))
            self.on_change()
        elif type_ != "BOOKMARK":
            return
        if rv:
            self.resource_version = str(rv)
        if self.metrics is not None:
            self.metrics.cache_events.labels(self.kind.kind, str(type_)).inc()

    # --- loop --------------------------------------------------------------------------------
    def _run(self) -> None:
        listwatch.run(
            self.list_once, self.watch_once, self._stop, is_gone=self._gone, on_error=self._failed
        )

    def _gone(self, exc: Exception) -> bool:
        if isinstance(exc, Gone):
            log.info("watch expired (410 Gone); relisting", extra={"kind": self.kind.kind})
            return True
        return False

    def _failed(self, exc: Exception, delay: float) -> None:
        if self.metrics is not None:
            self.metrics.cache_errors.labels(self.kind.kind).inc()
        log.warning(
            "list/watch failed; retrying",
            extra={"kind": self.kind.kind, "error": str(exc)[:300], "backoff": delay},
        )
        status = getattr(exc, "status", None)
        if not self.required and status in (401, 403, 404) and not self.synced.is_set():
            # Not listable (RBAC, or the kind is not served): readiness does not wait for it;
            # its objects are judged absent until a list succeeds.
            log.warning(
                "target kind cannot be listed; Operations targeting it are judged as "
                "if the target were absent (grant list/watch on it to the webhook)",
                extra={"kind": self.kind.kind, "status": status},
            )
            self.synced.set()
            self.on_sync()


def target_kind(view: clusterview.ClusterView, api_version: str, kind: str) -> kinds.Kind | None:
    """The Kind (with plural and scope) of a target kind, from its CRD in the view."""
    group = kinds.group_of(api_version)
    version = api_version.rpartition("/")[2]
    for crd in view.list(kinds.CRD.group, kinds.CRD.kind):
        spec = _mapping(crd.get("spec"))
        names = _mapping(spec.get("names"))
        if spec.get("group") == group and names.get("kind") == kind and names.get("plural"):
            return kinds.Kind(
                group, version, kind, str(names["plural"]), spec.get("scope") != "Cluster"
            )
    if group in BUILTIN_GROUPS and kind:  # Deployment -> deployments, StatefulSet -> ...
        return kinds.Kind(group, version, kind, kind.lower() + "s", True)
    return None


class LiveView:
    """Reflectors for every kind admission reads, plus each OperationTemplate target kind.

    The index is `self.index`; `synced` is True once every reflector has listed once.
    """

    def __init__(
        self,
        api: client.ApiClient,
        *,
        index: clusterview.ClusterIndex | None = None,
        metrics_: metrics.Metrics | None = None,
        view_kinds: tuple[kinds.Kind, ...] = kinds.VIEW_KINDS,
        watch_seconds: int = WATCH_SECONDS,
    ) -> None:
        self.api = api
        self.index = index if index is not None else clusterview.ClusterIndex()
        self.index.synced = False
        self.metrics = metrics_
        self.watch_seconds = watch_seconds
        self._lock = threading.Lock()
        self._reflectors: dict[tuple[str, str], Reflector] = {}
        self._stopped = False
        self._ready_once = False  # after the first full sync, target kinds never unready it
        for kind in view_kinds:
            self._add(kind)

    @property
    def synced(self) -> bool:
        """Whether every reflector has completed its first list."""
        return self.index.synced

    def _add(self, kind: kinds.Kind, *, required: bool = True) -> Reflector | None:
        with self._lock:
            if self._stopped or kind.key in self._reflectors:
                return None
            # A new or changed OperationTemplate or CRD may name a target kind to watch.
            feeds_targets = kind.key in (kinds.OPERATION_TEMPLATE.key, kinds.CRD.key)
            reflector = Reflector(
                self.api,
                kind,
                self.index,
                metrics_=self.metrics,
                watch_seconds=self.watch_seconds,
                on_sync=self._synced_one,
                on_change=self._watch_targets if feeds_targets else lambda: None,
                required=required,
            )
            self._reflectors[kind.key] = reflector
            if required or not self._ready_once:
                self.index.synced = False
            return reflector

    def start(self) -> None:
        """Start every reflector thread."""
        for reflector in list(self._reflectors.values()):
            reflector.start()

    def _watch_targets(self) -> None:
        """Start a reflector for every target kind the OperationTemplates name (once CRDs and
        templates have been listed), however late a template names it."""
        crds = self._reflectors.get(kinds.CRD.key)
        templates = self._reflectors.get(kinds.OPERATION_TEMPLATE.key)
        if crds is None or templates is None:
            return
        if not (crds.synced.is_set() and templates.synced.is_set()):
            return
        for kind in self._target_kinds():
            new = self._add(kind, required=False)
            if new is not None:
                new.start()

    def _synced_one(self) -> None:
        """After each first list: add target-kind reflectors, then recompute readiness."""
        self._watch_targets()
        with self._lock:
            done = all(
                r.synced.is_set()
                for r in self._reflectors.values()
                if r.required or not self._ready_once
            )
            self._ready_once = self._ready_once or done
        self.index.synced = done
        if self.metrics is not None:
            self.metrics.cache_synced.set(1 if done else 0)
        if done:
            log.info("cluster view synced", extra={"objects": len(self.index)})

    def _target_kinds(self) -> list[kinds.Kind]:
        found = []
        for tmpl in self.index.list(kinds.OPERATION_TEMPLATE.group, kinds.OPERATION_TEMPLATE.kind):
            spec = _mapping(tmpl.get("spec"))
            for ref in spec.get("targetKinds") or ():
                if not isinstance(ref, dict):
                    continue
                kind = target_kind(
                    self.index, str(ref.get("apiVersion", "")), str(ref.get("kind", ""))
                )
                if kind is not None:
                    found.append(kind)
        return found

    def stop(self) -> None:
        """Stop every reflector."""
        with self._lock:
            self._stopped = True
            reflectors = list(self._reflectors.values())
        for reflector in reflectors:
            reflector._stop.set()
        for reflector in reflectors:
            reflector.stop()
