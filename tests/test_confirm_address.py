"""An address set from Home gets a confirmation email with a signed link before any digest goes
to it; until its owner follows the link, digests go on to the address confirmed before (if
any). `paperboy subscribe`, an admin's command, sets an address at once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme
from rq import Worker

from paperboy import blocks, mailer
from paperboy.models import Paper, Reader
from paperboy.settings import Settings
from paperboy.store import Store
from tests.slackweb import Web, home_text, running_web, settings_action
from tests.standins.slack_api import interaction
from tests.standins.smtp import PASSWORD, USER, SmtpServer, smtp_server
from tests.standins.web import HTTP

DAY = date(2025, 6, 3)
CONFIRM_LINK = re.compile(r"https?://\S+?/confirm/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")


@pytest.fixture
def smtp(
    unconfigured: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[SmtpServer]:
    """The SMTP stand-in, configured for the web process and the interactive jobs."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with smtp_server(ca) as server:
        for name, value in {
            "SMTP_HOST": server.host,
            "SMTP_PORT": str(server.port),
            "SMTP_USER": USER,
            "SMTP_PASSWORD": PASSWORD,
            "EMAIL_FROM": "Paperboy <paperboy@lab.example.org>",
            "PUBLIC_URL": "https://paperboy.lab.example.org",
            "SSL_CERT_FILE": str(bundle),
        }.items():
            monkeypatch.setenv(name, value)
        yield server


@pytest.fixture
def mail_web(
    store: Store,
    papers: list[Paper],
    unconfigured: Path,
    interactive: Worker,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Web]:
    yield from running_web(store, papers, monkeypatch)


def set_address(web: Web, user: str, address: str) -> None:
    action = settings_action(
        blocks.HOME_EMAIL, user, "view", type="plain_text_input", value=address
    )
    assert web.post(interaction(action)).status_code == 200


def turn_on(web: Web, user: str) -> None:
    toggle = settings_action(blocks.HOME_EMAIL_TOGGLE, user, "view", type="button", value="on")
    assert web.post(interaction(toggle)).status_code == 200


def token_in(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = CONFIRM_LINK.search(body.get_content())
    assert found, "the confirmation email holds a confirmation link"
    return found.group(1)


def waiting_for_a_digest(store: Store) -> list[str]:
    """Who the day's email channel would mail."""
    email = mailer.from_settings(Settings(), store)
    assert email is not None
    return [r.id for r in email.readers(DAY)]


def test_an_address_set_on_home_gets_a_confirmation_before_any_digest(
    mail_web: Web, smtp: SmtpServer
) -> None:
    set_address(mail_web, "U5", "u5@example.org")
    turn_on(mail_web, "U5")
    mail_web.work()  # the interactive worker sends the confirmation
    (confirmation,) = smtp.to("u5@example.org")
    assert "confirm" in str(confirmation["Subject"]).lower()
    reader = mail_web.store.reader("U5")
    assert reader is not None and reader.email is None and reader.email_enabled
    assert "U5" not in waiting_for_a_digest(mail_web.store)  # no digest before confirming
    mail_web.work(wait=False)
    assert "u5@example.org" in home_text(mail_web, "U5")
    assert "confirm" in home_text(mail_web, "U5")

    url = f"{mail_web.url}/confirm/{token_in(confirmation)}"
    page = HTTP.get(url)  # what a mail scanner does: it changes nothing
    assert page.status_code == 200 and "u5@example.org" in page.text
    assert mail_web.store.reader("U5").email is None  # type: ignore[union-attr]
    done = HTTP.post(url)
    assert done.status_code == 200 and "u5@example.org" in done.text
    reader = mail_web.store.reader("U5")
    assert reader is not None and reader.email == "u5@example.org"
    assert "U5" in waiting_for_a_digest(mail_web.store)
    assert HTTP.post(url).status_code == 200  # a second press: still confirmed, nothing new
    assert len(smtp.to("u5@example.org")) == 1


def test_a_new_address_waits_for_its_link_and_the_old_one_keeps_the_digest(
    mail_web: Web, smtp: SmtpServer
) -> None:
    mail_web.store.save_reader(Reader(id="U6", email="old@example.org", email_enabled=True))
    set_address(mail_web, "U6", "first@example.org")
    mail_web.work()
    set_address(mail_web, "U6", "second@example.org")  # changed their mind
    mail_web.work()
    (first,) = smtp.to("first@example.org")
    (second,) = smtp.to("second@example.org")
    reader = mail_web.store.reader("U6")
    assert reader is not None and reader.email == "old@example.org"
    assert "U6" in waiting_for_a_digest(mail_web.store)  # to the old address, until confirmed

    stale = HTTP.post(f"{mail_web.url}/confirm/{token_in(first)}")
    assert stale.status_code == 409  # a link for an address since replaced does nothing
    assert mail_web.store.reader("U6").email == "old@example.org"  # type: ignore[union-attr]
    token = token_in(second)
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert HTTP.post(f"{mail_web.url}/confirm/{altered}").status_code == 403
    assert HTTP.post(f"{mail_web.url}/confirm/{token}").status_code == 200
    assert mail_web.store.reader("U6").email == "second@example.org"  # type: ignore[union-attr]
    assert smtp.to("old@example.org") == []  # confirming is not a digest


def test_confirmation_emails_to_one_reader_are_limited_each_day(
    mail_web: Web, smtp: SmtpServer
) -> None:
    for n in range(8):
        set_address(mail_web, "U7", f"u7-{n}@example.org")
    mail_web.work()
    mail_web.work(wait=False)
    # Five asked for in a day, the rest refused: a member cannot flood an address. Only the
    # last address kept gets its link; those it replaced before their job ran get nothing.
    (sent,) = smtp.messages()
    assert sent["To"] == "u7-4@example.org"
    assert mail_web.store.reader("U7").pending_email == "u7-4@example.org"  # type: ignore[union-attr]
    assert "tomorrow" in home_text(mail_web, "U7")


def test_home_says_so_when_this_paperboy_cannot_send_email(web: Web) -> None:
    set_address(web, "U8", "u8@example.org")  # no SMTP_HOST: no confirmation can go out
    web.work()
    assert "email is not set up" in home_text(web, "U8")
    assert web.store.reader("U8") is None or web.store.reader("U8").email is None  # type: ignore[union-attr]
