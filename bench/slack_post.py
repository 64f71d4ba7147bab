"""Posting a 30-paper day through a Slack stand-in that allows one message a second a channel.

Posts the same day twice into fresh channels: paced as Paperboy posts (one message every
POST_SPACING_SECONDS), then unpaced (every post as soon as the last returned, so the stand-in
answers 429 with Retry-After and slack_sdk's RateLimitErrorRetryHandler waits). Prints the wall
time and the 429s met and handled, and checks that each run left one parent and exactly 30
replies, each paper once. The floor is about 31 s (31 messages at one a second).

    .venv/bin/python -m bench.slack_post [--redis redis://127.0.0.1:6379/10]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from datetime import date

from bench import BIG_DAY
from paperboy import blocks
from paperboy.arxiv import read_saved
from paperboy.feed import parse_feed
from paperboy.models import Digest, Ranked, Score
from paperboy.slack import POST_SPACING_SECONDS, post_day, web_client
from paperboy.store import Store, connect
from tests.standins.slack_api import TOKEN, SlackStandIn, serve

PAPERS = 30


def run(store: Store, slack: SlackStandIn, digest: Digest, channel: str, spacing: float) -> bool:
    before = slack.rate_limited
    started = time.monotonic()
    client = web_client(TOKEN, slack.url, rate_limit_retries=10, connection_retries=0)
    posted = post_day(client, store, channel, digest, spacing=spacing)
    wall = time.monotonic() - started
    replies = slack.replies(channel, posted.parent)
    counts = Counter(blocks.paper_of(r) for r in replies)
    ok = (
        len(slack.top_level(channel)) == 1
        and len(replies) == PAPERS
        and set(counts.values()) == {1}
    )
    label = f"paced {spacing:.2f} s" if spacing else "unpaced"
    print(
        f"{label:>14}: {wall:5.1f} s wall, {slack.rate_limited - before} 429s met and handled, "
        f"{len(replies)} replies, each paper once: {'yes' if ok else 'NO'}"
    )
    return ok


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument(
        "--redis",
        default=os.environ.get("PAPERBOY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/10"),
        help="a Redis database the bench may empty (PAPERBOY_BENCH_REDIS_URL, else db 10)",
    )
    opts = args.parse_args()
    client = connect(opts.redis)
    client.flushdb()
    store = Store(client, prefix="bench")
    papers = parse_feed(BIG_DAY.name, read_saved(BIG_DAY)).papers[:PAPERS]
    entries = [
        Ranked(
            paper=p, score=Score(paper=p.id, scorer="local", score=1 - n / 100, reasons=["bench"])
        )
        for n, p in enumerate(papers)
    ]
    digest = Digest(day=date(2025, 6, 3), read=834, entries=entries, scorer="local")
    print(f"posting 1 parent + {PAPERS} replies; stand-in allows 1 message/s per channel")
    with serve(SlackStandIn(one_per_second=True)) as slack:
        paced = run(store, slack, digest, "C0PACED", POST_SPACING_SECONDS)
        unpaced = run(store, slack, digest, "C0UNPACED", 0.0)
    client.flushdb()
    return 0 if paced and unpaced else 1


if __name__ == "__main__":
    sys.exit(main())
