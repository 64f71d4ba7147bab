"""The email's links against the running web app: a GET never votes, a POST does; unsubscribe."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import unescape
from urllib.parse import urljoin

import pytest
from pydantic import SecretStr

from paperboy import days, mailer, pipeline, tokens
from paperboy.models import Reader
from paperboy.readers import profile
from paperboy.smtp import Smtp
from paperboy.store import Store
from tests.emailing import (
    DAY,
    NOW,
    SECRET,
    day_papers,
    digest,
    group_order,
    settings,
    store_day,
    web_app,
)
from tests.standins.smtp import PASSWORD, USER, SmtpServer, smtp_server

ADA = Reader(id="UADA", email="ada@example.org", email_enabled=True)


@dataclass
class Reply:
    status: int
    body: str
    headers: dict[str, str]


def fetch(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> Reply:
    """GET, or POST `data`, with no cookies, no redirects followed, nothing cached."""
    request = urllib.request.Request(
        url, data=data, headers=headers or {}, method="POST" if data is not None else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return Reply(answer.status, answer.read().decode(), dict(answer.headers))
    except urllib.error.HTTPError as answer:
        return Reply(answer.code, answer.read().decode(), dict(answer.headers))


def form_action(page: Reply, base: str) -> str:
    forms = re.findall(r'<form method="post" action="([^"]+)"', page.body)
    assert len(forms) == 1, page.body
    return urljoin(base, unescape(forms[0]))


@dataclass
class Mail:
    server: SmtpServer
    app: str
    store: Store
    email: mailer.EmailDeliverer
    ctx: days.Context


@pytest.fixture
def mail(store: Store) -> Iterator[Mail]:
    """A stored day, the web app, and Ada's digest of it delivered through SMTP."""
    papers = list(day_papers())
    ctx = store_day(store, papers, group_order(papers))
    store.save_reader(ADA)
    clock = lambda: NOW + timedelta(hours=2)  # noqa: E731 - the links were made at NOW
    with smtp_server() as server, web_app(store, settings(), clock) as app:
        email = mailer.EmailDeliverer(
            lambda: Smtp(
                server.host,
                server.port,
                user=USER,
                password=SecretStr(PASSWORD),
                ssl_context=server.client_context,
            ),
            store,
            "paperboy@lab.example.org",
            app,
            SecretStr(SECRET),
            14,
            now=lambda: NOW,
        )
        ctx.deliverers = [email]
        batch, order = days.load_batch(ctx, DAY), days.load_order(ctx, DAY)
        assert pipeline.deliver(ctx, digest(), batch, order).failed == {}
        yield Mail(server, app, store, email, ctx)


def vote_links(mail: Mail) -> list[tuple[str, str]]:
    """(paper id, 👍 URL) for every paper of Ada's email, from its HTML part as received."""
    html = mail.server.to("ada@example.org")[0].get_body(("html",)).get_content()  # type: ignore[union-attr]
    ups = re.findall(r'href="([^"]+/feedback/[^"]+)"[^>]*>👍', html)
    ids = re.findall(r'href="https://arxiv.org/abs/([^"]+)"', html)
    assert len(ups) == len(ids) == 12
    return list(zip(ids, [unescape(u) for u in ups], strict=True))


def test_a_get_never_votes_and_its_one_button_does(mail: Mail) -> None:
    paper, up = vote_links(mail)[0]
    assert up.startswith(mail.app + "/feedback/")

    for _ in range(2):  # a scanner, then the reader
        page = fetch(up)
        assert page.status == 200
        assert "No vote yet on this paper" in page.body
        assert mail.store.votes("UADA") == []
    title = mail.store.papers([paper])[paper].title
    assert unescape(re.sub(r"<[^>]+>", "", page.body)).count(title) == 1
    assert "👍 Yes, more like this" in page.body
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"

    done = fetch(form_action(page, up), data=b"")
    assert done.status == 200
    assert "👍 Noted: more like this" in done.body
    assert mail.store.current_vote("UADA", paper) == 1
    (vote,) = mail.store.votes("UADA")
    assert (vote.paper, vote.value, vote.source) == (paper, 1, "email")

    # The profile shows it, from email, as `paperboy profile --user U --json` prints it.
    record = profile(mail.store, "UADA", None).model_dump(mode="json")
    assert record["votes"] == [
        {"paper": paper, "value": 1, "at": vote.at.isoformat(), "source": "email"}
    ]

    # The vote is now current; the page offers to switch or withdraw, with fresh signed links.
    again = fetch(up)
    assert "Your vote on this paper: 👍" in again.body
    assert "👎 Less like this" in again.body and "Withdraw my vote" in again.body


