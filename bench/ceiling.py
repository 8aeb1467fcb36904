"""The ceiling: a minimal aiohttp+uvloop+orjson HTTPS server that only parses the review and
answers allowed. Usage: ceiling.py TLS_DIR PORT [--low-level] (prints `READY <port>`).

By default a web.Application with one route (the issue's ceiling); with `--low-level`,
aiohttp's low-level web.Server as opgate's admission site uses it (no router, no middleware):
the honest floor for opgate's own HTTP layer."""

from __future__ import annotations

import asyncio
import ssl
import sys
from pathlib import Path

import orjson
from aiohttp import web


async def admit(request: web.Request) -> web.Response:
    """Parse, echo the uid, allow."""
    review = orjson.loads(await request.read())
    uid = review["request"]["uid"]
    out = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": uid, "allowed": True},
    }
    return web.Response(body=orjson.dumps(out), content_type="application/json")


async def main(tls: Path, port: int) -> None:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tls / "tls.crt", tls / "tls.key")
    runner: web.BaseRunner
    if "--low-level" in sys.argv:
        runner = web.ServerRunner(web.Server(admit, access_log=None))
    else:
        app = web.Application(client_max_size=7 * 1024 * 1024)
        app.router.add_post("/validate/operations", admit)
        runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ctx, backlog=1024).start()
    print(f"READY {runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(Path(sys.argv[1]), int(sys.argv[2])))
