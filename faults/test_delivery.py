"""The day through real rq workers while things go wrong: the work horse killed (kill -9)
in the middle of the Slack thread or of the mail, Redis restarted during delivery, Slack and
the mail server misbehaving. Whatever happens, every paper is posted once, every reader mailed
once (at most one duplicate for a message the server accepted as the horse died, as README
says), and the deliver job is not FINISHED while anything is missing."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest
import redis
from rq import Queue
from rq.job import Job, JobStatus

from faults.conftest import (
    CHANNEL,
    DAY,
    FIGURES,
    MORNING,
    PATIENCE,
    SETTINGS,
    AofRedis,
    Killer,
    Mail,
    Processes,
    environment,
    wait_for,
)
from paperboy import blocks
from paperboy.models import Reader
from paperboy.store import Store
from tests.standins.feeds import FeedServer
from tests.standins.slack_api import SlackStandIn
from workers import jobs

READERS = 60
PAPERS = 15


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Any:
    """Apply a process environment to this process too (jobs are enqueued with its retries)."""

    def apply(env: dict[str, str]) -> dict[str, str]:
        from paperboy.settings import Settings

        for name in Settings.model_fields:
            monkeypatch.delenv(name.upper(), raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)
        return env

    return apply


def start_the_day(client: redis.Redis) -> None:
    """What the clock does at 06:00: enqueue the day's first step, with its retries."""
    jobs.enqueue_step(Queue(jobs.QUEUE, connection=client), "start_day", 0, MORNING)


def delivered(client: redis.Redis) -> Job | None:
    """The day's deliver job once it is FINISHED."""
    try:
        job = Job.fetch(jobs.job_id(DAY, "deliver"), connection=client)
    except Exception:  # not enqueued yet, or Redis restarting
        return None
    try:
        return job if job.get_status(refresh=True) == JobStatus.FINISHED else None
    except redis.RedisError:
        return None


def replies(slack: SlackStandIn) -> Counter[str]:
    """How many times each paper was posted in the day's thread."""
    (parent,) = slack.top_level(CHANNEL)
    found = [blocks.paper_of(m) for m in slack.replies(CHANNEL, parent["ts"])]
    return Counter(p for p in found if p)


def readers(client: redis.Redis, count: int = READERS) -> list[str]:
    store = Store(client)
    addresses = [f"reader{n:02d}@example.org" for n in range(count)]
    for n, address in enumerate(addresses):
        store.save_reader(Reader(id=f"U{n:04d}", email=address, email_enabled=True))
    return addresses


def mailed(mail: Mail, addresses: list[str]) -> Counter[str]:
    got: Counter[str] = Counter()
    for item in list(mail.server.received):
        for address in item.rcpt_tos:
            got[address] += 1
    return Counter({a: got[a] for a in addresses})


@pytest.mark.parametrize("at", [3, 6, 12])
def test_a_horse_killed_in_the_thread_posts_every_paper_once(
    at: int,
    aof: AofRedis,
    redis_db: redis.Redis,
    arxiv: FeedServer,
    slack: SlackStandIn,
    processes: Processes,
    settled: Any,
) -> None:
    killer = Killer(redis_db, at)
    slack.on_post = killer
    processes.worker(settled(environment(aof, arxiv, slack)))
    start_the_day(redis_db)
    wait_for(lambda: killer.killed_at, PATIENCE, f"the {at}th reply")
    assert delivered(redis_db) is None
    wait_for(lambda: delivered(redis_db), PATIENCE, "the day to be delivered")
    took = time.monotonic() - (killer.killed_at or 0)
    posted = replies(slack)
    assert len(posted) == PAPERS and set(posted.values()) == {1}, posted
    FIGURES.append(
        f"Slack, horse killed at reply {at}: {len(posted)} of {PAPERS} papers posted, "
        f"{sum(posted.values()) - len(posted)} duplicates, delivered {took:.0f} s after the kill"
    )


@pytest.mark.parametrize("at", [1, 20, 45])
def test_a_horse_killed_in_the_mail_mails_every_reader_once(
    at: int,
    aof: AofRedis,
    redis_db: redis.Redis,
    arxiv: FeedServer,
    mail: Mail,
    processes: Processes,
    settled: Any,
) -> None:
    addresses = readers(redis_db)
    killer = Killer(redis_db, at)
    mail.server.on_message = killer
    processes.worker(settled(environment(aof, arxiv, mail=mail)))
    start_the_day(redis_db)
    wait_for(lambda: killer.killed_at, PATIENCE, f"the {at}th message")
    assert delivered(redis_db) is None
    wait_for(lambda: delivered(redis_db), PATIENCE, "the day to be delivered")
    took = time.monotonic() - (killer.killed_at or 0)
    got = mailed(mail, addresses)
    missed = [a for a in addresses if not got[a]]
    twice = sum(n - 1 for n in got.values() if n > 1)
    assert not missed
    assert twice <= 1  # the message the server accepted as its sender died
    FIGURES.append(
        f"email, horse killed at message {at} of {READERS}: {READERS - len(missed)} mailed, "
        f"{twice} duplicate(s), 0 missed, delivered {took:.0f} s after the kill"
    )


