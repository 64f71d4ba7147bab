"""A crash never leaves a day half-delivered: owned, short locks; a step never reports success
for work it did not do; a feed's fault is that feed missing; failures are told.

In-process, on a real Redis, with the stand-ins; `faults/` kills real workers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import trustme
from redis import Redis
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from paperboy import pipeline
from paperboy.arxiv import Arxiv, fetch_feeds, http_client
from paperboy.days import Context
from paperboy.local import LocalScorer
from paperboy.models import Prior, Reader
from paperboy.settings import Settings
from paperboy.store import Store
from tests.conftest import FIXTURES
from tests.standins.feeds import FeedServer, serve
from tests.standins.slack_api import TOKEN as SLACK_TOKEN
from tests.standins.slack_api import serve as slack_serve
from tests.standins.smtp import PASSWORD as SMTP_PASSWORD
from tests.standins.smtp import USER as SMTP_USER
from tests.standins.smtp import smtp_server
from workers import jobs

DAY_FEED = FIXTURES / "days" / "cs.SD+eess.AS-2025-06-04.xml"
DAY = date(2025, 6, 4)
LOCK_SECONDS = 0.5


@pytest.fixture
def arxiv(monkeypatch: pytest.MonkeyPatch, unconfigured: Path) -> Iterator[FeedServer]:
    with serve(FeedServer(routes={"/rss/cs.SD+eess.AS": DAY_FEED.read_bytes()})) as server:
        monkeypatch.setenv("ARXIV_FEED_URL", server.url + "/rss/")
        monkeypatch.setenv("ARXIV_CATEGORIES", "cs.SD,eess.AS")
        monkeypatch.setenv("LOCK_SECONDS", str(LOCK_SECONDS))
        monkeypatch.setenv("RETRY_SECONDS", "1,1,1")
        yield server


def configure(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def a_dead_holder(store: Store, *parts: object) -> None:
    """A lock left behind by a worker killed while it held it (its token, its TTL)."""
    store.redis.set(store.key(*parts), "a-killed-worker", px=int(LOCK_SECONDS * 1000))


def test_a_posting_lock_left_by_a_killed_worker_is_not_success(
    arxiv: FeedServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    with slack_serve() as slack:
        configure(
            monkeypatch,
            SLACK_BOT_TOKEN=SLACK_TOKEN,
            SLACK_CHANNEL="C0PAPERS",
            SLACK_API_URL=slack.url,
        )
        day = jobs.start_day(0, "2025-06-04T06:00:00+00:00")
        jobs.score_day(day)
        a_dead_holder(store, "lock", DAY, "slack:C0PAPERS")
        with pytest.raises(Exception, match="posting to Slack C0PAPERS"):
            jobs.deliver_day(day)  # RQ retries it: nothing was posted, so nothing is done
        assert slack.top_level("C0PAPERS") == []
        time.sleep(LOCK_SECONDS + 0.2)  # the killed worker's lock expires
        jobs.deliver_day(day)
        (parent,) = slack.top_level("C0PAPERS")
        assert len(slack.replies("C0PAPERS", parent["ts"])) == 15


def test_a_reader_claimed_by_a_killed_attempt_is_mailed_once_by_the_retry(
    arxiv: FeedServer, store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    readers = [Reader(id=f"U{n}", email=f"r{n}@example.org", email_enabled=True) for n in range(3)]
    for reader in readers:
        store.save_reader(reader)
    with smtp_server(ca) as smtp:
        configure(
            monkeypatch,
            SMTP_HOST=smtp.host,
            SMTP_PORT=str(smtp.port),
            SMTP_USER=SMTP_USER,
            SMTP_PASSWORD=SMTP_PASSWORD,
            EMAIL_FROM="paperboy@lab.example.org",
            LINK_SECRET="crash-test-secret",
            SSL_CERT_FILE=str(bundle),
        )
        day = jobs.start_day(0, "2025-06-04T06:00:00+00:00")
        jobs.score_day(day)
        a_dead_holder(store, "mailing", DAY, "U1")  # killed while sending to U1
        with pytest.raises(Exception, match="1 reader"):
            jobs.deliver_day(day)  # the others are mailed; U1 is not done, so neither is the job
        assert [len(smtp.to(r.email or "")) for r in readers] == [1, 0, 1]
        time.sleep(LOCK_SECONDS + 0.2)
        jobs.deliver_day(day)
        assert [len(smtp.to(r.email or "")) for r in readers] == [1, 1, 1]


def test_a_step_left_running_by_a_killed_worker_is_not_reported_done(
    arxiv: FeedServer, store: Store
) -> None:
    day = jobs.start_day(0, "2025-06-04T06:00:00+00:00")
    a_dead_holder(store, "lock", DAY, "score")
    with pytest.raises(Exception, match="score"):
        jobs.score_day(day)
    assert not store.is_done(DAY, "score")
    time.sleep(LOCK_SECONDS + 0.2)
    assert jobs.score_day(day) == 49


FAULTY = {
    "/rss/loop": (302, {"Location": "/rss/loop"}, b""),
    "/rss/badgzip": (200, {"Content-Encoding": "gzip"}, b"\x1f\x8bnot really gzip at all"),
}


@pytest.mark.parametrize("fault", ["/rss/loop", "/rss/badgzip", "/rss/drip"])
def test_a_feed_that_fails_in_any_way_is_that_feed_missing(store: Store, fault: str) -> None:
    state = FeedServer(routes={"/rss/good": DAY_FEED.read_bytes()}, faults=dict(FAULTY))
    state.drip = {"/rss/drip": (16, 0.2)}  # 16 bytes every fifth of a second, for ever
    with serve(state) as server:
        arxiv = Arxiv(
            http=http_client(timeout=1.0),
            wait_turn=lambda: None,
            sleep=lambda _: None,
            deadline=1.5,
        )
        started = time.monotonic()
        fetched = fetch_feeds([server.url + "/rss/good", server.url + fault], arxiv)
        took = time.monotonic() - started
    assert [f.name for f in fetched.feeds] == ["good"]
    assert list(fetched.missing) == [server.url + fault]
    assert took < 5  # the deadline, not each read's timeout, bounds a feed
    ctx = Context(store=store, prior=Prior(), local=LocalScorer(Prior()))
    batch = pipeline.ingest(ctx, fetched, DAY)
    assert len(batch.papers) == 49 and batch.missing == [server.url + fault]


def test_the_clocks_steps_are_retried_with_backoff(
    unconfigured: Path, monkeypatch: pytest.MonkeyPatch, redis_client: Redis
) -> None:
    configure(monkeypatch, ARXIV_FEED_URL="http://127.0.0.1:9/rss/", RETRY_SECONDS="60,300,900")
    queue = Queue(jobs.QUEUE, connection=redis_client)
    queue.enqueue(jobs.on_the_clock, "start_day")  # as the clock enqueues it
    SimpleWorker([queue], connection=redis_client).work(burst=True)
    scheduled = ScheduledJobRegistry(jobs.QUEUE, connection=redis_client).get_job_ids()
    assert len(scheduled) == 1  # arXiv is down: the step waits for its first retry
    assert FailedJobRegistry(jobs.QUEUE, connection=redis_client).get_job_ids() == []


def test_admins_are_told_when_a_step_fails_after_its_retries(
    arxiv: FeedServer, redis_client: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    with slack_serve() as slack:
        configure(
            monkeypatch,
            SLACK_BOT_TOKEN=SLACK_TOKEN,
            SLACK_API_URL=slack.url,
            SLACK_ADMINS="UADMIN1,UADMIN2",
            RETRY_SECONDS="",  # no retry left: the first failure is the last
        )
        queue = Queue(jobs.QUEUE, connection=redis_client)
        jobs.enqueue_step(queue, "score_day", "2025-06-04")  # never fetched: it fails
        SimpleWorker([queue], connection=redis_client).work(burst=True)
        told = [
            call
            for call in slack.calls("chat.postMessage")
            if str(call.get("channel", "")).startswith("D")
        ]
        assert len(told) == 2
        assert all("2025-06-04" in c["text"] and "score" in c["text"] for c in told)
        assert all("has not been fetched" in c["text"] for c in told)


def test_every_clock_entry_names_a_step_that_resolves(
    unconfigured: Path, redis_client: Redis
) -> None:
    clock = CronScheduler(connection=redis_client)
    clock.load_config_from_file(str(Path(jobs.__file__).with_name("cron.py")))
    entries = clock.get_jobs()
    names = [entry.args[0] for entry in entries]
    assert {"start_day", "catch_up", "backup", "mail_hour"} <= set(names)
    queue = Queue(jobs.QUEUE, connection=redis_client)
    for entry in entries:
        assert entry.func is jobs.on_the_clock
        job = jobs.enqueue_step(queue, entry.args[0])
        assert callable(job.func) and job.func.__name__ == entry.args[0]
        assert job.retries_left == len(Settings().retry_seconds)
    queue.empty()