def test_posting_twice_records_one_event_and_the_page_can_switch_the_vote(mail: Mail) -> None:
    paper, up = vote_links(mail)[1]
    action = form_action(fetch(up), up)
    fetch(action, data=b"")
    page = fetch(action, data=b"")  # a reload of the result page
    assert len(mail.store.votes("UADA")) == 1
    switch = re.search(r'action="([^"]+)"><button type="submit">👎 Less like this', page.body)
    assert switch
    fetch(urljoin(up, unescape(switch.group(1))), data=b"")
    assert mail.store.current_vote("UADA", paper) == -1
    assert mail.store.tally(paper) == (0, 1)
    assert [v.source for v in mail.store.votes("UADA")] == ["email", "email"]


def test_the_save_link_confirms_on_a_page_then_saves_and_the_page_can_remove(mail: Mail) -> None:
    message = mail.server.to("ada@example.org")[0]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    saves = [unescape(u) for u in re.findall(r'href="([^"]+/save/[^"]+)"[^>]*>📌', html)]
    assert len(saves) == 12 and text.count("📌 Save for later: " + mail.app + "/save/") == 12
    paper = re.findall(r'href="https://arxiv.org/abs/([^"]+)"', html)[2]
    link = saves[2]
    for _ in range(2):  # a scanner, then the reader: a GET saves nothing
        page = fetch(link)
        assert page.status == 200 and "Save this paper for later?" in page.body
    assert mail.store.saved("UADA") == []
    done = fetch(form_action(page, link), data=b"")
    assert done.status == 200 and "📌 Saved to your reading list" in done.body
    assert [s.paper for s in mail.store.saved("UADA")] == [paper]
    fetch(form_action(page, link), data=b"")  # posted again: nothing changes
    assert [s.paper for s in mail.store.saved("UADA")] == [paper]
    assert "This paper is on your reading list" in fetch(link).body
    remove = re.search(r'action="([^"]+)"><button type="submit">Remove it', done.body)
    assert remove
    gone = fetch(urljoin(link, unescape(remove.group(1))), data=b"")
    assert "Removed from your reading list" in gone.body and mail.store.saved("UADA") == []
    # A vote link is no save link, nor the other way round.
    _, up = vote_links(mail)[0]
    assert fetch(mail.app + "/save/" + up.rsplit("/", 1)[1], data=b"").status == 403
    assert fetch(mail.app + "/feedback/" + link.rsplit("/", 1)[1], data=b"").status == 403
    assert mail.store.votes("UADA") == [] and mail.store.saved("UADA") == []


