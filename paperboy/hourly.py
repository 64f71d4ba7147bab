"""The hourly mail: readers with an hour of their own, or a weekly digest, mailed when due.

Each run finds the readers whose email is due now (see `paperboy.rhythm`), ranks the day (or
the week) for them, in worker processes as the day's deliver step does, and hands them to the
email channel, which claims each reader and period before sending and marks it after: a run
that crashed, or a second clock, sends nothing twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, timedelta

from paperboy import rhythm
from paperboy.days import Context, Deliverer, load_batch, load_order
from paperboy.models import Delivery, Reader
from paperboy.readers import reader_digests
from paperboy.weeks import load_week

log = logging.getLogger(__name__)

READY_DAYS = 14
"""How many days back the hourly run looks for days whose digest exists."""


def ready_days(ctx: Context, now: datetime) -> list[date]:
    """The recent days whose group digest exists, oldest first."""
    oldest = now.date() - timedelta(days=READY_DAYS)
    ready = []
    for day in ctx.store.days():
        if day < oldest:
            continue
        record = ctx.store.day(day, "digest")
        if record is not None and record.digest is not None and record.digest.entries:
            ready.append(day)
    return ready


def due(ctx: Context, now: datetime) -> tuple[dict[date, list[Reader]], dict[date, list[Reader]]]:
    """The readers due now and not yet mailed: by day, and (weekly readers) by week's Monday."""
    readers = [r for r in ctx.store.readers() if r.email_enabled and r.email and rhythm.own_time(r)]
    daily: dict[date, list[Reader]] = defaultdict(list)
    weekly: dict[date, list[Reader]] = defaultdict(list)
    if not readers:
        return daily, weekly
    ready = ready_days(ctx, now)
    sent: dict[date | str, set[str]] = {}

    def mailed(period: date | str) -> set[str]:
        if period not in sent:
            sent[period] = set(ctx.store.emailed(period))
        return sent[period]

    for reader in readers:
        if reader.cadence == "weekly":
            first = rhythm.due_week(reader, ready, now)
            if first and reader.id not in mailed(rhythm.week_key(first)):
                weekly[first].append(reader)
        else:
            day = rhythm.due_day(reader, ready, now)
            if day and reader.id not in mailed(day):
                daily[day].append(reader)
    return daily, weekly


def mail_due(ctx: Context, email: Deliverer, now: datetime) -> list[str]:
    """Mail every reader whose email is due at `now`; what each batch came to."""
    daily, weekly = due(ctx, now)
    done = []
    for day, readers in sorted(daily.items()):
        batch, order = load_batch(ctx, day), load_order(ctx, day)
        record = ctx.store.day(day, "digest")
        assert record is not None and record.digest is not None  # ready_days checked it
        made = reader_digests(ctx, batch, order, readers)
        done.append(f"day {day}: " + email.deliver(Delivery(digest=record.digest, readers=made)))
    for first, readers in sorted(weekly.items()):
        days = [d for d in ready_days(ctx, now) if rhythm.monday(d) == first]
        batch, order, digest = load_week(ctx, days)
        made = reader_digests(ctx, batch, order, readers)
        done.append(
            f"week {rhythm.week_key(first)}: "
            + email.deliver(Delivery(digest=digest, readers=made))
        )
    for line in done:
        log.info("hourly mail at %s: %s", now.isoformat(timespec="minutes"), line)
    return done
