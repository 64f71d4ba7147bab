"""Render and send a day's digest to 500 readers through a local SMTP server; print the rate.

The SMTP server (aiosmtpd with STARTTLS and AUTH, as in the tests) runs in its own process so
that it does not share our interpreter; the readers, papers and the day's order live in a real
Redis under a prefix of their own (removed afterwards), or in-process when none answers. A
share of the readers have votes, so their order is the personal blend, as on a real day.
Goal: at least 50 messages a second and under 300 MB.

    .venv/bin/python -m bench.mailing [--readers 500] [--voters 0.2] [--feed FILE]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import ssl
import sys
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from multiprocessing.connection import Connection
from pathlib import Path

import redis
from pydantic import SecretStr

from bench import BIG_DAY
from paperboy import days, mailer
from paperboy.arxiv import read_saved
from paperboy.feed import parse_feed
from paperboy.models import Digest, Prior, Ranked, Reader, Score, Vote
from paperboy.store import Store, in_process

REDIS_URL = os.environ.get("PAPERBOY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")


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


class TimedSmtp(mailer.Smtp):
    """Counts the time spent in SMTP (serialising and the server's replies)."""

    spent = 0.0

    def send(self, message: EmailMessage) -> None:
        started = time.perf_counter()
        try:
            super().send(message)
        finally:
            TimedSmtp.spent += time.perf_counter() - started


class NoScorer:
    name = "local"

    def score(self, papers: list) -> dict:  # type: ignore[type-arg]
        raise AssertionError("the email step never scores")


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--readers", type=int, default=500)
    args.add_argument("--voters", type=float, default=0.2, help="share of readers with votes")
    args.add_argument("--feed", type=Path, default=BIG_DAY, help="a saved feed, gzipped or not")
    opts = args.parse_args()

    feed = parse_feed(opts.feed.name, read_saved(opts.feed))
    papers = feed.kept(["new", "cross"])
    day = feed.day or datetime.now(UTC).date()
    order = [
        Score(
            paper=p.id,
            scorer="local",
            score=1 - n / len(papers),
            reasons=["matches: efficient training"],
        )
        for n, p in enumerate(papers)
    ]

    store = open_store()
    now = datetime.now(UTC)
    ctx = days.Context(
        store=store, prior=Prior(), local=NoScorer(), digest_size=15, now=lambda: now
    )
    store.save_papers(papers)
    store.update_day(day, papers=[p.id for p in papers], feeds=[opts.feed.name], missing=[])
    days.save_order(ctx, day, order)
    voters = int(opts.readers * opts.voters)
    for n in range(opts.readers):
        store.save_reader(
            Reader(id=f"UBENCH{n:04d}", email=f"reader{n}@example.org", email_enabled=True)
        )
        if n < voters:  # a handful of votes each, on different papers
            for k in range(5):
                paper = papers[(n * 7 + k * 31) % len(papers)]
                store.append_vote(
                    Vote(
                        reader=f"UBENCH{n:04d}",
                        paper=paper.id,
                        value=1 if k % 2 == 0 else -1,
                        at=now - timedelta(days=1),
                        source="email",
                    )
                )
    by_id = {p.id: p for p in papers}
    digest = Digest(
        day=day,
        read=len(papers),
        scorer="local",
        entries=[Ranked(paper=by_id[s.paper], score=s) for s in order[:15]],
    )

    ctx_mp = mp.get_context("spawn")
    ours, theirs = ctx_mp.Pipe()
    server = ctx_mp.Process(target=serve, args=(theirs,), daemon=True)
    server.start()
    port, ca_pem = ours.recv()
    trust = ssl.create_default_context()
    trust.load_verify_locations(cadata=ca_pem)
    connections: list[mailer.Smtp] = []

    def session() -> mailer.Smtp:
        smtp = TimedSmtp(
            "127.0.0.1",
            port,
            user="paperboy",
            password=SecretStr("s3cret-smtp-password"),
            ssl_context=trust,
        )
        connections.append(smtp)
        return smtp

    email = mailer.EmailDeliverer(
        session,
        "Paperboy <paperboy@example.org>",
        "https://paperboy.example.org",
        SecretStr("bench-secret"),
        14,
    )
    try:
        started, cpu = time.perf_counter(), time.process_time()
        result = email.deliver(digest, ctx)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        ours.send("stop")
        received, logins = ours.recv()
    finally:
        server.join(timeout=10)
        if store.prefix.startswith("pb-bench"):
            keys = list(store.redis.scan_iter(f"{store.prefix}:*"))
            if keys:
                store.redis.delete(*keys)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = received / elapsed
    print(f"{result}")
    print(
        f"readers: {opts.readers} ({voters} with votes, ranked personally); papers in the day: "
        f"{len(papers)}; papers per message: 15"
    )
    print(
        f"messages received by the SMTP server: {received} over {logins} connections "
        f"(STARTTLS + AUTH each)"
    )
    server_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"CPU: sender {cpu:.2f} s, SMTP server process "
        f"{server_cpu.ru_utime + server_cpu.ru_stime:.2f} s (both include TLS)"
    )
    print(f"of which in SMTP (serialising, TLS, the server's replies): {TimedSmtp.spent:.2f} s")
    print(f"time: {elapsed:.2f} s  rate: {rate:.1f} messages/s (goal >= 50)")
    print(f"peak memory (sender process, max RSS): {peak_mb:.0f} MB (goal < 300)")
    return 0 if rate >= 50 and peak_mb < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
