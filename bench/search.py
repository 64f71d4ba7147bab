"""Search at 5,000, 20,000 and 50,000 stored papers: the worker's time to answer, and the bytes a
paper costs in Redis.

Run: .venv/bin/python -m bench.search [--sizes 5000 20000 50000] [--queries 200] [--redis URL]
The papers are the real days in bench/data/days (new and cross-listed), given fresh ids and
spread over announcement days of 1,250 papers, each ingested as the day's fetch step ingests it
(`paperboy.pipeline.ingest`: the papers stored for 45 days, their day's index segment). Each day,
as in a group's channel, 15 papers are posted, 20 voted on and 5 saved: those join the archive
(kept for good, and the index's kept segment). At each size, `--queries` searches, each a few
words of a paper's title, an author's name, or two words of an abstract, are answered as the
interactive worker answers `/paperboy search` (the index, the papers, their tallies and threads,
the Block Kit answer; not the post to Slack), after a warm-up. Goals at 50,000 papers: p95 under
300 ms, and under 8 KB a paper in Redis (the growth of INFO memory's used_memory over the
papers, their index and the archive; MEMORY USAGE of the keys is printed beside it, as INFO
memory counts the whole server). Redis database 6 (or PAPERBOY_BENCH_REDIS_URL), emptied
before and after.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections import Counter
from datetime import date, timedelta

import redis

from bench import DAYS
from paperboy import pipeline, search_blocks
from paperboy.arxiv import Fetched, read_saved
from paperboy.days import Context
from paperboy.feed import Feed, parse_feed
from paperboy.index import SearchIndex
from paperboy.local import LocalScorer
from paperboy.models import Paper, Prior
from paperboy.search import search
from paperboy.store import Store

REDIS_URL = os.environ.get("PAPERBOY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
A_DAY = 1250
POSTED, VOTED, SAVED = 15, 20, 5
GOAL_P95_MS = 300.0
GOAL_BYTES = 8 * 1024
FIRST_DAY = date(2030, 1, 7)  # a Monday, so the fresh ids (30MM.NNNNN) cannot be real ones


def fixture_papers() -> list[Paper]:
    """Every new or cross-listed paper of the bench's real days, each once."""
    found: dict[str, Paper] = {}
    for path in sorted(DAYS.glob("*.xml.gz")):
        for paper in parse_feed(path.name, read_saved(path)).kept(["new", "cross"]):
            found.setdefault(paper.id, paper)
    return list(found.values())


