"""Rank and mail a day's personal digests to a group's readers through a local SMTP server.

Run: .venv/bin/python -m bench.mailing [--readers 500] [--voters 0.2] [--votes 5] [--scale 1]
A day of `--scale` times the 1,506-entry day's new and cross-listed papers (real papers of the
bench days, and copies under fresh ids beyond them), its group order from the local scorer; a
share (`--voters`) of `--readers` readers each with `--votes` votes (👍 on a third) on papers of
other days. The deliver step then runs as in production (`pipeline.deliver`): every reader's
model is refit once for the day and ranked, in worker processes, and their digests are mailed
over STARTTLS and AUTH to the SMTP stand-in, which runs in its own process. Redis is a real one
(database 3, under a prefix removed afterwards), or in-process when none answers. Memory is the
unique set size summed over this process and its workers (psutil's `uss`: forked workers'
shared pages count once), sampled while they run.

Before delivering it prints the size of one reader's HTML part at each digest size Home offers,
every paper judged by Claude with its one-sentence reason, against Gmail's clip (102 KB: Gmail
hides the rest, the unsubscribe footer included).

Goals: every digest size's HTML under 100 KB; the default (1x day, a fifth of the readers with 5
votes) at 50 messages/s or more; 500 readers with 500 votes each on a 3x day (`--voters 1
--votes 500 --scale 3`) ranked and mailed within 5 minutes and under 300 MB.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import ssl
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection

import psutil
import redis
from pydantic import SecretStr

from bench import BIG_DAY, DAYS, PROFILE
from paperboy import days, emails, mailer, pipeline
from paperboy.arxiv import read_saved
from paperboy.feed import parse_feed
from paperboy.local import LocalScorer
from paperboy.models import Digest, Paper, Ranked, Reader, Score, Vote
from paperboy.prior import load_prior
from paperboy.smtp import Smtp
from paperboy.store import Store, in_process

REDIS_URL = os.environ.get("PAPERBOY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
DAY = date(2025, 6, 3)


def serve(conn: Connection) -> None:
    """In the server process: run the SMTP stand-in until told to stop, then report."""
    import trustme

    from tests.standins.smtp import smtp_server

    ca = trustme.CA()
    with smtp_server(ca) as server:
        conn.send((server.port, ca.cert_pem.bytes().decode()))
        conn.recv()
        conn.send((len(server.received), server.logins))


def open_store() -> Store:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        print(f"no Redis at {REDIS_URL}: using an in-process store")
        return Store(in_process(), prefix="pb-bench")
    return Store(client, prefix=f"pb-bench-{int(time.time())}")


def papers_of(scale: float) -> tuple[list[Paper], list[Paper]]:
    """The day's papers (`scale` times the big day's kept papers) and a pool to vote on."""
    seen: dict[str, Paper] = {}
    for path in [BIG_DAY, *sorted(p for p in DAYS.glob("*.xml.gz") if p != BIG_DAY)]:
        for paper in parse_feed(path.name, read_saved(path)).kept(["new", "cross"]):
            seen.setdefault(paper.id, paper)
    real = list(seen.values())
    wanted = round(834 * scale)
    day = real[:wanted]
    copy = 0
    while len(day) < wanted:  # beyond the real papers: copies under fresh ids
        source = real[len(day) % len(real)]
        copy += 1
        day.append(source.model_copy(update={"id": f"9{copy:03d}.{copy:05d}"}))
    pool = real[wanted:] if wanted < len(real) else []
    while len(pool) < 5000:  # the papers of other days readers voted on
        source = real[len(pool) % len(real)]
        pool.append(source.model_copy(update={"id": f"8{len(pool):03d}.{len(pool):05d}"}))
    return [p.model_copy(update={"day": DAY}) for p in day], pool


class Memory:
    """Samples the unique set size of this process and its children, summed, at its peak."""

    def __init__(self) -> None:
        self.peak = 0
        self.parts: list[int] = []  # each process's share at the peak, this one first
        self.stop = threading.Event()
        self.me = psutil.Process()
        self.skip: set[int] = set()

    def sample(self) -> int:
        parts = []
        for proc in [self.me, *self.me.children(recursive=True)]:
            if proc.pid in self.skip:
                continue
            try:
                parts.append(proc.memory_full_info().uss)
            except psutil.Error:  # a worker that just ended
                continue
        if sum(parts) > self.peak:
            self.peak, self.parts = sum(parts), parts
        return sum(parts)

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.sample()


CLIP_BYTES = 100_000
"""The goal for a digest's HTML part, under Gmail's clip at 102 KB."""
SIZES = (5, 10, 15, 20, 30)
"""The digest sizes Home offers."""
REASON = (
    "Proposes a sparse mixture-of-experts router that cuts training compute by a third at "
    "equal quality, squarely within the group's interest in efficient training."
)
"""A one-sentence reason as Claude writes them (about 160 characters)."""


def html_sizes(papers: list[Paper], now: datetime) -> dict[int, int]:
    """Bytes of one reader's HTML part at each digest size, every paper judged by Claude."""
    entries = [
        Ranked(
            paper=paper,
            score=Score(
                paper=paper.id,
                scorer="claude",
                score=10 - n / 100,
                relevance=9,
                novelty=7,
                criterion="Efficient training and inference",
                reasons=[REASON, "matches: mixture of experts, sparse routing, efficient training"],
            ),
        )
        for n, paper in enumerate(papers[: max(SIZES)])
    ]
    reader = Reader(id="U0123ABCDEF", email="ada.lovelace@example.org", email_enabled=True)
    links = emails.Links("https://paperboy.example.org", b"bench-secret", now, 14)
    sizes = {}
    for size in SIZES:
        digest = Digest(day=DAY, read=len(papers), entries=entries[:size], scorer="claude")
        message = emails.message(
            reader, digest, entries[:size], sender="Paperboy <paperboy@example.org>", links_=links
        )
        html = message.get_body(("html",))
        assert html is not None
        sizes[size] = len(html.get_content().encode())
    return sizes


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--readers", type=int, default=500)
    args.add_argument("--voters", type=float, default=0.2, help="share of readers with votes")
    args.add_argument("--votes", type=int, default=5, help="votes each voter has")
    args.add_argument("--scale", type=float, default=1.0, help="day size, times the big day")
    opts = args.parse_args()

    papers, pool = papers_of(opts.scale)
    now = datetime.now(UTC)
    sizes = html_sizes(papers, now)
    for size, length in sizes.items():
        print(f"HTML part of a {size}-paper digest: {length:,} bytes ({length / 1024:.1f} KB)")
    small = max(sizes.values()) < CLIP_BYTES
    print(f"[{'ok' if small else 'MISSED'}] every digest size under {CLIP_BYTES:,} bytes")
    prior = load_prior(None, None, None, PROFILE)
    store = open_store()
    ctx = days.Context(store=store, prior=prior, local=LocalScorer(prior), now=lambda: now)
    store.save_papers(papers)
    store.save_papers(pool)
    store.update_day(DAY, papers=[p.id for p in papers], feeds=["bench"], missing=[])
    batch = days.load_batch(ctx, DAY)
    order = pipeline.score(ctx, batch)
    days.save_order(ctx, DAY, order)
    digest = pipeline.digest(ctx, batch, order)
    rng = random.Random(0)
    voters = int(opts.readers * opts.voters)
    for n in range(opts.readers):
        reader = f"UBENCH{n:04d}"
        store.save_reader(Reader(id=reader, email=f"reader{n}@example.org", email_enabled=True))
        if n < voters:
            with store.redis.pipeline(transaction=False) as pipe:
                for k, paper in enumerate(rng.sample(pool, opts.votes)):
                    vote = Vote(
                        reader=reader,
                        paper=paper.id,
                        value=1 if rng.random() < 1 / 3 else -1,
                        at=now - timedelta(days=1, seconds=k),
                        source="slack",
                    )
                    pipe.rpush(store.key("votes", reader), vote.model_dump_json())
                pipe.execute()
            store.rebuild_standing(reader)  # standing votes and tallies, as casting them leaves

    spawn = mp.get_context("spawn")
    ours, theirs = spawn.Pipe()
    server = spawn.Process(target=serve, args=(theirs,), daemon=True)
    server.start()
    port, ca_pem = ours.recv()
    trust = ssl.create_default_context()
    trust.load_verify_locations(cadata=ca_pem)

    def session() -> Smtp:
        return Smtp(
            "127.0.0.1",
            port,
            user="paperboy",
            password=SecretStr("s3cret-smtp-password"),
            ssl_context=trust,
        )

    ctx.deliverers = [
        mailer.EmailDeliverer(
            session,
            store,
            "Paperboy <paperboy@example.org>",
            "https://paperboy.example.org",
            SecretStr("bench-secret"),
            now=lambda: now,
        )
    ]
    memory = Memory()
    memory.skip.add(server.pid or 0)
    before = memory.sample()
    watcher = threading.Thread(target=memory.run, daemon=True)
    try:
        watcher.start()
        started, cpu = time.perf_counter(), time.process_time()
        delivered = pipeline.deliver(ctx, digest, batch, order)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        memory.stop.set()
        watcher.join()
        ours.send("stop")
        received, logins = ours.recv()
    finally:
        server.join(timeout=10)
        if store.prefix.startswith("pb-bench"):
            keys = list(store.redis.scan_iter(f"{store.prefix}:*"))
            for start in range(0, len(keys), 5000):
                store.redis.delete(*keys[start : start + 5000])
    rate = received / elapsed
    peak_mb = max(memory.peak, before) / 2**20
    shares = " + ".join(f"{part / 2**20:.0f}" for part in memory.parts)
    print("; ".join(delivered.done) + (f" FAILED: {delivered.failed}" if delivered.failed else ""))
    print(
        f"day: {len(papers)} papers ({opts.scale:g}x); readers: {opts.readers}, {voters} of them "
        f"with {opts.votes} votes each; {os.cpu_count()} cores"
    )
    print(f"messages received by the SMTP server: {received} over {logins} connections")
    print(f"sender CPU (this process; workers not counted): {cpu:.2f} s")
    print(f"time: {elapsed:.1f} s  rate: {rate:.1f} messages/s")
    print(
        f"peak memory, unique set size summed over the sender and its workers: {peak_mb:.0f} MB"
        f" ({shares}; before delivering: {before / 2**20:.0f} MB)"
    )
    mailed = received == opts.readers
    if (opts.votes, opts.scale) == (500, 3) and opts.voters == 1:
        ok = elapsed <= 300 and peak_mb < 300 and mailed
        print(f"[{'ok' if ok else 'MISSED'}] within 5 minutes, under 300 MB, every reader mailed")
    elif (opts.votes, opts.scale, opts.voters) == (5, 1, 0.2):
        ok = rate >= 50 and mailed
        print(f"[{'ok' if ok else 'MISSED'}] >= 50 messages/s, every reader mailed")
    else:
        ok = mailed
        print(f"[{'ok' if ok else 'MISSED'}] every reader mailed (no other goal for this size)")
    return 0 if ok and small else 1


if __name__ == "__main__":
    sys.exit(main())
