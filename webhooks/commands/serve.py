"""`opgate serve`: the admission webhooks over HTTPS, health and metrics over HTTP."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys
from pathlib import Path

from certs import errors as cert_errors
from policies import loader
from webhooks import clusterview, errors, handler, logs, manifests, metrics, server, tlsreload

log = logging.getLogger("opgate.serve")

NEEDS_VIEW = """opgate serve: error: no cluster view to decide against. Pass one of:
  --cluster-state PATH   manifests (files or directories) as a static cluster view,
                         e.g. --cluster-state deploy/examples/cluster-state
  --kubeconfig PATH      a kubeconfig: list+watch the cluster for a live view
(in a pod with a service account, the in-cluster config is used without either flag)"""
NEEDS_TLS = """  --tls-dir DIR          is needed too: tls.crt and tls.key, e.g. from
                         opgate certs generate --out DIR --localhost"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `serve`."""
    parser = subparsers.add_parser(
        "serve",
        help="serve the admission webhooks over HTTPS",
        description=(
            "Serve /mutate/operations, /validate/operations, /validate/operationtemplates and "
            "/validate/workflows over HTTPS (AdmissionReview v1), and /healthz, /readyz, "
            "/metrics over plain HTTP on the health port. SIGTERM drains and exits 0."
        ),
    )
    parser.add_argument(
        "--tls-dir",
        type=Path,
        metavar="DIR",
        help="directory with tls.crt and tls.key (a kubernetes.io/tls Secret mount); "
        "reloaded when the files change",
    )
    parser.add_argument("--host", default="0.0.0.0", help="listen address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8443, help="HTTPS port (default: %(default)s)")
    parser.add_argument(
        "--health-port",
        type=int,
        default=8080,
        help="plain-HTTP health port (default: %(default)s)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--cluster-state",
        action="append",
        metavar="PATH",
        help="manifest file or directory as a static cluster view (repeatable)",
    )
    source.add_argument("--kubeconfig", metavar="PATH", help="kubeconfig for the live view")
    parser.add_argument("--context", help="kubeconfig context")
    parser.add_argument("--policy", metavar="PATH", help="policy file (default: the embedded one)")
    parser.add_argument(
        "--log-level", choices=logs.LEVELS, default="info", help="default: %(default)s"
    )
    parser.add_argument(
        "--grace-period",
        type=_seconds,
        default=server.DEFAULT_GRACE,
        metavar="SECONDS",
        help="on SIGTERM, how long requests in flight may take (default: %(default)s)",
    )
    parser.set_defaults(func=run)


def _seconds(text: str) -> float:
    """A non-negative number of seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; 0 after a clean drain, 2 on bad flags or files."""
    from webhooks import cache

    if not args.cluster_state and not args.kubeconfig and not cache.in_cluster():
        print(NEEDS_VIEW, file=sys.stderr)
        if args.tls_dir is None:
            print(NEEDS_TLS, file=sys.stderr)
        return 2
    if args.tls_dir is None:
        print(
            "opgate serve: error: --tls-dir DIR is required (tls.crt and tls.key; make them "
            "with `opgate certs generate --out DIR --localhost`)",
            file=sys.stderr,
        )
        return 2
    for flag, port in (("--port", args.port), ("--health-port", args.health_port)):
        if not 0 <= port <= 65535:
            raise errors.UsageError(f"{flag} must be 0..65535, got {port}")
    logs.setup(args.log_level)
    policy = loader.load_policy(args.policy)
    cert, key = args.tls_dir / "tls.crt", args.tls_dir / "tls.key"
    try:
        ssl_context = tlsreload.server_context(cert, key)
    except cert_errors.CertError as exc:
        raise errors.UsageError(
            f"{exc}; make them with `opgate certs generate --out {args.tls_dir} --localhost`"
        ) from None
    mets = metrics.Metrics(process=True)
    live = None
    if args.cluster_state:
        view = clusterview.ClusterIndex(manifests.load(args.cluster_state))
        mets.cache_synced.set(1)
    else:
        live = cache.LiveView(cache.connect(args.kubeconfig, context=args.context), metrics_=mets)
        view = live.index
    handler.warm(view, policy)
    state = server.State(
        view=view,
        policy=policy,
        metrics=mets,
        ready=lambda: bool(getattr(view, "synced", True)),
    )
    reloader = tlsreload.Reloader(
        ssl_context,
        cert,
        key,
        on_reload=lambda ok: mets.cert_reloads.labels("ok" if ok else "error").inc(),
    )
    app = server.Server(
        state,
        ssl_context,
        host=args.host,
        port=args.port,
        health_port=args.health_port,
        grace=args.grace_period,
    )
    return _run_loop(_serve(app, reloader, live, args))


def _run_loop(main: object) -> int:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)  # type: ignore[arg-type]
    return uvloop.run(main)  # type: ignore[arg-type]


async def _serve(
    app: server.Server, reloader: tlsreload.Reloader, live: object, args: argparse.Namespace
) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await app.start()
    except OSError as exc:
        print(f"opgate serve: error: cannot listen: {exc.strerror}", file=sys.stderr)
        return 2
    if live is not None:
        live.start()  # type: ignore[attr-defined]
    reload_task = asyncio.create_task(reloader.run())
    # Everything loaded so far (modules, policy, the static view) lives as long as the process:
    # keep it out of the cyclic collector's full passes, which would otherwise walk it while
    # requests wait.
    gc.freeze()
    port, health = app.ports
    _announce(args, port, health)
    await stop.wait()
    log.info("SIGTERM: draining", extra={"grace_seconds": args.grace_period})
    reload_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reload_task
    await app.stop()
    if live is not None:
        await loop.run_in_executor(None, live.stop)  # type: ignore[attr-defined]
    log.info("stopped")
    return 0


def _announce(args: argparse.Namespace, port: int, health: int) -> None:
    host = "localhost" if args.host in ("0.0.0.0", "::") else args.host
    ca = args.tls_dir / "ca.crt"
    print(f"opgate: serving admission on https://{host}:{port} (health: http://{host}:{health})")
    print(
        f"  POST AdmissionReview v1 JSON to https://{host}:{port}/validate/operations (and the "
        f"other webhook paths), trusting {ca}; the certificate must name {host} "
        "(`opgate certs generate --localhost` makes one for local runs)",
        flush=True,
    )
