"""opgate's HTTP layer with a decision that always allows (isolates the server's own cost from
the policy core's). Usage: null_server.py TLS_DIR PORT (prints `READY <port>`)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from policies import loader
from webhooks import clusterview, decisions, metrics, server, tlsreload

ALLOWED = decisions.allowed()


def allow(path: str, request: Any, view: Any, policy: Any) -> decisions.Decision:
    """Admit everything."""
    return ALLOWED


async def main(tls: Path, port: int) -> None:
    state = server.State(
        view=clusterview.ClusterIndex(),
        policy=loader.load_policy(),
        metrics=metrics.Metrics(),
        decide=allow,
    )
    ctx = tlsreload.server_context(tls / "tls.crt", tls / "tls.key")
    srv = server.Server(state, ctx, host="127.0.0.1", port=port, health_port=0)
    await srv.start()
    print(f"READY {srv.ports[0]}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(Path(sys.argv[1]), int(sys.argv[2])))
