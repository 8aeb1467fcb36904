"""Who answers the admission chain's webhook calls: the policy core in process, or real HTTPS.

`InProcess` hands the AdmissionReview to `webhooks.handler.handle` (the same seam `opgate serve`
uses) with the service path of the webhook's clientConfig and the store's cluster view; the JSON
goes through the same parse/encode steps as on the wire. `Https` POSTs it to a running server,
verifying the server certificate against the configuration's `caBundle` for the name
kube-apiserver would use (`<service>.<namespace>.svc`, or the URL's host); with `base_url`, a
service reference is sent to that address instead of the cluster DNS name.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

import orjson

from policies import model
from sim import admission
from webhooks import clusterview, decisions, errors, review

Obj = dict[str, Any]
Handle = Callable[
    [str, review.AdmissionRequest, clusterview.ClusterView, model.Policy], decisions.Decision
]


class InProcess:
    """Calls the policy core directly: `handle(path, request, view, policy)`."""

    def __init__(self, policy: model.Policy, *, handle: Handle | None = None) -> None:
        self.policy = policy
        self._handle = handle

    def __call__(self, hook: admission.Webhook, body: Obj, view: clusterview.ClusterIndex) -> Obj:
        """The AdmissionReview the server would answer for this webhook path."""
        handle = self._handle
        if handle is None:
            from webhooks import handler

            handle = handler.handle
        try:
            request = review.parse_request(orjson.loads(orjson.dumps(body)))
            decision = handle(hook.path, request, view, self.policy)
        except errors.MalformedReview as exc:
            raise admission.CallFailed(
                f"the server rejected our request ({exc.status}): {exc}"
            ) from None
        return orjson.loads(orjson.dumps(review.response(request.uid, decision)))


class _Connection(http.client.HTTPSConnection):
    """An HTTPS connection that verifies the certificate for `sni`, whatever address it dials."""

    def __init__(
        self, host: str, port: int, *, sni: str, context: ssl.SSLContext, timeout: float
    ) -> None:
        super().__init__(host, port, context=context, timeout=timeout)
        self._sni = sni
        self._ctx = context

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as http.client does
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._sni)


def _target(hook: admission.Webhook, base_url: str | None) -> tuple[str, str, int, str, str]:
    """(URL as the apiserver would name it, dial host, dial port, TLS name, request path)."""
    config = hook.client_config
    service = config.get("service")
    if isinstance(service, dict):
        sni = f"{service.get('name')}.{service.get('namespace')}.svc"
        port = int(service.get("port") or 443)
        path = str(service.get("path") or "/")
        shown = f"https://{sni}:{port}{path}"
    else:
        parsed = urllib.parse.urlsplit(str(config.get("url") or ""))
        if parsed.scheme != "https" or not parsed.hostname:
            raise admission.CallFailed(
                f"webhook clientConfig.url must be an https URL, got {config.get('url')!r}"
            )
        sni, port = parsed.hostname, parsed.port or 443
        path = parsed.path or "/"
        shown = urllib.parse.urlunsplit(parsed._replace(query="", fragment=""))
    host = sni
    if base_url:
        base = urllib.parse.urlsplit(base_url)
        host, port = base.hostname or "127.0.0.1", base.port or 443
    return shown, host, port, sni, path


class Https:
    """POSTs AdmissionReviews over TLS like kube-apiserver (`?timeout=<n>s`, caBundle trust)."""

    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = base_url
        self._local = threading.local()

    def _context(self, hook: admission.Webhook) -> ssl.SSLContext:
        bundle = hook.client_config.get("caBundle")
        cache: dict[str, ssl.SSLContext] = self._local.__dict__.setdefault("contexts", {})
        key = str(bundle or "")
        if key not in cache:
            if bundle:
                try:
                    pem = base64.b64decode(str(bundle)).decode("ascii")
                    cache[key] = ssl.create_default_context(cadata=pem)
                except (ValueError, ssl.SSLError) as exc:
                    raise admission.CallFailed(
                        f"could not use clientConfig.caBundle: {exc}"
                    ) from None
            else:
                cache[key] = ssl.create_default_context()
        return cache[key]

    def _post(
        self, hook: admission.Webhook, target: tuple[str, str, int, str, str], payload: bytes
    ) -> tuple[int, bytes]:
        """POST on this thread's kept-alive connection (a fresh one after a dropped reuse)."""
        _, host, port, sni, path = target
        conns: dict[tuple[Any, ...], _Connection] = self._local.__dict__.setdefault("conns", {})
        key = (host, port, sni, str(hook.client_config.get("caBundle") or ""))
        for attempt in (1, 2):
            conn = conns.get(key)
            reused = conn is not None
            if conn is None:
                conn = conns[key] = _Connection(
                    host, port, sni=sni, context=self._context(hook), timeout=float(hook.timeout)
                )
            conn.timeout = float(hook.timeout)
            if conn.sock is not None:
                conn.sock.settimeout(conn.timeout)
            try:
                conn.request(
                    "POST",
                    f"{path}?timeout={hook.timeout}s",
                    body=payload,
                    headers={"Content-Type": "application/json", "Accept": "application/json"},
                )
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conns.pop(key, None)
                conn.close()
                if reused and attempt == 1:
                    continue  # the server closed an idle kept-alive connection: dial again
                raise
            except BaseException:
                conns.pop(key, None)
                conn.close()
                raise
            if response.will_close:
                conns.pop(key, None)
                conn.close()
            return response.status, data
        raise ConnectionResetError("connection closed")  # not reached: the loop returns or raises

    def __call__(self, hook: admission.Webhook, body: Obj, view: clusterview.ClusterIndex) -> Obj:
        """The decoded AdmissionReview answer; CallFailed on any transport or HTTP failure."""
        target = _target(hook, self.base_url)
        url = f"{target[0]}?timeout={hook.timeout}s"
        try:
            status, data = self._post(hook, target, orjson.dumps(body))
        except TimeoutError:
            raise admission.CallFailed(
                f'failed to call webhook: Post "{url}": context deadline exceeded'
            ) from None
        except ssl.SSLCertVerificationError as exc:
            raise admission.CallFailed(
                f'failed to call webhook: Post "{url}": tls: failed to verify certificate: {exc.verify_message}'
            ) from None
        except OSError as exc:
            raise admission.CallFailed(f'failed to call webhook: Post "{url}": {exc}') from None
        if status != 200:
            text = data.decode("utf-8", "replace").strip()
            raise admission.CallFailed(
                f'failed to call webhook: an error on the server ("{text}") has prevented the request from succeeding'
            )
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise admission.CallFailed(f"received invalid webhook response: {exc}") from None
