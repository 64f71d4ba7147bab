"""The day as RQ jobs: thin wrappers around `paperboy.pipeline`, each safe to run twice.

Jobs take JSON arguments (dates as ISO strings) and build from Settings only what their step
needs: fetch and score never build a delivery channel, so a channel's broken settings cannot
stop them. Each step of a day is guarded in Redis, so a job that runs twice (two clocks, a retry
after a crash, a manual re-run) does its work once. The calendar rules live in
`paperboy.schedule`.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from paperboy import blocks, pipeline, schedule
from paperboy.arxiv import fetch_feeds
from paperboy.days import load_batch, load_order, save_order
from paperboy.feed import Feed
from paperboy.leases import LEASE_SECONDS, Busy, held
from paperboy.models import utc_now
from paperboy.pipeline import feed_day
from paperboy.progress import Meter
from paperboy.services import arxiv_client, channels, context
from paperboy.settings import Settings
from paperboy.store import Store, serving_store
from workers import steps
from workers.queues import DAY as QUEUE
from workers.steps import logged

log = logging.getLogger(__name__)


def _settings_and_store() -> tuple[Settings, Store]:
    settings = Settings()
    return settings, serving_store(settings)


def guarded(
    store: Store, day: date, step: str, work: Callable[[], Any], seconds: float = LEASE_SECONDS
) -> Any:
    """Run `work` once per day and step: None when it is done already; Busy (so that RQ tries
    again later) while another worker holds the step, or held it until killed moments ago."""
    if store.is_done(day, step):
        log.info("day %s: step %s is done; nothing to do", day, step)
        return None
    lock = store.step_lease(day, step, seconds)
    if not lock.acquire(blocking=False):
        raise Busy(f"day {day}: step {step} is running elsewhere (or its worker died moments ago)")
    with held(lock):
        if store.is_done(day, step):  # finished between the look and the lease
            return None
        result = work()
        store.finish(day, step)
    return result


# the day's steps -------------------------------------------------------------------------


@logged
def score_day(day: str) -> int:
    """Score the fetched day and store the group order; returns how many papers it ordered."""
    settings, store = _settings_and_store()
    ctx = context(settings, store, progress=Meter(tty=False))
    when = date.fromisoformat(day)

    def work() -> int:
        order = pipeline.score(ctx, load_batch(ctx, when))
        save_order(ctx, when, order)
        return len(order)

    return guarded(store, when, "score", work, settings.lock_seconds) or 0


@logged
def deliver_day(day: str) -> list[str]:
    """Deliver the day's digest to every configured channel, each channel once."""
    settings, store = _settings_and_store()
    found = channels(settings, store, Meter(tty=False))  # a log line each quarter of the way
    ctx = context(settings, store, found.ready)
    when = date.fromisoformat(day)
    batch = load_batch(ctx, when)
    order = load_order(ctx, when)
    digest = pipeline.digest(ctx, batch, order)
    store.update_day(when, digest=digest)
    if not digest.entries:
        log.info("day %s: no announcement, nothing to deliver", when)
        return []
    if not ctx.deliverers and not found.broken:
        log.warning("day %s: no delivery channel is configured (Slack or SMTP)", when)
    # Each channel guards itself within its day (Slack per channel and reply, email per
    # reader), so running this again delivers only what is missing: a failed reader too.
    delivered = pipeline.deliver(ctx, digest, batch, order)
    failed: list[Exception] = [
        ValueError(f"the {name} channel is not set up: {why}") for name, why in found.broken.items()
    ]
    failed += delivered.failed.values()
    if failed:
        raise failed[0]  # RQ retries the job; the channels that delivered skip then
    return delivered.done


STEPS: list[tuple[str, Callable[[str], Any]]] = [("score", score_day), ("deliver", deliver_day)]


def job_id(day: date | str, step: str) -> str:
    """Deterministic: letters, digits, `_` and `-` only, as RQ requires."""
    return f"paperboy-{day}-{step}"


def _make_room(queue: Queue, jid: str) -> bool:
    """Free a job id held by a failed or stopped run of the same day; False if one is live."""
    try:
        job = Job.fetch(jid, connection=queue.connection)
    except NoSuchJobError:
        return True
    status = job.get_status(refresh=True)
    if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED):
        job.delete()
        return True
    return False


def enqueue_day(queue: Queue, day: date) -> list[str]:
    """Enqueue score then deliver for a fetched day, chained, with deterministic ids."""
    previous: Job | None = None
    ids = []
    for step, func in STEPS:
        jid = job_id(day, step)
        if not _make_room(queue, jid):
            log.info("day %s: job %s is already queued or running", day, jid)
            previous = Job.fetch(jid, connection=queue.connection)
            continue
        previous = queue.enqueue(
            func,
            day.isoformat(),
            job_id=jid,
            depends_on=previous,
            description=f"paperboy {step} {day}",
            **steps.options(Settings()),
        )
        ids.append(jid)
    return ids


# the clock's entry point -----------------------------------------------------------------


