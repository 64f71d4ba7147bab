"""The day as RQ jobs on a real Redis, run by a burst worker in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import trustme
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from paperboy.models import Reader, Vote
from paperboy.store import Store
from workers import jobs

from .conftest import FIXTURES
from .standins.feeds import FeedServer, serve
from .standins.slack_api import TOKEN as SLACK_TOKEN
from .standins.slack_api import serve as slack_serve
from .standins.smtp import PASSWORD as SMTP_PASSWORD
from .standins.smtp import USER as SMTP_USER
from .standins.smtp import SmtpServer, smtp_server

DAY = FIXTURES / "days" / "cs.SD+eess.AS-2025-06-04.xml"
T0 = datetime(2025, 6, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def arxiv(monkeypatch: pytest.MonkeyPatch, unconfigured: Path) -> Iterator[FeedServer]:
    """arXiv's RSS served locally, and the settings that point the jobs at it and at Redis."""
    with serve(FeedServer(routes={"/rss/cs.SD+eess.AS": DAY.read_bytes()})) as server:
        monkeypatch.setenv("ARXIV_FEED_URL", server.url + "/rss/")
        monkeypatch.setenv("ARXIV_CATEGORIES", "cs.SD,eess.AS")
        yield server


def work(redis_client: Redis) -> None:
    queue = Queue(jobs.QUEUE, connection=redis_client)
    SimpleWorker([queue], connection=redis_client).work(burst=True)


def test_the_chain_runs_in_a_worker_and_twice_is_once(
    arxiv: FeedServer, redis_client: Redis, store: Store
) -> None:
    queue = Queue(jobs.QUEUE, connection=redis_client)
    start = queue.enqueue(jobs.start_day, 0, "2025-06-04T06:00:00+00:00")
    work(redis_client)
    assert start.get_status(refresh=True) == JobStatus.FINISHED
    assert start.return_value() == "2025-06-04"
    day = date(2025, 6, 4)
    score = Job.fetch(jobs.job_id(day, "score"), connection=redis_client)
    deliver = Job.fetch(jobs.job_id(day, "deliver"), connection=redis_client)
    assert score.return_value() == 49
    assert deliver.get_status() == JobStatus.FINISHED
    record = store.day(day)
    assert record is not None and record.papers is not None and len(record.papers) == 49
    assert record.digest is not None and len(record.digest.entries) == 15
    assert all(store.is_done(day, step) for step in ("fetch", "score"))

    # the clock fires again (two clocks, or a manual re-run): nothing is done twice
    again = queue.enqueue(jobs.start_day, 0, "2025-06-04T06:05:00+00:00")
    work(redis_client)
    assert again.return_value() == "2025-06-04"
    assert Job.fetch(jobs.job_id(day, "score"), connection=redis_client).return_value() == 0
    assert len(arxiv.requests) == 2  # fetched twice, ingested once
    again_record = store.day(day, "papers")
    assert again_record is not None and again_record.papers == record.papers


def test_each_job_run_twice_does_its_work_once(
    arxiv: FeedServer, redis_client: Redis, store: Store
) -> None:
    jobs.start_day(0, "2025-06-04T06:00:00+00:00")
    assert jobs.score_day("2025-06-04") == 49
    assert jobs.score_day("2025-06-04") == 0  # guarded: already done


def test_a_feed_still_dated_yesterday_is_looked_at_again_later(
    arxiv: FeedServer, redis_client: Redis, store: Store
) -> None:
    assert jobs.start_day(0, "2025-06-05T06:00:00+00:00") == "stale"
    scheduled = ScheduledJobRegistry(jobs.QUEUE, connection=redis_client).get_job_ids()
    assert scheduled == ["paperboy-start-2025-06-05-1"]
    assert store.day(date(2025, 6, 4)) is None  # nothing ingested from the stale feed
    assert jobs.start_day(12, "2025-06-05T12:00:00+00:00") == "stale"  # the last look


def test_a_failed_job_does_not_block_a_rerun_of_its_day(
    arxiv: FeedServer, redis_client: Redis, store: Store
) -> None:
    queue = Queue(jobs.QUEUE, connection=redis_client)
    day = date(2025, 6, 4)
    # score a day that was never fetched: the job fails (after its retries)
    failed = queue.enqueue(jobs.score_day, day.isoformat(), job_id=jobs.job_id(day, "score"))
    work(redis_client)
    assert failed.get_status(refresh=True) == JobStatus.FAILED
    assert not store.is_done(day, "score")
    jobs.start_day(0, "2025-06-04T06:00:00+00:00")  # fetches, then enqueues under the same ids
    work(redis_client)
    assert Job.fetch(jobs.job_id(day, "score"), connection=redis_client).return_value() == 49


def test_a_day_the_clock_missed_is_caught_up_once(
    arxiv: FeedServer, redis_client: Redis, store: Store
) -> None:
    before_schedule = "2025-06-04T05:00:00+00:00"
    assert jobs.catch_up(before_schedule) == "nothing to catch up"
    # the clock was down at 06:00; the hourly check at 09:00 runs the day
    assert jobs.catch_up("2025-06-04T09:00:00+00:00") == "2025-06-04"
    assert store.day(date(2025, 6, 4)) is not None
    assert jobs.catch_up("2025-06-04T10:00:00+00:00") == "nothing to catch up"


