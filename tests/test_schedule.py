"""arXiv's calendar and the day's timing (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from paperboy import schedule


@pytest.mark.parametrize(
    "now, today",
    [
        ("2025-06-04T03:59:00+00:00", date(2025, 6, 3)),  # 23:59 in New York, summer time
        ("2025-06-04T04:00:00+00:00", date(2025, 6, 4)),
        ("2025-01-15T04:30:00+00:00", date(2025, 1, 14)),  # winter: five hours behind
        ("2025-01-15T05:00:00+00:00", date(2025, 1, 15)),
    ],
)
def test_arxiv_names_its_days_in_new_york(now: str, today: date) -> None:
    assert schedule.arxiv_today(datetime.fromisoformat(now)) == today


def test_a_feed_dated_the_day_before_is_stale_on_weekdays_only() -> None:
    wednesday = datetime(2025, 6, 4, 6, 0, tzinfo=UTC)
    assert schedule.is_stale(date(2025, 6, 3), wednesday)
    assert not schedule.is_stale(date(2025, 6, 4), wednesday)
    saturday = datetime(2025, 6, 7, 6, 0, tzinfo=UTC)
    assert not schedule.is_stale(date(2025, 6, 6), saturday)  # no rebuild to wait for
    assert schedule.may_look_again(datetime(2025, 6, 5, 6, 0, tzinfo=UTC))
    assert schedule.may_look_again(datetime(2025, 6, 5, 11, 30, tzinfo=UTC))  # one more, at noon
    assert not schedule.may_look_again(datetime(2025, 6, 5, 12, 0, tzinfo=UTC))  # the last look
    assert not schedule.may_look_again(datetime(2025, 6, 5, 15, 0, tzinfo=UTC))


def test_missed_days_are_the_weekdays_in_between() -> None:
    friday, tuesday = date(2025, 5, 30), date(2025, 6, 3)
    assert schedule.missed_days(friday, tuesday) == [date(2025, 6, 2)]  # not the weekend
    assert schedule.missed_days(date(2025, 6, 2), tuesday) == []
    assert schedule.missed_days(None, tuesday) == []


def test_a_catch_up_is_due_after_the_scheduled_time_until_a_day_ran() -> None:
    cron = "0 6 * * 1-5"
    before = datetime(2025, 6, 4, 5, 0, tzinfo=UTC)
    after = datetime(2025, 6, 4, 9, 0, tzinfo=UTC)
    assert not schedule.catch_up_due(cron, before, date(2025, 6, 3))
    assert schedule.catch_up_due(cron, after, date(2025, 6, 3))
    assert schedule.catch_up_due(cron, after, None)
    assert not schedule.catch_up_due(cron, after, date(2025, 6, 4))
    saturday = datetime(2025, 6, 7, 9, 0, tzinfo=UTC)
    assert not schedule.catch_up_due(cron, saturday, date(2025, 6, 6))


def test_an_early_look_for_a_batch_stops_where_the_scheduled_run_begins() -> None:
    cron = "0 6 * * 1-5"
    assert schedule.early_look_again(cron, datetime(2025, 6, 4, 5, 0, tzinfo=UTC))
    assert not schedule.early_look_again(cron, datetime(2025, 6, 4, 5, 30, tzinfo=UTC))
    assert not schedule.early_look_again(cron, datetime(2025, 6, 4, 5, 45, tzinfo=UTC))