def test_redis_restarted_during_delivery_loses_nothing(
    aof: AofRedis,
    redis_db: redis.Redis,
    arxiv: FeedServer,
    slack: SlackStandIn,
    mail: Mail,
    processes: Processes,
    settled: Any,
) -> None:
    addresses = readers(redis_db, 20)
    restarted = threading.Event()

    def restart_once(count: int) -> None:
        if count >= 5 and not restarted.is_set():
            restarted.set()
            threading.Thread(target=aof.restart, daemon=True).start()

    slack.on_post = restart_once
    processes.worker(settled(environment(aof, arxiv, slack, mail)))
    start_the_day(redis_db)
    wait_for(restarted.is_set, PATIENCE, "the 5th reply")
    wait_for(lambda: delivered(aof.client()), PATIENCE, "the day to be delivered")
    posted = replies(slack)
    got = mailed(mail, addresses)
    assert len(posted) == PAPERS and set(posted.values()) == {1}, posted
    assert set(got.values()) == {1}, got
    FIGURES.append(
        f"Redis restarted at reply 5: {len(posted)} of {PAPERS} papers posted once, "
        f"{len(got)} of {len(addresses)} readers mailed once"
    )


def test_slack_failing_in_every_way_gets_each_paper_posted_once(
    aof: AofRedis,
    redis_db: redis.Redis,
    arxiv: FeedServer,
    slack: SlackStandIn,
    processes: Processes,
    settled: Any,
) -> None:
    # A 500 before the 2nd post lands, after the 5th lands, a slow answer to the 8th, and
    # 429s for the next three calls when the 11th lands.
    slack.post_faults = {2: "before", 5: "after", 8: "slow"}
    slack.slow_seconds = 2.0

    def rate_limit(count: int) -> None:
        if count == 10:
            slack.rate_limit_next = 3

    slack.on_post = rate_limit
    processes.worker(settled(environment(aof, arxiv, slack)))
    start_the_day(redis_db)
    wait_for(lambda: delivered(redis_db), PATIENCE, "the day to be delivered")
    posted = replies(slack)
    assert len(posted) == PAPERS and set(posted.values()) == {1}, posted
    assert slack.rate_limited >= 3


def test_two_workers_and_a_slow_slack_post_each_paper_once(
    aof: AofRedis,
    redis_db: redis.Redis,
    arxiv: FeedServer,
    slack: SlackStandIn,
    processes: Processes,
    settled: Any,
) -> None:
    """A post slower than the lease: its holder renews it, so a second deliver job (a second
    clock) meets it and waits, and posts nothing twice."""
    slack.post_faults = {3: "slow"}
    slack.slow_seconds = 2 * float(SETTINGS["LOCK_SECONDS"])
    env = settled(environment(aof, arxiv, slack))
    processes.worker(env, "worker-1")
    processes.worker(env, "worker-2")
    start_the_day(redis_db)
    wait_for(lambda: slack.calls("chat.postMessage"), PATIENCE, "the first post")
    jobs.enqueue_step(Queue(jobs.QUEUE, connection=redis_db), "deliver_day", DAY)
    wait_for(lambda: delivered(redis_db), PATIENCE, "the day to be delivered")
    wait_for(lambda: Queue(jobs.QUEUE, connection=redis_db).count == 0, PATIENCE, "an empty queue")
    time.sleep(1)  # the second job's last attempt, if it were to post
    posted = replies(slack)
    assert len(posted) == PAPERS and set(posted.values()) == {1}, posted


def test_the_mail_server_refusing_and_dropping_mails_each_reader_once(
    aof: AofRedis,
    redis_db: redis.Redis,
    arxiv: FeedServer,
    mail: Mail,
    processes: Processes,
    settled: Any,
) -> None:
    addresses = readers(redis_db, 20)
    mail.server.refuse_next = 2  # 421 to the first senders
    mail.server.drop_next = 3  # then three connections dropped in the middle of DATA
    processes.worker(settled(environment(aof, arxiv, mail=mail)))
    start_the_day(redis_db)
    wait_for(lambda: delivered(redis_db), PATIENCE, "the day to be delivered")
    got = mailed(mail, addresses)
    assert set(got.values()) == {1}, got
    assert mail.server.refuse_next == 0 and mail.server.drop_next == 0
