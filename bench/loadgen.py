"""An aiohttp load generator over HTTPS with keep-alive (used where wrk is absent, and for the
fixed-rate latency run wrk cannot do). Prints one JSON line: requests, errors, rps, p50/p99 ms.

closed: `concurrency` workers send back to back for `duration` seconds (peak throughput).
rate:   requests start on a fixed schedule (`rate` per second), latency measured from the
        scheduled start, so a stalled server is not hidden (no coordinated omission).
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import time
from pathlib import Path

import aiohttp
import orjson

# Connections the fixed-rate mode may open: enough that a slow answer never delays a start.
MAX_CONNECTIONS = 256


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def run(args: argparse.Namespace) -> dict[str, float]:
    body = Path(args.body).read_bytes()
    ctx = ssl.create_default_context(cafile=args.ca)
    connector = aiohttp.TCPConnector(ssl=ctx, limit=MAX_CONNECTIONS, force_close=False)
    latencies: list[float] = []
    errors = 0
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(start: float) -> None:
            nonlocal errors
            try:
                async with session.post(args.url, data=body, headers=headers) as resp:
                    data = await resp.read()
                    if resp.status != 200 or b'"allowed":true' not in data.replace(b" ", b""):
                        errors += 1
            except aiohttp.ClientError:
                errors += 1
            latencies.append(time.perf_counter() - start)

        # Warm up: TLS handshakes and the server's caches.
        await asyncio.gather(*(one(time.perf_counter()) for _ in range(args.concurrency)))
        latencies.clear()
        errors = 0
        began = time.perf_counter()
        end = began + args.duration
        if args.mode == "closed":

            async def worker() -> None:
                while (now := time.perf_counter()) < end:
                    await one(now)

            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        else:
            tasks = []
            total = int(args.rate * args.duration)
            for i in range(total):
                scheduled = began + i / args.rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(scheduled)))
            await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("body")
    parser.add_argument("ca")
    parser.add_argument("--mode", choices=("closed", "rate"), default="closed")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--duration", type=float, default=8.0)
    args = parser.parse_args()
    try:
        import uvloop

        result = uvloop.run(run(args))
    except ImportError:
        result = asyncio.run(run(args))
    print(orjson.dumps(result).decode(), flush=True)


if __name__ == "__main__":
    main()
