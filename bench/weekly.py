"""The week in the group for a 50-person group: the weekly job's work, timed.

Run: .venv/bin/python -m bench.weekly [--readers 50] [--votes 2000] [--redis URL]
The real days of the week ending Fri 2025-06-06 (bench/data/days: 06-03 to 06-06) are stored
and ranked by the local scorer, each day's top 15 posted as a thread to the Slack stand-in;
`--readers` readers then cast `--votes` votes over the week (on each day's top 60, the top
ones most; 👍 on seven in ten; a tenth of the readers keep their votes private). Timed: the
weekly job's work as the clock runs it (`paperboy.week_post.post_week`, voters named, so one
`users.info` a voter and a `chat.getPermalink` a listed paper), then thirty poll choices and
one refresh of the post's counts. Goal: the job under 2 s. Also timed, for what colleagues
cost the deliver step: every reader's own digest of Friday with colleagues' votes, and
without them. Redis database 5 (or PAPERBOY_BENCH_REDIS_URL), under a prefix removed after.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta

import redis

from bench import DAYS, PROFILE
from paperboy import pipeline
from paperboy.arxiv import Fetched, read_saved
from paperboy.colleagues import Colleagues
from paperboy.days import Context, save_order
from paperboy.feed import parse_feed
from paperboy.group import Group, read_group
from paperboy.local import LocalScorer
from paperboy.models import Reader, Vote
from paperboy.order import DayOrder
from paperboy.prior import load_prior
from paperboy.readers import reader_digest
from paperboy.slack import post_day, web_client
from paperboy.store import Store
from paperboy.week import Week
from paperboy.week_post import post_week, refresh_poll
from tests.standins.slack_api import TOKEN, SlackStandIn, serve

REDIS_URL = os.environ.get("PAPERBOY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
WEEK = Week(date(2025, 6, 6))
DAYS_OF_WEEK = [date(2025, 6, d) for d in (3, 4, 5, 6)]
CHANNEL = "C0BENCH"
THREAD = 15
VOTED_ON = 60
GOAL_SECONDS = 2.0


def feed(day: date) -> Fetched:
    path = next(DAYS.glob(f"*-{day.isoformat()}.xml.gz"))
    return Fetched([parse_feed(path.name, read_saved(path))], {})


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    args.add_argument("--readers", type=int, default=50)
    args.add_argument("--votes", type=int, default=2000, help="votes cast in the week")
    args.add_argument("--redis", default=REDIS_URL, help="a Redis database the bench may use")
    args.add_argument("--show", action="store_true", help="print the post's blocks as text")
    opts = args.parse_args()
    client = redis.Redis.from_url(opts.redis)
    store = Store(client, prefix=f"bench-weekly-{os.getpid()}")
    rng = random.Random(7)
    prior = load_prior(None, None, None, PROFILE)
    now = datetime(2025, 6, 6, 14, tzinfo=UTC)
    ctx = Context(store=store, prior=prior, local=LocalScorer(prior), now=lambda: now)
    users = {f"U{n:03d}": {"name": f"reader{n}", "real_name": f"Reader {n}"} for n in range(99)}
    readers = sorted(users)[: opts.readers]
    try:
        with serve(SlackStandIn(users=users)) as slack:
            slack_client = web_client(TOKEN, slack.url)
            orders = {}
            started = time.perf_counter()
            for day in DAYS_OF_WEEK:
                batch = pipeline.ingest(ctx, feed(day), day)
                order = pipeline.score(ctx, batch)
                save_order(ctx, day, order)
                orders[day] = (batch, order)
                post_day(
                    slack_client, store, CHANNEL, pipeline.digest(ctx, batch, order, THREAD), 0
                )
            papers = sum(len(b.papers) for b, _ in orders.values())
            print(
                f"the week of {WEEK.label}: {len(orders)} days, {papers:,} papers, "
                f"{THREAD} a day in the thread (set up in {time.perf_counter() - started:.1f} s)"
            )
            for reader in readers[: len(readers) // 10]:
                store.save_reader(Reader(id=reader, share_votes=False))
            cast = 0
            while cast < opts.votes:
                day = rng.choice(DAYS_OF_WEEK)
                top = orders[day][1][:VOTED_ON]
                paper = top[min(int(rng.expovariate(1 / 12)), len(top) - 1)].paper
                at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(
                    hours=7 + rng.random() * 10
                )
                value = 1 if rng.random() < 0.7 else -1
                store.append_vote(
                    Vote(reader=rng.choice(readers), paper=paper, value=value, at=at)  # type: ignore[arg-type]
                )
                cast += 1
            standing = sum(len(v) for v in store.standings(readers).values())
            print(
                f"{len(readers)} readers ({len(readers) // 10} private) cast {cast:,} votes, "
                f"{standing:,} standing"
            )

            started = time.perf_counter()
            said = post_week(slack_client, store, CHANNEL, WEEK, now, show_voters=True, spacing=0)
            job = time.perf_counter() - started
            calls = {m: len(slack.calls(m)) for m in ("chat.getPermalink", "users.info")}
            print(f"weekly job: {job:.2f} s ({said}; {calls})")
            started = time.perf_counter()
            again = post_week(slack_client, store, CHANNEL, WEEK, now, show_voters=True, spacing=0)
            print(f"  run again: {time.perf_counter() - started:.3f} s ({again})")
            post = store.week_post(WEEK.end)
            assert post is not None
            started = time.perf_counter()
            for reader in readers[:30]:
                store.choose(WEEK.end, reader, rng.choice(post.choices))
            chosen = time.perf_counter() - started
            started = time.perf_counter()
            refresh_poll(slack_client, store, WEEK)
            print(
                f"30 poll choices: {chosen * 1000 / 30:.1f} ms each; one refresh of the counts: "
                f"{(time.perf_counter() - started) * 1000:.0f} ms"
            )

            batch, order = orders[WEEK.end]
            day = DayOrder.of(WEEK.end, batch.papers, order)
            ctx.local.fit(batch.papers)
            timings: dict[str, float] = {}
            for label, group in 2 * [  # twice each, the best kept: the first warms the caches
                ("without colleagues' votes", Group({}, now)),
                ("with them", read_group(store, now)),
            ]:
                started = time.perf_counter()
                colleagues = Colleagues.of(group)
                for reader in readers:
                    reader_digest(ctx, day, Reader(id=reader), colleagues)
                took = time.perf_counter() - started
                timings[label] = min(took, timings.get(label, took))
            print(
                "every reader's digest of Fri 06 Jun, in one process: "
                + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())
            )
            if opts.show:
                print("the post:")
                for block in (slack.message(CHANNEL, post.ts) or {}).get("blocks", []):
                    text = (block.get("text") or {}).get("text") or " ".join(
                        e["text"] for e in block.get("elements", [])
                    )
                    button = (block.get("accessory") or {}).get("text", {}).get("text")
                    print("  " + text.replace("\n", "\n  ") + (f"  [{button}]" if button else ""))
            ok = job < GOAL_SECONDS
            print(f"goal: the weekly job under {GOAL_SECONDS:.0f} s: {'ok' if ok else 'MISSED'}")
            return 0 if ok else 1
    finally:
        keys = list(client.scan_iter(f"{store.prefix}:*"))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])


if __name__ == "__main__":
    sys.exit(main())