def configure(
    monkeypatch: pytest.MonkeyPatch,
    slack_url: str,
    smtp: SmtpServer,
    ca: trustme.CA,
    tmp_path: Path,
) -> None:
    """Settings for Slack at `slack_url` and the SMTP stand-in, whose certificate `ca` signed."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    for name, value in {
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_CHANNEL": "C0PAPERS",
        "SLACK_API_URL": slack_url,
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "SMTP_USER": SMTP_USER,
        "SMTP_PASSWORD": SMTP_PASSWORD,
        "EMAIL_FROM": "Paperboy <paperboy@lab.example.org>",
        "LINK_SECRET": "jobs-test-secret",
        "SSL_CERT_FILE": str(bundle),
    }.items():
        monkeypatch.setenv(name, value)


def test_the_worker_posts_to_slack_and_emails_each_reader_once(
    arxiv: FeedServer,
    redis_client: Redis,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The whole day through RQ with Slack and SMTP configured; a second run delivers nothing."""
    ca = trustme.CA()
    store.save_reader(Reader(id="U1", email="ada@example.org", email_enabled=True))
    store.save_reader(Reader(id="U2", email="alan@example.org", email_enabled=True))
    with slack_serve() as slack, smtp_server(ca) as smtp:
        configure(monkeypatch, slack.url, smtp, ca, tmp_path)
        queue = Queue(jobs.QUEUE, connection=redis_client)
        for minute in ("00", "05"):
            queue.enqueue(jobs.start_day, 0, f"2025-06-04T06:{minute}:00+00:00")
            work(redis_client)
        (parent,) = slack.top_level("C0PAPERS")
        replies = slack.replies("C0PAPERS", parent["ts"])
        assert len(replies) == 15 and all(r["thread_ts"] == parent["ts"] for r in replies)
        assert len(smtp.to("ada@example.org")) == 1 and len(smtp.to("alan@example.org")) == 1
        assert len(smtp.messages()) == 2


def test_the_daily_backup_restores_into_an_empty_store(
    arxiv: FeedServer, store: Store, tmp_path: Path
) -> None:
    store.save_reader(Reader(id="U1", email="ada@example.org", email_enabled=True))
    jobs.start_day(0, "2025-06-04T06:00:00+00:00")
    record = store.day(date(2025, 6, 4), "papers")
    assert record is not None and record.papers
    paper = record.papers[0]
    store.append_vote(Vote(reader="U1", paper=paper, value=1, at=T0, source="slack"))
    written = Path(jobs.backup(str(tmp_path / "backups"), "2025-06-04T05:30:00+00:00"))
    assert written.name == "paperboy-2025-06-04.jsonl"
    before = (store.reader("U1"), store.votes("U1"), store.papers([paper]))
    store.redis.flushdb()
    records = [json.loads(line) for line in written.read_text().splitlines()]
    store.import_with_papers(records)
    assert (store.reader("U1"), store.votes("U1"), store.papers([paper])) == before


def test_a_channel_that_fails_does_not_hold_up_the_others_and_a_rerun_completes_it(
    arxiv: FeedServer,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    ca = trustme.CA()
    store.save_reader(Reader(id="U1", email="ada@example.org", email_enabled=True))
    with slack_serve() as slack, smtp_server(ca) as smtp:
        # Nothing listens at Slack's address: Slack is down.
        configure(monkeypatch, "http://127.0.0.1:9/api/", smtp, ca, tmp_path)
        day = jobs.start_day(0, "2025-06-04T06:00:00+00:00")
        jobs.score_day(day)
        with pytest.raises(Exception):  # noqa: B017 - whatever the client raises: RQ retries
            jobs.deliver_day(day)
        assert len(smtp.to("ada@example.org")) == 1  # email went out all the same
        monkeypatch.setenv("SLACK_API_URL", slack.url)  # Slack is back for the retry
        done = jobs.deliver_day(day)
        assert any("posted to Slack" in d for d in done)
        assert "no reader is waiting for today's email" in done  # Ada had hers
        assert len(slack.top_level("C0PAPERS")) == 1
        assert len(smtp.to("ada@example.org")) == 1


def test_fetch_and_score_run_while_a_channel_is_misconfigured(
    arxiv: FeedServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Email is configured without LINK_SECRET: the day is still fetched and scored, Slack
    still gets its thread, and delivery fails naming what to fix, so RQ keeps it for a retry."""
    with slack_serve() as slack:
        for name, value in {
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_CHANNEL": "C0PAPERS",
            "SLACK_API_URL": slack.url,
            "SMTP_HOST": "127.0.0.1",
            "EMAIL_FROM": "paperboy@lab.example.org",
        }.items():
            monkeypatch.setenv(name, value)
        day = jobs.start_day(0, "2025-06-04T06:00:00+00:00")
        assert day == "2025-06-04"
        assert jobs.score_day(day) == 49
        with pytest.raises(ValueError, match=r"email channel is not set up.*LINK_SECRET"):
            jobs.deliver_day(day)
        (parent,) = slack.top_level("C0PAPERS")
        assert len(slack.replies("C0PAPERS", parent["ts"])) == 15
