"""When a reader's email goes: with the group's digest, or at their own hour, daily or weekly.

A reader who chose neither an hour nor the weekly digest is mailed by the day's deliver step,
as soon as the group's digest is made. The others are mailed by the hourly job. A day's email
is due at the first time their clock shows their hour after the day began in arXiv's time zone
(midnight US Eastern, when its feeds are rebuilt), and goes at the first hourly run at or after
that once the day's digest exists: a reader in Tokyo who asked for 08:00 gets Tuesday's papers
at 08:00 on Wednesday, a reader in London who asked for 08:00 gets them on Tuesday morning. A
weekly email covers one week (Monday to Sunday, by arXiv's dates) and is due at their hour once
the week's Friday began, and goes once Friday's digest exists (or the Friday has ended without
one, a holiday). A run sends each reader at most their latest email due within the last
`LOOKBACK`, so a new reader, or a clock that was down, never gets a pile of old ones. Pure.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from paperboy.models import Digest, Reader
from paperboy.schedule import ARXIV_TZ

LOOKBACK = timedelta(hours=48)
"""How long after it was due an email is still sent (a clock down for longer skips it)."""
FRIDAY = 4


def zone_named(name: str) -> ZoneInfo:
    """The time zone of an IANA name; ValueError saying what is expected when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name like Europe/Paris or Asia/Tokyo"
        ) from None


def zone(reader: Reader) -> tzinfo:
    """The reader's time zone: theirs, else Slack's, else UTC (an unknown name counts as none)."""
    for name in (reader.tz, reader.slack_tz):
        if name:
            try:
                return zone_named(name)
            except ValueError:
                continue
    return UTC


def own_time(reader: Reader) -> bool:
    """Whether the hourly job mails this reader (an hour of their own, or weekly), not the day's
    deliver step."""
    return reader.cadence == "weekly" or reader.hour is not None


def day_start(day: date) -> datetime:
    """When an announcement day begins: midnight in arXiv's time zone."""
    return datetime.combine(day, time(0), ARXIV_TZ)


def at_hour(after: datetime, hour: int | None, where: tzinfo) -> datetime:
    """The first time at or after `after` when the clock in `where` shows `hour`:00 (`after`
    itself when no hour is chosen)."""
    if hour is None:
        return after
    local = after.astimezone(where)
    day = local.date()
    while True:
        candidate = datetime.combine(day, time(hour), where)
        if candidate >= local:
            return candidate
        day += timedelta(days=1)


def due_at(reader: Reader, day: date) -> datetime:
    """When the reader's email of an announcement day is due."""
    return at_hour(day_start(day), reader.hour, zone(reader))


def monday(day: date) -> date:
    """The Monday of the day's week."""
    return day - timedelta(days=day.weekday())


def week_key(first: date) -> str:
    """The week's name as a period of mail, e.g. 2025-W23."""
    year, week, _ = first.isocalendar()
    return f"{year}-W{week:02d}"


def week_due_at(reader: Reader, first: date) -> datetime:
    """When the reader's weekly email of the week beginning `first` is due."""
    return at_hour(day_start(first + timedelta(days=FRIDAY)), reader.hour, zone(reader))


def period(digest: Digest) -> date | str:
    """What a message is sent once for: its day, or its week."""
    return week_key(digest.since) if digest.since is not None else digest.day


def due_day(reader: Reader, ready: list[date], now: datetime) -> date | None:
    """The latest day whose digest exists (`ready`) and whose email is due at `now`."""
    due = [d for d in ready if now - LOOKBACK < due_at(reader, d) <= now]
    return max(due, default=None)


def due_week(reader: Reader, ready: list[date], now: datetime) -> date | None:
    """The Monday of the latest week whose email is due at `now`: its Friday's digest exists,
    or its Friday has ended."""
    weeks = sorted({monday(d) for d in ready}, reverse=True)
    for first in weeks:
        friday = first + timedelta(days=FRIDAY)
        done = friday in ready or now >= day_start(friday + timedelta(days=1))
        if done and now - LOOKBACK < week_due_at(reader, first) <= now:
            return first
    return None
