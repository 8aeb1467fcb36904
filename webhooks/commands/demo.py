"""`opgate demo`: the main job on the embedded example, no cluster needed.

Generates certificates, starts `opgate serve` on the example cluster state, runs the source
document's worked example through the simulator against it over HTTPS (the apiserver-faithful
path), writes a ready AdmissionReview and prints the `curl` line that sends it, then keeps serving
until interrupted.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from certs import authority, files
from webhooks import errors, manifests, review

REPO = Path(__file__).resolve().parents[2]
CLUSTER_STATE = ("deploy/examples/cluster-state",)
OPERATION = "deploy/examples/operation.yaml"
SCENARIO = "sim/scenarios/migration-succeeds.yaml"
# How long the server may take to list the example state and answer /readyz.
READY_SECONDS = 30.0


def _wait_ready(health_port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    url = f"http://127.0.0.1:{health_port}/readyz"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise errors.UsageError(f"opgate serve exited with {server.returncode}; see above")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise errors.UsageError(f"opgate serve was not ready within {READY_SECONDS:.0f}s at {url}")


def _stop(server: subprocess.Popen[bytes]) -> int:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    return server.wait()


def run(args: argparse.Namespace) -> int:
    """Serve the example over TLS, drive the worked example through it, print a curl line."""
    root = Path(args.repo)
    work = Path(args.workdir)
    tls = work / "tls"
    files.write(tls, authority.generate("opgate-webhook", "vworkspace-system", localhost=True))
    operation = manifests.load([root / OPERATION])[0]
    body = review.request_body(
        operation, uid="7b1f4c52-demo-4e0a-9a57-0c6f2f7d1b10", username="alice"
    )
    example = work / "example-review.json"
    example.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
    state = [a for p in CLUSTER_STATE for a in ("--cluster-state", str(root / p))]
    opgate = [sys.executable, "-m", "webhooks.cli"]
    listen = [
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--health-port",
        str(args.health_port),
    ]
    server = subprocess.Popen(
        [*opgate, "serve", "--tls-dir", str(tls), *listen, *state, "--log-level", args.log_level]
    )
    try:
        _wait_ready(args.health_port, server)
        url = f"https://127.0.0.1:{args.port}"
        print(f"opgate serve is ready at {url} (health and metrics on :{args.health_port})\n")
        print("Running the source document's worked example through the simulator,")
        print(f"with every admission call sent to {url} over HTTPS:\n", flush=True)
        remote = ["--webhook-url", url, "--ca-file", str(tls / "ca.crt")]
        simulated = subprocess.run(
            [*opgate, "simulate", str(root / SCENARIO), *remote], check=False
        )
        print("\nSend an AdmissionReview yourself:")
        print(
            f"  curl --cacert {tls / 'ca.crt'} -H 'Content-Type: application/json' "
            f"--data @{example} {url}/validate/operations"
        )
        print(f"  curl http://127.0.0.1:{args.health_port}/metrics\n", flush=True)
        if simulated.returncode != 0:
            print("opgate demo: the worked example did not pass; see above", file=sys.stderr)
            return simulated.returncode
        if args.exit:
            return 0
        print("Serving until interrupted (Ctrl-C).", flush=True)
        return _serve_until_interrupted(server)
    finally:
        _stop(server)


def _serve_until_interrupted(server: subprocess.Popen[bytes]) -> int:
    def forward(signum: int, _frame: Any) -> None:
        server.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    try:
        return server.wait()
    except KeyboardInterrupt:
        return _stop(server)


def register(subparsers: Any) -> None:
    """Add `opgate demo` to the CLI."""
    p = subparsers.add_parser(
        "demo",
        help="the main job: serve the example over TLS and run the worked example through it",
        description=(
            "Generate certificates, start `opgate serve` on the example cluster state, run the "
            "source document's worked example through the simulator against it over HTTPS, "
            "print a ready curl command, then keep serving until Ctrl-C (or exit with --exit)."
        ),
    )
    p.add_argument("--port", type=int, default=8443, help="HTTPS port (default: %(default)s)")
    p.add_argument(
        "--health-port", type=int, default=8080, help="health/metrics port (default: %(default)s)"
    )
    p.add_argument(
        "--workdir", default=".demo", help="where certificates and the example review go"
    )
    p.add_argument("--repo", default=str(REPO), help="the opgate checkout holding deploy/ and sim/")
    p.add_argument("--log-level", default="warning", help="server log level (default: warning)")
    p.add_argument("--exit", action="store_true", help="stop the server after the worked example")
    p.set_defaults(func=run)