def weekdays(start: date) -> list[date]:
    days, day = [], start
    while len(days) < 400:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def used(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def key_bytes(client: redis.Redis) -> Counter[str]:
    """MEMORY USAGE of every key of the database, by kind (paper, index segment, archive, …)."""
    kinds: Counter[str] = Counter()
    for key in client.scan_iter(count=2000):
        name = key.decode()
        parts = name.split(":")
        kind = parts[1] if parts[1] != "ix" else f"ix:{parts[2]}"
        kinds[kind] += int(client.memory_usage(key, samples=0) or 0)
    return kinds


def queries(rng: random.Random, papers: list[Paper], count: int) -> list[str]:
    """What people type: a few title words, an author's name, two words of an abstract."""
    out = []
    for _ in range(count):
        paper = rng.choice(papers)
        roll = rng.random()
        if roll < 0.6 or not paper.authors:
            words = [w for w in paper.title.split() if len(w) > 3]
            out.append(" ".join(words[:4]) or paper.title)
        elif roll < 0.8:
            out.append(rng.choice(paper.authors))
        else:
            words = [w for w in paper.abstract.split() if len(w) > 6 and w.isalpha()]
            out.append(" ".join(rng.sample(words, min(2, len(words)))) or paper.title)
    return out


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    args.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000, 50000])
    args.add_argument("--queries", type=int, default=200)
    args.add_argument("--redis", default=REDIS_URL, help="a Redis database the bench may empty")
    opts = args.parse_args()
    client = redis.Redis.from_url(opts.redis)
    client.flushdb()
    store = Store(client)
    ctx = Context(store=store, prior=Prior(), local=LocalScorer(Prior()))
    rng = random.Random(19)
    source = fixture_papers()
    print(f"{len(source):,} distinct papers in the bench's days, cycled with fresh ids")
    days = iter(weekdays(FIRST_DAY))
    stored: list[Paper] = []
    base = used(client)
    rows = []
    try:
        for size in sorted(opts.sizes):
            ingest_seconds = 0.0
            while len(stored) < size:
                day = next(days)
                n = min(A_DAY, size - len(stored))
                fresh = []
                for k in range(len(stored), len(stored) + n):
                    like = source[k % len(source)]
                    pid = f"30{k // 99999 % 100:02d}.{k % 99999 + 1:05d}"
                    fresh.append(like.model_copy(update={"id": pid}))
                started = time.perf_counter()
                feed = Feed(name="bench", day=day, papers=fresh)
                batch = pipeline.ingest(ctx, Fetched([feed], {}), day)
                ingest_seconds += time.perf_counter() - started
                picks = rng.sample(batch.papers, POSTED + VOTED + SAVED)
                for k, paper in enumerate(picks[:POSTED]):
                    store.keep_thread(paper.id, "C0BENCH", f"{1900000000 + k}.000100")
                for k, paper in enumerate(picks[POSTED : POSTED + VOTED]):
                    store.cast(f"U{k % 12}", paper.id, rng.choice([1, 1, -1]), "slack")
                for k, paper in enumerate(picks[POSTED + VOTED :]):
                    store.save(f"U{k % 12}", paper.id)
                stored.extend(batch.papers)
            SearchIndex(store).keep_pending()  # what the next ingest (or search) does
            grown = used(client) - base
            kinds = key_bytes(client)
            asked = queries(rng, stored, opts.queries)
            for text in asked[:20]:  # warm-up: connections, the tokenizer's caches
                search(store, text)
            times = []
            found_first = 0
            for text in asked:
                started = time.perf_counter()
                found = search(store, text)
                search_blocks.answer(text, found)
                times.append((time.perf_counter() - started) * 1000)
                found_first += bool(found)
            times.sort()
            p50 = statistics.median(times)
            p95 = times[int(0.95 * (len(times) - 1))]
            kept = client.scard(store.key("kept"))
            segments = len(SearchIndex(store).segments())
            rows.append((size, p50, p95, grown, kinds, kept, segments, ingest_seconds))
            index = sum(v for k, v in kinds.items() if k.startswith("ix:"))
            archive = kinds["kept"] + kinds["threads"] + kinds["ix:kept"]
            print(
                f"\n{size:,} papers ({segments - 1} days, {kept:,} kept in the archive): "
                f"search p50 {p50:.1f} ms, p95 {p95:.1f} ms over {len(times)} queries "
                f"({found_first} found something)"
            )
            print(
                f"  Redis: INFO used_memory grew {grown / size:,.0f} bytes a paper; MEMORY USAGE "
                f"of the keys {sum(kinds.values()) / size:,.0f}: papers "
                f"{kinds['paper'] / size:,.0f}, index {index / size:,.0f} (of which the kept "
                f"segment {kinds['ix:kept'] / max(kept, 1):,.0f} a kept paper), archive sets "
                f"{(archive - kinds['ix:kept']) / max(kept, 1):,.0f} a kept paper, the rest "
                f"(seen, day records, votes, lists) "
                f"{(sum(kinds.values()) - kinds['paper'] - index) / size:,.0f}"
            )
            print(f"  ingest: {ingest_seconds / max(1, segments - 1):.2f} s a day of {A_DAY:,}")
    finally:
        client.flushdb()
    size, p50, p95, grown, kinds, *_ = rows[-1]
    total = max(grown, sum(kinds.values())) / size
    print()
    print(f"[{'ok' if p95 < GOAL_P95_MS else 'MISSED'}] p95 {p95:.1f} ms < {GOAL_P95_MS:.0f} ms")
    print(f"[{'ok' if total < GOAL_BYTES else 'MISSED'}] {total:,.0f} bytes a paper < 8 KB")
    return 0 if p95 < GOAL_P95_MS and total < GOAL_BYTES else 1


if __name__ == "__main__":
    raise SystemExit(main())