@logged
def start_day(attempt: int = 0, now: str | None = None) -> str:
    """Fetch today's feeds; when fresh, ingest them and enqueue the rest of the day.

    A feed still dated the previous day is looked at again later, until noon UTC; a weekend or
    holiday feed (empty) is a day without announcement. A weekday without a digest (a holiday,
    a feed still stale at the last look) gets one status line in the channel.
    """
    settings, store = _settings_and_store()
    clock = datetime.fromisoformat(now) if now else utc_now()
    today = schedule.arxiv_today(clock)
    fetched = fetch_feeds(settings.feed_urls, arxiv_client(settings, store))
    if not fetched.feeds:
        raise pipeline.NoFeedError(fetched)  # RQ retries the job later
    queue = Queue(QUEUE, connection=store.redis)
    day = feed_day(fetched) or today
    if schedule.is_stale(day, clock):  # the newest feed too is an earlier announcement's
        return _look_again(settings, store, queue, fetched.feeds, attempt, clock)
    missed = schedule.missed_days(store.last_day(), day)
    if missed:
        log.warning(
            "days %s had no run; arXiv's RSS no longer lists their papers",
            ", ".join(map(str, missed)),
        )
    ctx = context(settings, store)
    guarded(store, day, "fetch", lambda: pipeline.ingest(ctx, fetched, day), settings.lock_seconds)
    record = store.day(day, "papers")
    if record is not None and record.papers == []:
        log.info("day %s: no announcement; nothing will be posted", day)
        categories = [c for f in fetched.feeds for c in f.categories]
        steps.tell_channel(settings, store, day, blocks.no_announcement(day, categories))
        return "empty"
    store.set_last_day(day)
    enqueue_day(queue, day)
    return day.isoformat()


def _look_again(
    settings: Settings,
    store: Store,
    queue: Queue,
    feeds: list[Feed],
    attempt: int,
    clock: datetime,
) -> str:
    """Every feed is still the previous announcement's: look again later, or after the last
    look (noon UTC) tell the channel there is no digest today."""
    today = schedule.arxiv_today(clock)
    dated = max(f.day for f in feeds if f.day is not None)
    if not schedule.may_look_again(clock):
        log.warning("day %s: the feed is still dated %s; giving up for today", today, dated)
        categories = [c for f in feeds for c in f.categories]
        steps.tell_channel(settings, store, today, blocks.still_stale(today, dated, categories))
        return "stale"
    retry_id = f"paperboy-start-{today}-{attempt + 1}"
    if _make_room(queue, retry_id):
        queue.enqueue_in(
            timedelta(minutes=schedule.STALE_RETRY_MINUTES),
            start_day,
            attempt + 1,
            job_id=retry_id,
            description=f"paperboy start {today} (look {attempt + 1})",
            **steps.options(settings),
        )
    log.info(
        "day %s: the feed is still dated %s; looking again in %d minutes",
        today,
        dated,
        schedule.STALE_RETRY_MINUTES,
    )
    return "stale"


@logged
def catch_up(now: str | None = None) -> str:
    """Hourly: start today's run if the clock missed its scheduled time (it was down)."""
    settings, store = _settings_and_store()
    clock = datetime.fromisoformat(now) if now else utc_now()
    today = schedule.arxiv_today(clock)
    if not schedule.catch_up_due(settings.schedule_cron, clock, store.last_day()):
        return "nothing to catch up"
    if not store.claim_catch_up(today, CATCH_UP_SECONDS):
        return "a catch-up ran in the last three hours"
    scheduled = schedule.last_scheduled(settings.schedule_cron, clock)
    log.info("day %s: the scheduled run at %s did not happen; catching up", today, scheduled)
    return start_day(0, clock.isoformat())


CATCH_UP_SECONDS = 3 * 3600
"""A missed day is caught up at most once in this many seconds (the stale retries take over)."""

BACKUPS_KEPT = 30
"""How many daily exports the backup job keeps."""


@logged
def backup(folder: str = "backups", now: str | None = None) -> str:
    """Export readers, the vote log, reading lists and the archive's papers to `folder`, one
    JSON-lines file a day.

    Votes live only in Redis; with AOF on a restart keeps them, and this file survives the
    loss of Redis itself (`paperboy import FILE` restores it).
    """
    store = serving_store(Settings())
    day = (datetime.fromisoformat(now) if now else utc_now()).date()
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"paperboy-{day.isoformat()}.jsonl"
    partial_path = path.with_suffix(".jsonl.partial")
    with partial_path.open("w", encoding="utf-8") as out:
        for record in store.export_with_papers():
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    partial_path.replace(path)  # a reader of the folder never sees half a backup
    for old in sorted(target.glob("paperboy-*.jsonl"))[:-BACKUPS_KEPT]:
        old.unlink()
    log.info("backup of %s written to %s", day, path)
    return str(path)


# the clock's wrapper -----------------------------------------------------------------------

ON_THE_CLOCK: dict[str, Callable[..., Any] | str] = {}
"""The steps the clock starts, by name (filled below); a dotted name where importing the
function here would be circular."""


def enqueue_step(queue: Queue, step: str, *args: Any) -> Job:
    """Enqueue a step by name with its retries and failure callback (see `workers.steps`)."""
    func = ON_THE_CLOCK[step]
    if isinstance(func, str):
        module, name = func.rsplit(".", 1)
        func = getattr(importlib.import_module(module), name)
    return queue.enqueue(
        func,
        *args,
        description=f"paperboy {step} {' '.join(map(str, args))}".strip(),
        **steps.options(Settings()),
    )


def on_the_clock(step: str, *args: Any) -> str:
    """What the clock runs: rq's cron registration takes no retry, so it enqueues the step
    with them and returns at once."""
    queue = Queue(QUEUE, connection=serving_store(Settings()).redis)
    return enqueue_step(queue, step, *args).id


ON_THE_CLOCK.update(
    start_day=start_day,
    catch_up=catch_up,
    backup=backup,
    score_day=score_day,
    deliver_day=deliver_day,
    mail_hour="workers.mailing.mail_hour",
    look_early="workers.batches.look_early",
    post_weekly="workers.weekly.post_weekly",
    collect_batches="workers.batches.collect_batches",
)
