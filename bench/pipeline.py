"""Benchmark: fetch, parse, deduplicate, store and rank the 1,506-paper day.

The feed is served by a local HTTP server; the store is a real Redis (database 8, emptied before
and after; PAPERBOY_BENCH_REDIS_URL names another).
Prints the work's wall seconds and peak memory, then the whole process's (run as a child so
that start-up and imports count). Goals on a 2-core machine: work < 2 s, process < 4 s, < 300 MB.

    .venv/bin/python -m bench.pipeline
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

from bench import BIG_DAY

REDIS_URL = os.environ.get("PAPERBOY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
WORK_SECONDS, PROCESS_SECONDS, PEAK_MB = 2.0, 4.0, 300.0
"""The goals on a 2-core machine."""


def verdict(ok: bool) -> str:
    return "[ok]" if ok else "[MISSED]"


def child() -> None:
    import redis

    from paperboy import days, pipeline
    from paperboy.arxiv import Arxiv, http_client, read_saved
    from paperboy.services import context
    from paperboy.settings import Settings
    from paperboy.store import Store
    from tests.standins.feeds import FeedServer, serve

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    store = Store(client)
    ctx = context(Settings(_env_file=None), store)  # type: ignore[call-arg]
    # served as arXiv serves it: the XML itself
    with serve(FeedServer(routes={"/rss/day": read_saved(BIG_DAY)})) as server:
        arxiv = Arxiv(http=http_client(), wait_turn=lambda: store.wait_turn("bench", 3.0))
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        batch = pipeline.fetch(ctx, [server.url + "/rss/day"], arxiv)
        fetched = time.perf_counter()
        order = pipeline.score(ctx, batch)
        days.save_order(ctx, batch.day, order)
        digest = pipeline.digest(ctx, batch, order)
        done = time.perf_counter()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    client.flushdb()
    print(
        f"papers: {len(batch.papers)} kept of the day ({batch.day}); digest of "
        f"{len(digest.entries)}"
    )
    print(
        f"work: {done - start:.2f} s (fetch+parse+dedupe+store {fetched - start:.2f} s, "
        f"rank {done - fetched:.2f} s); peak RSS {rss_after / 1024:.0f} MB "
        f"(+{(rss_after - rss_before) / 1024:.0f} MB during the work)"
    )
    print(f"{verdict(done - start < WORK_SECONDS)} the work under {WORK_SECONDS:.0f} s")


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "bench.pipeline", "--child"], check=True)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"process: {wall:.2f} s wall, peak RSS {peak:.0f} MB (exit {result.returncode})")
    print(f"{verdict(wall < PROCESS_SECONDS)} the whole process under {PROCESS_SECONDS:.0f} s")
    print(f"{verdict(peak < PEAK_MB)} peak memory under {PEAK_MB:.0f} MB")


if __name__ == "__main__":
    child() if "--child" in sys.argv else main()
