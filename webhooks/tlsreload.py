"""The server's TLS context, reloaded in place when the certificate files change.

cert-manager rewrites the Secret; kubelet swaps the mounted directory's `..data` symlink. Both
change the resolved path, inode or mtime of `tls.crt`/`tls.key`, which a 1 s poll notices.
`SSLContext.load_cert_chain` on the live context applies to every later handshake, so open
connections keep their session and no request in flight fails.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Callable
from pathlib import Path

from certs import errors as cert_errors
from certs import files

log = logging.getLogger("opgate.tls")

# How often the files are checked: kubelet's Secret refresh is ~60 s, cert-manager renews well
# before expiry, so 1 s notices a change long before anything depends on it.
POLL_SECONDS = 1.0
Signature = tuple[tuple[str, int, int, int], ...]


def signature(paths: tuple[Path, ...]) -> Signature:
    """What identifies the current file contents: resolved path, inode, mtime and size."""
    out = []
    for path in paths:
        try:
            real = os.path.realpath(path)
            st = os.stat(real)
            out.append((real, st.st_ino, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(path), -1, -1, -1))
    return tuple(out)


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A TLS server context (TLS 1.2+) holding the certificate chain and key."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])  # aiohttp speaks HTTP/1.1; kube-apiserver falls back
    load(ctx, cert, key)
    return ctx


def load(ctx: ssl.SSLContext, cert: Path, key: Path) -> None:
    """Check the pair (BadMaterial says what is wrong) and load it into the context."""
    files.read_pair(cert, key)
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, OSError) as exc:
        raise cert_errors.BadMaterial(f"cannot load {cert} and {key}: {exc}") from None


class Reloader:
    """Polls the certificate files and reloads the context when they change."""

    def __init__(
        self,
        ctx: ssl.SSLContext,
        cert: Path,
        key: Path,
        *,
        interval: float = POLL_SECONDS,
        on_reload: Callable[[bool], None] = lambda ok: None,
    ) -> None:
        self.ctx = ctx
        self.cert = cert
        self.key = key
        self.interval = interval
        self.on_reload = on_reload
        self.loaded = signature((cert, key))
        self._failed: Signature | None = None
        self.reloads = 0

    def check(self) -> bool:
        """Reload if the files changed since the last good load; True when it reloaded.

        A half-written pair (new certificate, old key) fails the check and is retried on the
        next poll; the old certificate keeps serving meanwhile.
        """
        now = signature((self.cert, self.key))
        if now == self.loaded:
            return False
        try:
            load(self.ctx, self.cert, self.key)
        except cert_errors.CertError as exc:
            if now != self._failed:
                self._failed = now
                self.on_reload(False)
                log.warning("certificate reload failed; still serving the old one: %s", exc)
            return False
        self.loaded = now
        self._failed = None
        self.reloads += 1
        self.on_reload(True)
        log.info("certificate reloaded", extra={"cert": str(self.cert)})
        return True

    async def run(self) -> None:
        """Check forever, every `interval` seconds (cancel the task to stop)."""
        while True:
            await asyncio.sleep(self.interval)
            self.check()
