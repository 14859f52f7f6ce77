"""Live updates benchmark: how long from a published ticket change to every open console stream that may see it.

    .venv/bin/python -m tests.bench.bench_live                                  # in-process Redis stand-in
    .venv/bin/python -m tests.bench.bench_live --redis redis://127.0.0.1:6379/14  # real Redis pub/sub

200 officials' streams are open in one web process (one hub, one Redis subscription); 200 changes are published
from another thread (as the web chat or a worker commits them), each seen by a quarter of the streams.
Target: p95 publish-to-stream latency ≤ 1 s (the list shows a new ticket within a second).
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time

from backend.console.live import stream
from backend.kv import make_kv
from backend.services.live import LiveHub, RedisLiveBus, TicketChange
from tests.bench.common import percentile, row

UNITS = ["00070", "00073", "26734", "01"]


async def run(redis_url: str, streams: int, changes: int) -> list[float]:
    kv = make_kv(redis_url, prefix=f"bench-live-{time.time_ns()}")
    bus = RedisLiveBus(kv)
    hub = LiveHub(bus)
    sent: dict[str, float] = {}
    latencies: list[float] = []

    async def official(i: int) -> None:
        scope = frozenset({UNITS[i % len(UNITS)]})
        async for frame in stream(hub, scope, keepalive=5, max_seconds=120):
            if frame.startswith("event: ticket"):
                code = frame.split('"code": "', 1)[1].split('"', 1)[0]
                latencies.append(time.perf_counter() - sent[code])

    tasks = [asyncio.create_task(official(i)) for i in range(streams)]
    await asyncio.sleep(1.0)  # the hub's subscription is in place

    def publish() -> None:
        for n in range(changes):
            code = f"PA-BENCH-{n:04d}"
            sent[code] = time.perf_counter()
            bus.publish([TicketChange(code, "created", frozenset({UNITS[n % len(UNITS)]}))])
            time.sleep(0.005)

    thread = threading.Thread(target=publish)
    thread.start()
    expected = changes * streams // len(UNITS)
    deadline = time.monotonic() + 60
    while len(latencies) < expected and time.monotonic() < deadline:  # noqa: ASYNC110  (a benchmark polling its counter)
        await asyncio.sleep(0.05)
    thread.join()
    await hub.close()
    await asyncio.gather(*tasks)
    await kv.aio.aclose()
    kv.close()
    if len(latencies) != expected:
        raise SystemExit(f"only {len(latencies)} of {expected} deliveries arrived")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", default="", help="a real Redis URL (default: the in-process stand-in)")
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()
    latencies = asyncio.run(run(args.redis, args.streams, args.changes))
    p50, p95 = percentile(latencies, 50) * 1000, percentile(latencies, 95) * 1000
    print(f"live updates — {'Redis ' + args.redis if args.redis else 'in-process stand-in'}")
    print(row("deliveries", str(len(latencies))))
    print(row("publish → stream latency p50", f"{p50:.1f} ms"))
    print(row("publish → stream latency p95", f"{p95:.1f} ms", "≤ 1000 ms", "ok" if p95 <= 1000 else "SLOW"))


if __name__ == "__main__":
    main()
