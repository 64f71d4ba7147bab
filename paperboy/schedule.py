"""arXiv's calendar and the day's timing: stale feeds, missed days, catch-up (pure; takes `now`).

arXiv announces at 20:00 US Eastern, Sunday to Thursday, and rebuilds its RSS feeds around
midnight Eastern (04:00 or 05:00 UTC), Monday to Friday; weekend and holiday feeds are empty.
Its announcement days are named in its own time zone. The clock starts a day at SCHEDULE_CRON
(UTC); a feed still carrying the previous day's date is looked at again later.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, CroniterError, croniter

ARXIV_TZ = ZoneInfo("America/New_York")
"""The time zone that names arXiv's announcement days."""
STALE_RETRY_MINUTES = 30
"""How long to wait, in minutes, before looking again at a feed still dated the previous day."""
STALE_UNTIL = time(12, 0)
"""The time of day (UTC) of the last look at a stale feed: after it, the day has no digest, and
the channel is told so."""


CRON_FIELDS = "minute hour day-of-month month day-of-week"
_CRON_ANCHOR = datetime(2024, 1, 1)
"""Where `checked_cron` looks for the next run from (a leap year's start: 29 February is there)."""


def checked_cron(expression: str) -> str:
    """A cron expression as the clock reads it (five fields, UTC), or ValueError saying why not:
    one croniter refuses, one with another number of fields, or one that never runs (30 Feb)."""
    text = " ".join(expression.split())
    example = f"five fields, {CRON_FIELDS} (UTC), like '0 6 * * 1-5'"
    if len(text.split()) != 5:
        raise ValueError(f"{expression!r} is not a cron expression of {example}")
    try:
        croniter(text, _CRON_ANCHOR).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"{expression!r} names no date that exists: it would never run") from None
    except (CroniterError, ValueError) as exc:
        raise ValueError(f"{expression!r} is not a cron expression of {example}: {exc}") from None
    return text


def arxiv_today(now: datetime) -> date:
    """The date in arXiv's time zone, which names its announcement days."""
    return now.astimezone(ARXIV_TZ).date()


def is_weekday(day: date) -> bool:
    return day.weekday() < 5


def is_stale(feed_day: date, now: datetime) -> bool:
    """Whether a feed dated `feed_day` is still the previous announcement's: on a weekday,
    arXiv's rebuild of today's feed has not happened yet."""
    today = arxiv_today(now)
    return feed_day < today and is_weekday(today)


def may_look_again(now: datetime) -> bool:
    """Whether a feed found stale at `now` is looked at again, STALE_RETRY_MINUTES later: yes
    until that would pass STALE_UNTIL (noon UTC), whoever started the looks and when."""
    now = now.astimezone(UTC)
    last = datetime.combine(now.date(), STALE_UNTIL, tzinfo=UTC)
    return now + timedelta(minutes=STALE_RETRY_MINUTES) <= last


def says_status(day: date) -> bool:
    """Whether a day without a digest gets a status line in the channel: on weekdays only
    (weekend feeds are empty every week; a weekday's is empty only on a holiday)."""
    return is_weekday(day)


def missed_days(last: date | None, day: date) -> list[date]:
    """The weekdays strictly between the last day that ran and `day`: runs the clock missed."""
    if last is None:
        return []
    between = (last + timedelta(days=n) for n in range(1, (day - last).days))
    return [d for d in between if is_weekday(d)]


def last_scheduled(schedule_cron: str, now: datetime) -> datetime:
    """The latest time at or before `now` that SCHEDULE_CRON names."""
    return croniter(schedule_cron, now).get_prev(datetime)


def catch_up_due(schedule_cron: str, now: datetime, last_day: date | None) -> bool:
    """Whether today's scheduled run should have happened already and no day has run today."""
    today = arxiv_today(now)
    ran_today = last_day is not None and last_day >= today
    return arxiv_today(last_scheduled(schedule_cron, now)) == today and not ran_today


def next_scheduled(schedule_cron: str, now: datetime) -> datetime:
    """The first time after `now` that SCHEDULE_CRON names."""
    return croniter(schedule_cron, now).get_next(datetime)


def early_look_again(schedule_cron: str, now: datetime) -> bool:
    """Whether a stale feed seen early (before SCHEDULE_CRON, to submit a batch) is worth
    another look in STALE_RETRY_MINUTES: only if that look still comes before the scheduled run,
    which takes the day over from there."""
    later = now + timedelta(minutes=STALE_RETRY_MINUTES)
    return later < next_scheduled(schedule_cron, now)
