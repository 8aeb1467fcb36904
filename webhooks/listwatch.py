"""The list+watch loop client-go's reflector runs, shared by the webhook's cluster view
(`webhooks.cache`) and the reconciler's informers (`reconciler.informer`).

List once, then watch from the list's resourceVersion; a watch the server ends is resumed (the
caller tracks the last resourceVersion seen, BOOKMARKs included); a watch that answers 410 Gone
lists again at once; any other failure waits with a doubling, jittered backoff and tries again
(listing again if the list itself failed). Transport, what to do with objects and what to log
are the caller's: this module only decides what to call next.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

# Backoff after a failed list or watch: doubles from the first value up to the cap.
BACKOFF_FIRST = 0.2
BACKOFF_CAP = 30.0


def run(
    list_once: Callable[[], None],
    watch_once: Callable[[], None],
    stop: threading.Event,
    *,
    is_gone: Callable[[Exception], bool],
    on_error: Callable[[Exception, float], None] = lambda exc, delay: None,
) -> None:
    """Call `list_once` and then `watch_once` repeatedly until `stop` is set.

    `is_gone(exc)` says whether a failure is 410 Gone; `on_error(exc, delay)` hears of every
    other failure before the loop waits `delay` seconds (jittered by ±20%).
    """
    delay = BACKOFF_FIRST
    need_list = True
    while not stop.is_set():
        try:
            if need_list:
                list_once()
                need_list = False
            watch_once()
            delay = BACKOFF_FIRST
            continue
        except Exception as exc:  # any failure: decided below, never fatal to the loop
            if stop.is_set():
                return
            if is_gone(exc):
                if not need_list:  # a watch expired: list again at once
                    need_list = True
                    continue
            else:
                on_error(exc, delay)
        stop.wait(delay * random.uniform(0.8, 1.2))
        delay = min(delay * 2, BACKOFF_CAP)
