"""The half-price path as RQ jobs (LLM_BATCH=true): submit the day early, collect late batches.

`look_early` runs at FETCH_CRON: it fetches the day's feeds and, once they are fresh, ingests
them (the same guarded step `start_day` takes, so the scheduled run does not ingest twice) and
submits the day's candidates to the Message Batches API; a feed still dated the previous day is
looked at again every 30 minutes until SCHEDULE_CRON, whose run judges the day itself. The
scoring step collects the batch (`paperboy.batches`); `collect_batches`, hourly, collects any
batch that had not ended by then, so what it cost reaches the budget and the ledger.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from rq import Queue

from paperboy import pipeline, schedule
from paperboy.arxiv import fetch_feeds
from paperboy.days import load_batch
from paperboy.llm import ClaudeJudge
from paperboy.models import utc_now
from paperboy.pipeline import feed_day
from paperboy.services import arxiv_client, claude_judge, context
from paperboy.settings import Settings
from paperboy.store import serving_store
from workers import steps
from workers.jobs import QUEUE, guarded

log = logging.getLogger(__name__)


def look_early(attempt: int = 0, now: str | None = None) -> str:
    """Fetch today's feeds and, once fresh, ingest them and submit the day as a Message Batch;
    returns the batch id, or what happened instead."""
    settings = Settings()
    if not settings.llm_batch or settings.anthropic_api_key is None:
        return "LLM_BATCH is off or Claude is not configured"
    store = serving_store(settings)
    clock = datetime.fromisoformat(now) if now else utc_now()
    today = schedule.arxiv_today(clock)
    fetched = fetch_feeds(settings.feed_urls, arxiv_client(settings, store))
    if not fetched.feeds:
        log.warning("day %s: no feed could be read early; the scheduled run tries again", today)
        return "no feed"
    day = feed_day(fetched) or today
    if schedule.is_stale(day, clock):
        if not schedule.early_look_again(settings.schedule_cron, clock):
            log.info("day %s: the feed is still dated %s; the scheduled run takes over", today, day)
            return "stale"
        queue = Queue(QUEUE, connection=store.redis)
        queue.enqueue_in(
            timedelta(minutes=schedule.STALE_RETRY_MINUTES),
            look_early,
            attempt + 1,
            job_id=f"paperboy-early-{today}-{attempt + 1}",
            description=f"paperboy look early {today} (look {attempt + 1})",
            **steps.options(settings),
        )
        log.info("day %s: the feed is still dated %s; looking again for the batch", today, day)
        return "stale"
    ctx = context(settings, store)
    guarded(store, day, "fetch", lambda: pipeline.ingest(ctx, fetched, day), settings.lock_seconds)
    batch = load_batch(ctx, day)
    if not batch.papers:
        return "empty"
    judge = ctx.judge
    if not isinstance(judge, ClaudeJudge):
        return "Claude is not configured"
    local = ctx.local.score(batch.papers)
    submitted = guarded(
        store, day, "batch", lambda: judge.submit(day, batch.papers, local), settings.lock_seconds
    )
    return submitted or "nothing submitted"


def collect_batches(now: str | None = None) -> list[str]:
    """Collect every submitted batch that has ended and was not collected yet."""
    settings = Settings()
    store = serving_store(settings)
    judge = claude_judge(settings, store, context(settings, store).prior)
    if judge is None or judge.batches is None:
        return []
    done = []
    today = (datetime.fromisoformat(now) if now else utc_now()).date()
    for day in judge.batches.open_days():
        if day > today:
            continue
        judge.save(judge.batches.collect(day, wait=False))
        record = judge.batches.record(day)
        if record and record.get("collected"):
            done.append(day.isoformat())
    return done
