"""The controller's only door to the Kubernetes API: the `kubernetes` client, JSON in and out.

Every object is a plain dict (the client's custom-objects API, which works for any API group),
every failure one of `reconciler.errors`. URLs come from `webhooks.kinds` data.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import urllib3
from kubernetes import client, watch
from kubernetes.client import exceptions as client_exceptions

from reconciler import errors
from webhooks import cache, kinds

Obj = dict[str, Any]
# Client-side read timeout of a watch: a little above the server-side timeoutSeconds, so a
# silently dead connection is noticed.
WATCH_SLACK_SECONDS = 5
# The timeout of every non-watch request (connect, read), seconds.
REQUEST_TIMEOUT = (10, 30)


def api_client(kubeconfig: str | None = None, *, context: str | None = None) -> client.ApiClient:
    """The controller's client (`webhooks.cache.connect`: kubeconfig, else in-cluster, else
    ~/.kube/config), without urllib3's hidden retries: each call is bounded by its own timeout,
    and the callers (work queue backoff, the Lease loop) decide when to try again."""
    return cache.connect(kubeconfig, context=context, retries=False)


class Api:
    """get/list/watch/create/replace-status of objects, and Events, over one ApiClient."""

    def __init__(self, api: client.ApiClient) -> None:
        self.client = api
        self._custom = client.CustomObjectsApi(api)
        self._core = client.CoreV1Api(api)
        self._watches: set[watch.Watch] = set()
        self._lock = threading.Lock()

    def _call(self, fn: Any, *args: Any, timeout: Any = REQUEST_TIMEOUT, **kwargs: Any) -> Any:
        try:
            return fn(*args, _request_timeout=timeout, **kwargs)
        except client_exceptions.ApiException as exc:
            raise errors.from_api_exception(exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # no answer: still ours
            raise errors.Unreachable(f"{type(exc).__name__}: {exc}") from None

    def get(
        self, kind: kinds.Kind, namespace: str, name: str, *, timeout: Any = REQUEST_TIMEOUT
    ) -> Obj | None:
        """One object, or None when it does not exist."""
        try:
            if kind.namespaced:
                return self._call(
                    self._custom.get_namespaced_custom_object,
                    kind.group, kind.version, namespace, kind.plural, name, timeout=timeout,
                )  # fmt: skip
            return self._call(
                self._custom.get_cluster_custom_object, kind.group, kind.version, kind.plural, name,
                timeout=timeout,
            )  # fmt: skip
        except errors.NotFound:
            return None

    def list(
        self, kind: kinds.Kind, namespace: str | None = None, *, label_selector: str = ""
    ) -> tuple[list[Obj], str]:
        """Every object of a kind (in one namespace, matching a label selector) and the list's
        resourceVersion."""
        if kind.namespaced and namespace:
            found = self._call(
                self._custom.list_namespaced_custom_object,
                kind.group, kind.version, namespace, kind.plural, label_selector=label_selector,
            )  # fmt: skip
        else:
            found = self._call(
                self._custom.list_cluster_custom_object,
                kind.group, kind.version, kind.plural, label_selector=label_selector,
            )  # fmt: skip
        items = [i for i in found.get("items") or [] if isinstance(i, dict)]
        for item in items:  # list items carry no apiVersion/kind on the wire
            item.setdefault("apiVersion", kind.api_version)
            item.setdefault("kind", kind.kind)
        return items, str((found.get("metadata") or {}).get("resourceVersion") or "")

    def create(
        self, kind: kinds.Kind, namespace: str, body: Obj, *, timeout: Any = REQUEST_TIMEOUT
    ) -> Obj:
        """Create an object; AlreadyExists when the name is taken."""
        if kind.namespaced:
            return self._call(
                self._custom.create_namespaced_custom_object,
                kind.group, kind.version, namespace, kind.plural, body, timeout=timeout,
            )  # fmt: skip
        return self._call(
            self._custom.create_cluster_custom_object, kind.group, kind.version, kind.plural, body,
            timeout=timeout,
        )  # fmt: skip

    def replace(
        self, kind: kinds.Kind, namespace: str, name: str, body: Obj, *,
        timeout: Any = REQUEST_TIMEOUT,
    ) -> Obj:  # fmt: skip
        """Replace an object; Conflict when body's resourceVersion is stale."""
        return self._call(
            self._custom.replace_namespaced_custom_object,
            kind.group, kind.version, namespace, kind.plural, name, body, timeout=timeout,
        )  # fmt: skip

    def replace_status(self, kind: kinds.Kind, namespace: str, name: str, body: Obj) -> Obj:
        """Write `body.status` through the status subresource; Conflict on a stale
        resourceVersion."""
        return self._call(
            self._custom.replace_namespaced_custom_object_status,
            kind.group, kind.version, namespace, kind.plural, name, body,
        )  # fmt: skip

    def create_event(self, namespace: str, body: Obj) -> None:
        """Record a core/v1 Event."""
        self._call(self._core.create_namespaced_event, namespace, body, _preload_content=False)

    def watch(
        self,
        kind: kinds.Kind,
        namespace: str | None,
        resource_version: str,
        *,
        label_selector: str = "",
        timeout_seconds: int = 300,
    ) -> Iterator[tuple[str, Obj]]:
        """(type, object) watch events after `resource_version` until the server ends the watch;
        Gone when the resourceVersion is too old. `stop_watches` ends it early."""
        w = watch.Watch()
        with self._lock:
            self._watches.add(w)
        kwargs: Obj = {
            "resource_version": resource_version,
            "timeout_seconds": timeout_seconds,
            "label_selector": label_selector,
            "allow_watch_bookmarks": True,
            "_request_timeout": (REQUEST_TIMEOUT[0], timeout_seconds + WATCH_SLACK_SECONDS),
        }
        if kind.namespaced and namespace:
            fn: Any = self._custom.list_namespaced_custom_object
            args: tuple[Any, ...] = (kind.group, kind.version, namespace, kind.plural)
        else:
            fn = self._custom.list_cluster_custom_object
            args = (kind.group, kind.version, kind.plural)
        try:
            for event in w.stream(fn, *args, **kwargs):
                if not isinstance(event, dict):
                    continue
                obj = event.get("raw_object") or event.get("object")
                if isinstance(obj, dict):
                    yield str(event.get("type", "")), obj
        except client_exceptions.ApiException as exc:
            raise errors.from_api_exception(exc) from None
        finally:
            with self._lock:
                self._watches.discard(w)

    def stop_watches(self) -> None:
        """End every open watch now (its socket is shut down)."""
        with self._lock:
            for w in list(self._watches):
                w.stop()

    def close(self) -> None:
        """Stop watches and release the connection pool."""
        self.stop_watches()
        self.client.close()
