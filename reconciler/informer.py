"""List+watch of one kind, turning every change into a callback: the controller's event feed.

Lists, then watches from the list's resourceVersion; a watch the server ends is resumed from the
last resourceVersion seen (BOOKMARKs included); 410 Gone lists again; any other failure waits
with a capped backoff and lists again. Stops when `stop` is set (`kube.Api.stop_watches` ends
a blocked watch at once).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from reconciler import errors, kube
from webhooks import kinds

Obj = dict[str, Any]
LOG = logging.getLogger(__name__)
# Backoff after a failed list or watch: doubling from 0.1 s up to 30 s.
BACKOFF_START = 0.1
BACKOFF_MAX = 30.0


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

    def _watch_from(self, rv: str, stop: threading.Event) -> None:
        while not stop.is_set():
            for type_, obj in self.api.watch(
                self.kind,
                self.namespace,
                rv,
                label_selector=self.label_selector,
                timeout_seconds=self.timeout_seconds,
            ):
                if stop.is_set():
                    return
                new_rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
                if type_ == "ERROR":
                    raise errors.Gone(410, "Expired", str(obj.get("message", "")))
                rv = new_rv or rv
                if type_ in ("ADDED", "MODIFIED", "DELETED"):
                    self.on_object(type_, obj)

    def run(self, stop: threading.Event) -> None:
        """List and watch until `stop` is set."""
        backoff = BACKOFF_START
        while not stop.is_set():
            try:
                items, rv = self.api.list(
                    self.kind, self.namespace, label_selector=self.label_selector
                )
                self.relists += 1
                for item in items:
                    self.on_object("LISTED", item)
                self.synced.set()
                backoff = BACKOFF_START
                self._watch_from(rv, stop)
            except errors.Gone:
                continue
            except Exception as exc:  # a dead connection, a 5xx: list again after a pause
                if stop.is_set():
                    return
                LOG.warning(
                    "%s list/watch failed, retrying in %.1fs: %s", self.kind.kind, backoff, exc
                )
                stop.wait(backoff)
                backoff = min(BACKOFF_MAX, backoff * 2)
