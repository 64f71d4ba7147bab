"""Each reader's rhythm: daily or weekly, at their own hour in their own time zone, sent once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from pydantic import SecretStr

from paperboy import days, hourly, mailer, rhythm
from paperboy.cli import main
from paperboy.local import LocalScorer
from paperboy.models import Prior, Reader
from paperboy.smtp import Smtp
from paperboy.store import Store
from tests.conftest import TEST_REDIS_URL
from tests.emailing import SECRET, day_papers, digest, group_order
from tests.standins.smtp import PASSWORD, USER, SmtpServer, smtp_server
from workers.mailing import mail_hour

TUESDAY = date(2025, 6, 3)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tz", "hour", "due"),
    [
        ("Asia/Tokyo", 8, utc(2025, 6, 3, 23)),  # 08:00 Wednesday in Tokyo
        ("Europe/London", 8, utc(2025, 6, 3, 7)),  # 08:00 Tuesday in London (BST)
        ("America/Los_Angeles", 7, utc(2025, 6, 3, 14)),
        ("Asia/Kolkata", 9, utc(2025, 6, 4, 3, 30)),  # a half-hour zone
        (None, 6, utc(2025, 6, 3, 6)),  # no zone known: UTC
        ("Asia/Tokyo", None, utc(2025, 6, 3, 4)),  # no hour: as soon as the day began
    ],
)
def test_a_days_email_is_due_at_their_hour_after_the_day_began(
    tz: str | None, hour: int | None, due: datetime
) -> None:
    reader = Reader(id="U1", tz=tz, hour=hour)
    assert rhythm.due_at(reader, TUESDAY) == due


def test_their_own_zone_wins_over_slacks_and_a_bad_name_counts_as_none() -> None:
    assert (
        str(rhythm.zone(Reader(id="U", tz="Asia/Tokyo", slack_tz="Europe/Paris"))) == "Asia/Tokyo"
    )
    assert str(rhythm.zone(Reader(id="U", slack_tz="Europe/Paris"))) == "Europe/Paris"
    assert rhythm.zone(Reader(id="U", tz="Mars/Olympus")) == UTC
    with pytest.raises(ValueError, match="IANA name like Europe/Paris"):
        rhythm.zone_named("Mars/Olympus")


# the hourly mail, against a real Redis and SMTP server ------------------------------------


def store_days(store: Store, when: list[date], per_day: int = 20) -> days.Context:
    """Days with distinct papers, scored, and their group digest made (as the deliver step
    leaves them)."""
    all_papers = list(day_papers())
    for n, day in enumerate(when):
        papers = [
            p.model_copy(update={"day": day}) for p in all_papers[n * per_day : (n + 1) * per_day]
        ]
        order = group_order(papers)
        store.save_papers(papers)
        store.update_day(day, papers=[p.id for p in papers], feeds=["test"], missing=[])
        store.update_day(
            day, order=order, digest=digest(papers, size=10).model_copy(update={"day": day})
        )
    return days.Context(store=store, prior=Prior(), local=LocalScorer(Prior()), digest_size=5)


def channel(server: SmtpServer, store: Store) -> mailer.EmailDeliverer:
    return mailer.EmailDeliverer(
        lambda: Smtp(
            server.host,
            server.port,
            user=USER,
            password=SecretStr(PASSWORD),
            ssl_context=server.client_context,
        ),
        store,
        "Paperboy <paperboy@lab.example.org>",
        "https://paperboy.example.org",
        SecretStr(SECRET),
    )


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with smtp_server() as running:
        yield running


def test_a_weekly_reader_gets_their_own_best_of_the_week_once(
    store: Store, server: SmtpServer
) -> None:
    week = [date(2025, 6, 2) + timedelta(days=n) for n in range(5)]  # Monday to Friday
    ctx = store_days(store, week)
    store.save_reader(
        Reader(
            id="UWEEK",
            email="week@example.org",
            email_enabled=True,
            cadence="weekly",
            hour=9,
            tz="Europe/Paris",
            digest_size=8,
        )
    )
    email = channel(server, store)
    assert email.readers(week[0]) == []  # the day's deliver step leaves them out
    # Every hour through the week and into the next: one message, Friday at 09:00 in Paris.
    sent_at = []
    for hours in range(24 * 9):
        now = utc(2025, 6, 2) + timedelta(hours=hours)
        if hourly.mail_due(ctx, email, now):
            sent_at.append(now)
    assert len(server.received) == 1
    assert sent_at == [utc(2025, 6, 6, 7)]  # the first run at or after Fri 09:00 CEST
    msg = server.received[0].message
    assert msg["Subject"] == "Your week: 8 papers, 2 Jun to 6 Jun"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    ids = [line.split("/abs/")[1] for line in text.splitlines() if "arxiv.org/abs/" in line]
    days_of = {p.id: p.day for p in store.papers(ids).values()}
    assert len(ids) == 8 and len(set(days_of.values())) > 1  # the week's best, several days
    assert "weekly digest" in " ".join(text.split())
    assert list(store.emailed("2025-W23")) == ["UWEEK"]
    assert sorted(set(days_of.values())) == [d for d in week if store.shown("UWEEK", d)]


def test_a_reader_in_tokyo_is_mailed_at_their_hour_by_the_hourly_job(
    store: Store,
    unconfigured: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    store_days(store, [TUESDAY])
    tokyo = Reader(
        id="UTOKYO", email="tokyo@example.org", email_enabled=True, hour=8, slack_tz="Asia/Tokyo"
    )
    group = Reader(id="UGROUP", email="group@example.org", email_enabled=True)
    store.save_reader(tokyo)
    store.save_reader(group)
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with smtp_server(ca) as server:
        for name, value in {
            "REDIS_URL": TEST_REDIS_URL,
            "SMTP_HOST": server.host,
            "SMTP_PORT": str(server.port),
            "SMTP_USER": USER,
            "SMTP_PASSWORD": PASSWORD,
            "EMAIL_FROM": "p@lab.example.org",
            "LINK_SECRET": "s",
            "SSL_CERT_FILE": str(bundle),
        }.items():
            monkeypatch.setenv(name, value)
        assert mail_hour("2025-06-03T07:00:00+00:00") == []  # 16:00 in Tokyo: their day is done
        assert mail_hour("2025-06-03T22:00:00+00:00") == []  # 07:00 Wednesday in Tokyo
        assert server.received == []
        done = mail_hour("2025-06-03T23:00:00+00:00")  # 08:00 Wednesday in Tokyo
        assert done == ["day 2025-06-03: emailed 1 of 1 readers"]
        assert mail_hour("2025-06-03T23:00:00+00:00") == []  # the same hour again: guarded
        assert mail_hour("2025-06-04T00:00:00+00:00") == []
        assert mail_hour("2025-06-04T23:00:00+00:00") == []  # no new day: nothing more
    assert [item.rcpt_tos for item in server.received] == [["tokyo@example.org"]]
    assert list(store.emailed(TUESDAY)) == ["UTOKYO"]  # the group's reader waits for the day's step


def test_subscribe_sets_the_rhythm_hour_and_time_zone(
    unconfigured: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["subscribe", "--user", "UT", "--email", "t@example.org", "--weekly", "--hour", "8"]
    assert main([*argv, "--tz", "Asia/Tokyo"]) == 0
    assert "weekly digest at t@example.org, at 08:00 Asia/Tokyo" in capsys.readouterr().out
    reader = store.reader("UT")
    assert reader and (reader.cadence, reader.hour, reader.tz) == ("weekly", 8, "Asia/Tokyo")
    assert main(["profile", "--user", "UT", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["cadence"], shown["hour"], shown["tz"]) == ("weekly", 8, "Asia/Tokyo")
    assert main(["subscribe", "--user", "UT", "--daily", "--hour", "group"]) == 0
    reader = store.reader("UT")
    assert reader and (reader.cadence, reader.hour, reader.email) == (
        "daily",
        None,
        "t@example.org",
    )
    assert main(["subscribe", "--user", "UT", "--tz", "Mars/Olympus"]) == 1
    assert "IANA name like Europe/Paris" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["subscribe", "--user", "UT", "--hour", "24"])
    assert main(["subscribe", "--user", "UNEW", "--weekly"]) == 1
    assert "add --email" in capsys.readouterr().err
