"""arXiv's calendar and the day's timing: stale feeds, missed days, catch-up (pure; takes `now`).

arXiv announces at 20:00 US Eastern, Sunday to Thursday, and rebuilds its RSS feeds around
midnight Eastern (04:00 or 05:00 UTC), Monday to Friday; weekend and holiday feeds are empty.
Its announcement days are named in its own time zone. The clock starts a day at SCHEDULE_CRON
(UTC); a feed still carrying the previous day's date is looked at again later.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

ARXIV_TZ = ZoneInfo("America/New_York")
"""The time zone that names arXiv's announcement days."""
STALE_RETRY_MINUTES = 30
"""How long to wait, in minutes, before looking again at a feed still dated the previous day."""
STALE_RETRIES = 12
"""How many times to look again (12 x 30 min after a 06:00 UTC start: until about noon UTC)."""


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


def may_look_again(attempt: int) -> bool:
    """Whether a stale feed is looked at again after this many looks."""
    return attempt < STALE_RETRIES


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