def test_the_down_link_votes_down(mail: Mail) -> None:
    html = mail.server.to("ada@example.org")[0].get_body(("html",)).get_content()  # type: ignore[union-attr]
    down = unescape(re.findall(r'href="([^"]+/feedback/[^"]+)"[^>]*>👎', html)[0])
    fetch(form_action(fetch(down), down), data=b"")
    assert [v.value for v in mail.store.votes("UADA")] == [-1]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_altered_link_is_refused_and_changes_nothing(mail: Mail, method: str) -> None:
    _, up = vote_links(mail)[0]
    token = up.rsplit("/", 1)[1]
    for position in (3, len(token) // 2, len(token) - 1):
        char = "A" if token[position] != "A" else "B"
        altered = up[: len(up) - len(token)] + token[:position] + char + token[position + 1 :]
        page = fetch(altered, data=b"" if method == "POST" else None)
        assert page.status == 403
        assert "This link does not work" in page.body and "Nothing was changed" in page.body
    assert mail.store.votes("UADA") == []


def test_an_expired_link_is_refused_and_changes_nothing(mail: Mail) -> None:
    old = tokens.vote_token(
        SECRET.encode(), "UADA", day_papers()[0].id, 1, NOW - timedelta(days=15), 14
    )
    for data in (None, b""):
        page = fetch(f"{mail.app}/feedback/{old}", data=data)
        assert page.status == 410
        assert "This link has expired" in page.body
    assert mail.store.votes("UADA") == []


def test_a_link_for_a_forgotten_reader_changes_nothing(mail: Mail) -> None:
    _, up = vote_links(mail)[0]
    mail.store.forget("UADA")
    assert fetch(up, data=b"").status == 404
    assert mail.store.votes("UADA") == [] and mail.store.reader("UADA") is None


def test_without_a_link_secret_the_pages_say_so(store: Store) -> None:
    with web_app(store, settings(link_secret=None)) as app:
        page = fetch(f"{app}/feedback/abc.def")
    assert page.status == 503 and "LINK_SECRET" in page.body


def unsubscribe_url(mail: Mail) -> str:
    header = mail.server.to("ada@example.org")[0]["List-Unsubscribe"]
    return str(header).strip("<>")


def test_one_click_unsubscribe_without_cookies(mail: Mail) -> None:
    url = unsubscribe_url(mail)
    assert url.startswith(mail.app + "/unsubscribe/")
    page = fetch(url)  # a scanner or a preview: only asks
    assert page.status == 200 and "Stop the daily email?" in page.body
    assert mail.store.reader("UADA").email_enabled  # type: ignore[union-attr]

    # RFC 8058: what a mail client POSTs, with no cookie and no session.
    done = fetch(
        url,
        data=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status == 200 and "You are unsubscribed" in done.body
    reader = mail.store.reader("UADA")
    assert reader is not None and not reader.email_enabled and reader.email == "ada@example.org"
    assert "You are unsubscribed" in fetch(url).body


def test_an_unsubscribe_link_works_however_old_it_is(mail: Mail) -> None:
    # An email sent 15 days ago: its vote links have expired, its unsubscribe link has not,
    # in the short format and in the one sent before it (which carried an expiry).
    url = unsubscribe_url(mail)
    with web_app(mail.store, settings(), lambda: NOW + timedelta(days=15)) as later:
        old = tokens.verify(SECRET.encode(), url.rsplit("/", 1)[1], NOW, "unsubscribe")
        assert old.expires is None
        _, up = vote_links(mail)[0]
        assert fetch(later + up[len(mail.app) :]).status == 410
        legacy = legacy_unsubscribe("UADA", NOW + timedelta(days=14))
        page = fetch(f"{later}/unsubscribe/{legacy}")
        assert page.status == 200 and "Stop the daily email?" in page.body
        done = fetch(later + url[len(mail.app) :], data=b"List-Unsubscribe=One-Click")
    assert done.status == 200 and "You are unsubscribed" in done.body
    assert not mail.store.reader("UADA").email_enabled  # type: ignore[union-attr]


def legacy_unsubscribe(reader: str, expires: datetime) -> str:
    """An unsubscribe token as emails sent before the short format carry it."""
    body = json.dumps({"a": "u", "r": reader, "e": int(expires.timestamp())}, separators=(",", ":"))
    payload = base64.urlsafe_b64encode(body.encode()).rstrip(b"=").decode()
    mac = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_unsubscribed_readers_get_no_more_mail(mail: Mail) -> None:
    fetch(unsubscribe_url(mail), data=b"List-Unsubscribe=One-Click")
    assert mail.email.readers(DAY + timedelta(days=1)) == []  # tomorrow: nobody to mail
    assert len(mail.server.received) == 1


def test_a_vote_link_cannot_unsubscribe(mail: Mail) -> None:
    _, up = vote_links(mail)[0]
    token = up.rsplit("/", 1)[1]
    page = fetch(f"{mail.app}/unsubscribe/{token}", data=b"List-Unsubscribe=One-Click")
    assert page.status == 403
    assert mail.store.reader("UADA").email_enabled  # type: ignore[union-attr]
