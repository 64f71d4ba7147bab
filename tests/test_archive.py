"""A memory that lasts: papers posted, voted on or saved are kept past the 45 days, with their
votes and their thread, and still found; the rest expire, from the index too. On a real Redis
and on the in-process store, through the pipeline's ingest and a thread posted to the Slack
stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import redis

from paperboy.arxiv import fetch_feeds
from paperboy.days import Context
from paperboy.local import LocalScorer
from paperboy.models import Digest, Paper, Prior, Ranked, Score
from paperboy.pipeline import ingest
from paperboy.search import search
from paperboy.slack import post_day, web_client
from paperboy.store import Store, in_process
from tests.conftest import FIXTURES
from tests.standins.slack_api import TOKEN, serve

DAY = date(2025, 6, 4)
FEED = FIXTURES / "days" / "cs.SD+eess.AS-2025-06-04.xml"
CHANNEL = "C0PAPERS"


def days_pass(client: redis.Redis, days: int) -> None:
    """What `days` days do to Redis: every key due to expire within them is gone."""
    horizon = days * 86400 * 1000
    for key in list(client.scan_iter(count=1000)):
        if 0 <= client.pttl(key) <= horizon:
            client.delete(key)


def words_of(paper: Paper) -> str:
    """A few of a paper's title words: what someone remembers of it."""
    return " ".join(paper.title.split()[:5])


def found(store: Store, paper: Paper) -> bool:
    return any(item.paper.id == paper.id for item in search(store, words_of(paper)))


@pytest.fixture(params=["redis", "in-process"])
def any_store(request: pytest.FixtureRequest, redis_client: redis.Redis) -> Iterator[Store]:
    """The store on the tests' Redis, and on the in-process one used when no Redis runs."""
    client = redis_client if request.param == "redis" else in_process()
    yield Store(client)
    client.flushdb()


def test_at_60_days_posted_voted_and_saved_papers_are_found_the_rest_is_gone(
    any_store: Store,
) -> None:
    store = any_store
    ctx = Context(store=store, prior=Prior(), local=LocalScorer(Prior()))
    batch = ingest(ctx, fetch_feeds([str(FEED)], None), DAY)
    posted, voted, saved, never = batch.papers[:4]
    with serve() as slack:
        client = web_client(TOKEN, slack.url)

        def permalink(channel: str, ts: str) -> str:
            return str(client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])

        order = Score(paper=posted.id, scorer="local", score=1.0)
        digest = Digest(
            day=DAY, read=1, scorer="local", entries=[Ranked(paper=posted, score=order)]
        )
        post_day(client, store, CHANNEL, digest, spacing=0)
        store.cast("U1", voted.id, 1, "slack")
        store.save("U2", saved.id)
        assert all(found(store, p) for p in (posted, voted, saved, never))

        days_pass(store.redis, 60)

        assert store.papers([p.id for p in batch.papers]).keys() == {posted.id, voted.id, saved.id}
        for paper in (posted, voted, saved):
            assert found(store, paper), paper.title
        assert not found(store, never)
        (hit,) = [
            i
            for i in search(store, words_of(posted), permalink=permalink)
            if i.paper.id == posted.id
        ]
        assert hit.thread and hit.thread.startswith("https://example.slack.com/archives/C0PAPERS/")
    assert store.tally(voted.id) == (1, 0)
    assert [s.paper for s in store.saved("U2")] == [saved.id]
    # The index forgot the day: only its kept part is left.
    left = {k.decode() for k in store.redis.scan_iter(match=store.key("ix", "*"))}
    assert not any(":ix:day:" in k for k in left)
    kept = store.redis.lrange(store.key("ix", "kept", "docs"), 0, -1)
    assert sorted(k.decode() for k in kept) == sorted([posted.id, voted.id, saved.id])


def test_the_archive_travels_with_export_and_import(store: Store) -> None:
    ctx = Context(store=store, prior=Prior(), local=LocalScorer(Prior()))
    batch = ingest(ctx, fetch_feeds([str(FEED)], None), DAY)
    posted, saved = batch.papers[:2]
    store.save_slack_message(posted.id, CHANNEL, "1750000000.000002", [])
    store.save("U1", saved.id)
    exported = list(store.export_with_papers())
    assert {r["id"] for r in exported if r["type"] == "paper"} == {posted.id, saved.id}
    assert [r for r in exported if r["type"] == "thread"] == [
        {"type": "thread", "paper": posted.id, "channel": CHANNEL, "ts": "1750000000.000002"}
    ]
    store.redis.flushdb()
    store.import_with_papers(exported)
    assert store.redis.ttl(store.key("paper", posted.id)) == -1
    assert store.threads([posted.id])[posted.id]["ts"] == "1750000000.000002"
    assert found(store, posted) and found(store, saved)  # the import queued them for the index


def test_an_earlier_versions_store_is_filled_once(store: Store) -> None:
    """A store kept before the archive: its voted papers were kept (no expiry), nothing else
    knew; the first drain of the index fills the archive from the vote logs and replies."""
    ctx = Context(store=store, prior=Prior(), local=LocalScorer(Prior()))
    batch = ingest(ctx, fetch_feeds([str(FEED)], None), DAY)
    voted, posted = batch.papers[:2]
    store.cast("U1", voted.id, 1, "slack")
    store.save_slack_message(posted.id, CHANNEL, "1750000000.000003", [])
    earlier = ["kept", "kept:ready", "ix:pending", "threads", "ix:kept"]
    store.redis.delete(*(store.key(name) for name in earlier))
    assert store.is_kept([voted.id, posted.id]) == {voted.id: False, posted.id: False}
    assert found(store, voted)  # the search drains the queue, filling the archive first
    assert store.is_kept([voted.id, posted.id]) == {voted.id: True, posted.id: True}
    assert store.threads([posted.id])[posted.id]["ts"] == "1750000000.000003"
    days_pass(store.redis, 60)
    assert found(store, voted) and found(store, posted)
