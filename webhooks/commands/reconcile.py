"""`opgate reconcile`: run the reconciler against a cluster until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import http.server
import logging
import signal
import threading
from typing import Any

from policies import loader
from webhooks import errors, logs

LOG = logging.getLogger("opgate.reconcile")

DESCRIPTION = """\
Materialize an Argo Workflow for every Operation with `engine: workflow` and keep the
Operation's status (phase, conditions, outputs.logsRef/runId) true to that Workflow.

Event-driven: it watches Operations and the Workflows it manages (label
app.vworkspace.io/managed-by) and reconciles only the Operations that changed. It creates at
most one Workflow per Operation (same name and namespace, owned by the Operation, labelled with
its uid), never modifies a Workflow after creating it, and writes Operation.status through the
status subresource with resourceVersion preconditions. Operations of other engines are left
alone. With --leader-elect (the default) several replicas may run; only the holder of the
coordination.k8s.io Lease reconciles. Phase transitions are recorded as Events on the
Operation (`kubectl describe operation NAME`).

RBAC it needs: get/list/watch operations, update operations/status; get/list/watch/create
workflows; list operationtemplates; get workflowtemplates and clusterworkflowtemplates; create
events; get/create/update leases in the lease namespace.
"""


def register(sub: Any) -> None:
    """Add `opgate reconcile`."""
    parser = sub.add_parser(
        "reconcile",
        help="run the Operation -> Argo Workflow reconciler",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="kubeconfig of the cluster (default: the in-cluster service account)",
    )
    parser.add_argument("--context", help="kubeconfig context (default: its current context)")
    parser.add_argument(
        "--policy", metavar="PATH", help="policy file (default: the embedded default policy)"
    )
    parser.add_argument(
        "--namespace",
        metavar="NS",
        help="reconcile Operations of this namespace only (default: all namespaces)",
    )
    parser.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="elect one active replica through a Lease (default: %(default)s)",
    )
    parser.add_argument(
        "--lease-namespace",
        default="vworkspace-system",
        metavar="NS",
        help="namespace of the Lease (default: %(default)s)",
    )
    parser.add_argument(
        "--lease-name", default="opgate-reconciler", help="name of the Lease (default: %(default)s)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="concurrent reconciles (default: %(default)s)"
    )
    parser.add_argument(
        "--log-level", choices=logs.LEVELS, default="info", help="default: %(default)s"
    )
    parser.add_argument(
        "--health-port",
        type=int,
        default=8081,
        metavar="PORT",
        help="plain-HTTP /healthz (503 once a controller thread died) and /readyz (200 once "
        "every informer has listed); 0 turns it off (default: %(default)s)",
    )
    parser.set_defaults(func=run)


def health_server(ctl: Any, port: int, host: str = "0.0.0.0") -> http.server.ThreadingHTTPServer:
    """/healthz and /readyz of a running controller, served from a daemon thread."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                dead = ctl.dead_threads()
                code, text = (503, f"dead threads: {', '.join(dead)}") if dead else (200, "ok")
            elif self.path == "/readyz":
                code, text = (200, "ok") if ctl.synced() else (503, "informers not synced")
            else:
                code, text = 404, "not found: /healthz or /readyz"
            body = (text + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # probes are noise
            pass

    server = http.server.ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server


def run(args: argparse.Namespace) -> int:
    """Run until a signal stops it; exit code 0 on a clean stop."""
    from reconciler import controller, kube

    if args.workers < 1:
        raise errors.UsageError("--workers must be at least 1")
    policy = loader.load_policy(args.policy)
    client = kube.api_client(args.kubeconfig, context=args.context)  # UsageError when it cannot
    logs.setup(args.log_level)
    settings = controller.Settings(
        namespace=args.namespace,
        workers=args.workers,
        leader_elect=args.leader_elect,
        lease_namespace=args.lease_namespace,
        lease_name=args.lease_name,
    )
    if not 0 <= args.health_port <= 65535:
        raise errors.UsageError(f"--health-port must be 0..65535, got {args.health_port}")
    ctl = controller.Controller(kube.Api(client), policy, settings)
    try:
        health = health_server(ctl, args.health_port) if args.health_port else None
    except OSError as exc:
        raise errors.UsageError(f"cannot serve health on port {args.health_port}: {exc}") from None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    LOG.info(
        "reconciler starting",
        extra=logs.fields(identity=settings.identity, namespace=args.namespace or "(all)"),
    )
    ctl.start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        ctl.stop()
        ctl.api.close()
        if health is not None:
            health.shutdown()
        LOG.info("reconciler stopped", extra=logs.fields(**vars(ctl.stats)))
    return 0
