"""List+watch of one kind, turning every change into a callback: the controller's event feed.

The loop is `webhooks.listwatch` (the webhook's cluster view runs the same one): list, then
watch from the list's resourceVersion; a watch the server ends is resumed from the last
resourceVersion seen (BOOKMARKs included); 410 Gone lists again; any other failure waits with
a capped backoff and tries again. Stops when `stop` is set (`kube.Api.stop_watches` ends a
blocked watch at once).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from reconciler import errors, kube
from webhooks import kinds, listwatch

Obj = dict[str, Any]
LOG = logging.getLogger(__name__)


class Informer:
    """Feeds `on_object(event_type, obj)` with every object of a kind: LISTED for each object
    of a (re)list, then ADDED/MODIFIED/DELETED as they happen."""

    def __init__(
        self,
        api: kube.Api,
        kind: kinds.Kind,
        on_object: Callable[[str, Obj], None],
        *,
        namespace: str | None = None,
        label_selector: str = "",
        timeout_seconds: int = 300,
    ) -> None:
        self.api = api
        self.kind = kind
        self.on_object = on_object
        self.namespace = namespace
        self.label_selector = label_selector
        self.timeout_seconds = timeout_seconds
        self.synced = threading.Event()
        self.relists = 0
        self.resource_version = ""
        self._stop = threading.Event()

    def list_once(self) -> None:
        """List every object (each one fed as LISTED) and remember the list's version."""
        items, rv = self.api.list(self.kind, self.namespace, label_selector=self.label_selector)
        self.relists += 1
        for item in items:
            self.on_object("LISTED", item)
        self.resource_version = rv
        self.synced.set()

    def watch_once(self) -> None:
        """Watch from the last resourceVersion until the server ends the watch."""
        for type_, obj in self.api.watch(
            self.kind,
            self.namespace,
            self.resource_version,
            label_selector=self.label_selector,
            timeout_seconds=self.timeout_seconds,
        ):
            if self._stop.is_set():
                return
            if type_ == "ERROR":  # a Status: 410 lists again at once, anything else backs off
                code = int(obj.get("code") or 0)
                cls = errors.Gone if code == 410 else errors.ApiError
                raise cls(code, str(obj.get("reason") or ""), str(obj.get("message") or ""))
            rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
            self.resource_version = rv or self.resource_version
            if type_ in ("ADDED", "MODIFIED", "DELETED"):
                self.on_object(type_, obj)

    def run(self, stop: threading.Event) -> None:
        """List and watch until `stop` is set."""
        self._stop = stop

        def failed(exc: Exception, delay: float) -> None:
            LOG.warning("%s list/watch failed, retrying in %.1fs: %s", self.kind.kind, delay, exc)

        listwatch.run(
            self.list_once,
            self.watch_once,
            stop,
            is_gone=lambda exc: isinstance(exc, errors.Gone),
            on_error=failed,
        )
