"""Never silent: a weekday without a digest gets one short status line in the channel (a
holiday, a feed still stale at noon, a digest that failed after its retries), once that day and
never on a weekend; the parent lists the categories read and any missing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, SimpleWorker

from paperboy.blocks import digest_failed
from paperboy.models import Reader
from paperboy.store import Store
from workers import jobs

from .conftest import FIXTURES
from .standins.feeds import FeedServer, serve
from .standins.slack_api import TOKEN, SlackStandIn
from .standins.slack_api import serve as slack_serve

CHANNEL = "C0PAPERS"
ADMIN = "U0ADMIN"
WEEKEND = (FIXTURES / "rss" / "cs.LG-2026-04-25-empty-weekend.xml").read_bytes()
HOLIDAY = WEEKEND.replace(b"Sat, 25 Apr 2026", b"Thu, 25 Dec 2025").replace(b"-0400", b"-0500")
"""arXiv's cs.LG feed on a weekday without announcement: its channel dated the day, no items."""
WEDNESDAY = (FIXTURES / "days" / "cs.SD+eess.AS-2025-06-04.xml").read_bytes()


@pytest.fixture
def slack(unconfigured: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStandIn]:
    """Slack's stand-in, and the settings that point the jobs at it (no retries: the first
    failure of a step is its last)."""
    with slack_serve() as standin:
        for name, value in {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_CHANNEL": CHANNEL,
            "SLACK_API_URL": standin.url,
            "SLACK_ADMINS": ADMIN,
            "RETRY_SECONDS": "",
        }.items():
            monkeypatch.setenv(name, value)
        yield standin


def feeds(monkeypatch: pytest.MonkeyPatch, categories: str, body: bytes) -> FeedServer:
    """arXiv's RSS for `categories` (cs.LG,cs.AI) served locally with `body`; settings set."""
    monkeypatch.setenv("ARXIV_CATEGORIES", categories)
    return FeedServer(routes={"/rss/" + categories.replace(",", "+"): body})


def lines(slack: SlackStandIn) -> list[str]:
    return [m["text"] for m in slack.top_level(CHANNEL)]


def test_a_holiday_gets_one_line_and_a_saturday_none(
    slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch, store: Store
) -> None:
    with serve(feeds(monkeypatch, "cs.LG", HOLIDAY)) as arxiv:
        monkeypatch.setenv("ARXIV_FEED_URL", arxiv.url + "/rss/")
        assert jobs.start_day(0, "2025-12-25T06:00:00+00:00") == "empty"
        assert jobs.start_day(0, "2025-12-25T07:00:00+00:00") == "empty"  # a catch-up, say
    assert lines(slack) == [
        "Thu 25 Dec: arXiv announced no new papers in cs.LG today (a holiday), so there is no "
        "digest. The next one comes with arXiv's next announcement."
    ]
    slack.messages.clear()
    with serve(feeds(monkeypatch, "cs.LG", WEEKEND)) as arxiv:  # a clock that runs every day
        monkeypatch.setenv("ARXIV_FEED_URL", arxiv.url + "/rss/")
        assert jobs.start_day(0, "2026-04-25T06:00:00+00:00") == "empty"
    assert lines(slack) == []


def test_a_feed_still_stale_at_noon_gets_one_line_after_the_last_look(
    slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch, store: Store
) -> None:
    """Thursday, and arXiv's feed still lists Wednesday's papers: the morning's looks say
    nothing; the last, at noon UTC, tells the channel; a later run does not again."""
    with serve(feeds(monkeypatch, "cs.SD,eess.AS", WEDNESDAY)) as arxiv:
        monkeypatch.setenv("ARXIV_FEED_URL", arxiv.url + "/rss/")
        for look, at in enumerate(["06:00", "09:30", "11:30"]):
            assert jobs.start_day(look, f"2025-06-05T{at}:00+00:00") == "stale"
            assert lines(slack) == []
        assert jobs.start_day(12, "2025-06-05T12:00:00+00:00") == "stale"
        assert jobs.start_day(0, "2025-06-05T13:00:00+00:00") == "stale"  # a catch-up
    assert lines(slack) == [
        "Thu 05 Jun: arXiv's feed for cs.SD, eess.AS still listed Wed 04 Jun's papers at noon "
        "UTC, so there is no digest today."
    ]


def test_a_digest_that_failed_after_its_retries_is_one_line(
    slack: SlackStandIn, redis_client: Redis, store: Store
) -> None:
    """Scoring a day that was never fetched fails for good: the admin gets the error, the
    channel one line (twice failing is still one line)."""
    queue = Queue(jobs.QUEUE, connection=redis_client)
    for _ in range(2):
        jobs.enqueue_step(queue, "score_day", "2025-06-04")
        SimpleWorker([queue], connection=redis_client).work(burst=True)
    assert lines(slack) == [
        "Wed 04 Jun: the digest of Wed 04 Jun failed; the admins have been told."
    ]
    today = date(2025, 6, 4)  # the line as it reads on the day itself
    assert digest_failed(today, today) == (
        "Wed 04 Jun: today's digest failed; the admins have been told."
    )
    (dm,) = slack.dms.values()
    assert all("failed after its retries" in m["text"] for m in slack.messages[dm])


def test_a_day_whose_thread_went_out_is_not_called_failed(
    slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch, redis_client: Redis, store: Store
) -> None:
    """Email is misconfigured, so the deliver step fails for good; the channel has its thread,
    listing the categories read, and no line saying the digest failed."""
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("EMAIL_FROM", "paperboy@lab.example.org")  # and no LINK_SECRET
    store.save_reader(Reader(id="U1", email="ada@example.org", email_enabled=True))
    with serve(feeds(monkeypatch, "cs.SD,eess.AS", WEDNESDAY)) as arxiv:
        monkeypatch.setenv("ARXIV_FEED_URL", arxiv.url + "/rss/")
        queue = Queue(jobs.QUEUE, connection=redis_client)
        jobs.enqueue_step(queue, "start_day", 0, "2025-06-04T06:00:00+00:00")
        SimpleWorker([queue], connection=redis_client).work(burst=True)
    (parent,) = slack.top_level(CHANNEL)
    assert "papers read in cs.SD, eess.AS, 15 picked." in parent["blocks"][0]["text"]["text"]
    assert store.day(date(2025, 6, 4), "digest") is not None
    (dm,) = slack.dms.values()
    assert "LINK_SECRET" in slack.messages[dm][0]["text"]  # the admin was told
