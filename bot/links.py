"""The web pages behind the links in emails: confirm a vote, save a paper for later,
unsubscribe, confirm an address.

Mail security scanners fetch every link in a message before its reader does, so a GET never
changes anything: it shows a page whose one button POSTs. The unsubscribe URL also takes
RFC 8058's one-click POST, which mail clients send without cookies. The token in the URL is
the only credential; a forged, altered or expired one gets a 4xx page and changes nothing.
The app factory sets `PAPERBOY_SETTINGS` and `PAPERBOY_STORE` in the Flask config and, when
Slack is configured, `extensions["paperboy_email_vote"]`: called with the paper after a vote, it
refreshes the tallies on the paper's Slack replies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, url_for

from paperboy import tokens
from paperboy.models import utc_now
from paperboy.render import templates
from paperboy.settings import Settings
from paperboy.store import Store

log = logging.getLogger(__name__)

links = Blueprint("links", __name__)

_LABELS = {1: "👍 More like this", -1: "👎 Less like this", 0: "Withdraw my vote"}
_HEADERS = {
    # The token is in the URL: keep it out of Referer headers, caches and search engines.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
}


def _page(template: str, status: int = 200, **values: Any) -> Response:
    html = templates().get_template(template).render(**values)
    return Response(html, status=status, mimetype="text/html", headers=_HEADERS)


def _error(status: int, heading: str, message: str, hint: str | None = None) -> Response:
    return _page("link_error.html", status, heading=heading, message=message, hint=hint)


def _settings() -> Settings:
    return current_app.config["PAPERBOY_SETTINGS"]


def _store() -> Store:
    return current_app.config["PAPERBOY_STORE"]


def _now() -> datetime:
    clock: Callable[[], datetime] = current_app.config.get("PAPERBOY_CLOCK", utc_now)
    return clock()


def _secret() -> bytes | None:
    secret = _settings().link_secret
    return secret.get_secret_value().encode() if secret else None


def _verify(token: str, purpose: tokens.Purpose) -> tokens.Link | Response:
    """The token's link, or the error page to answer with."""
    secret = _secret()
    if not secret:
        return _error(
            503,
            "Email links are not set up",
            "This Paperboy has no LINK_SECRET, so it cannot check links.",
        )
    try:
        link = tokens.verify(secret, token, _now(), purpose)
    except tokens.LinkError as exc:
        log.info("refused a %s link: %s", purpose, exc)
        if exc.expired:
            return _error(410, "This link has expired", str(exc))
        return _error(403, "This link does not work", str(exc))
    if _store().reader(link.reader) is None:
        return _error(404, "Unknown reader", "This link is for a reader Paperboy no longer knows.")
    return link


@links.get("/feedback/<token>")
def feedback(token: str) -> Response:
    """Show the paper, the reader's current vote, and one button that casts the link's vote."""
    link = _verify(token, "vote")
    if isinstance(link, Response):
        return link
    return _feedback_page(link, token, recorded=False)


@links.post("/feedback/<token>")
def record_vote(token: str) -> Response:
    """Record the link's vote (source: email), then show the reader's current vote."""
    link = _verify(token, "vote")
    if isinstance(link, Response):
        return link
    store = _store()
    assert link.paper is not None
    # Set, not toggled: the link says which vote; a second POST of it changes nothing.
    if store.cast(link.reader, link.paper, link.vote, "email").outcome == "ok":
        log.info("reader %s voted %+d on paper %s from email", link.reader, link.vote, link.paper)
        refresh = current_app.extensions.get("paperboy_email_vote")
        if refresh is not None:  # Slack is configured: its replies show the paper's tallies
            try:
                refresh(link.paper)
            except Exception:  # the vote is saved; a stale tally must not fail the page
                log.exception("could not ask for paper %s's Slack tallies to refresh", link.paper)
    return _feedback_page(link, token, recorded=True)


def _feedback_page(link: tokens.Link, token: str, *, recorded: bool) -> Response:
    store = _store()
    assert link.paper is not None
    current = store.current_vote(link.reader, link.paper)
    paper = store.papers([link.paper]).get(link.paper)
    settings = _settings()
    choices = []
    secret = _secret()
    if (recorded or current == link.vote) and secret:
        # Changing one's mind needs new links; they are signed here like those in the email.
        for value in (1, -1, 0):
            if value != current:
                other = tokens.vote_token(
                    secret, link.reader, link.paper, value, _now(), settings.link_ttl_days
                )
                choices.append(
                    {"label": _LABELS[value], "url": url_for("links.record_vote", token=other)}
                )
    return _page(
        "feedback.html",
        recorded=recorded,
        current=current,
        vote=link.vote,
        paper=paper,
        paper_id=link.paper,
        choices=choices,
        confirm_url=url_for("links.record_vote", token=token),
    )


@links.get("/save/<token>")
def save_page(token: str) -> Response:
    """Show the paper, whether it is on the reader's list, and one button that saves it."""
    link = _verify(token, "save")
    if isinstance(link, Response):
        return link
    return _save_page(link, token, recorded=False)


@links.post("/save/<token>")
def save(token: str) -> Response:
    """Save the link's paper to the reader's reading list (or remove it), then say so."""
    link = _verify(token, "save")
    if isinstance(link, Response):
        return link
    assert link.paper is not None
    # Set, not toggled: the link says which; a second POST of it changes nothing.
    done = _store().save(
        link.reader, link.paper, "save" if link.save else "remove", stored_only=link.save
    )
    if done.outcome == "no-paper":
        return _error(
            410,
            "This paper is no longer kept",
            "Paperboy keeps the papers of the last few weeks, and those posted, voted on or "
            "saved, so this one cannot be saved now.",
        )
    if done.outcome == "ok":
        way = "saved" if link.save else "removed"
        log.info("reader %s %s paper %s from email", link.reader, way, link.paper)
    return _save_page(link, token, recorded=True)


def _save_page(link: tokens.Link, token: str, *, recorded: bool) -> Response:
    store = _store()
    assert link.paper is not None
    saved = store.is_saved(link.reader, link.paper)
    secret = _secret()
    other = None
    if (recorded or saved == link.save) and secret:
        # Changing one's mind needs a new link; it is signed here like those in the email.
        fresh = tokens.save_token(
            secret, link.reader, link.paper, not saved, _now(), _settings().link_ttl_days
        )
        other = url_for("links.save", token=fresh)
    return _page(
        "save.html",
        recorded=recorded,
        saved=saved,
        save=link.save,
        paper=store.papers([link.paper]).get(link.paper),
        paper_id=link.paper,
        other_url=other,
        confirm_url=url_for("links.save", token=token),
    )


@links.get("/unsubscribe/<token>")
def unsubscribe_page(token: str) -> Response:
    """Ask for confirmation; unsubscribing needs the POST."""
    link = _verify(token, "unsubscribe")
    if isinstance(link, Response):
        return link
    reader = _store().reader(link.reader)
    done = reader is not None and not reader.email_enabled
    return _page(
        "unsubscribe.html",
        done=done,
        email=reader.email if reader else None,
        confirm_url=url_for("links.unsubscribe", token=token),
    )


@links.post("/unsubscribe/<token>")
def unsubscribe(token: str) -> Response:
    """Turn the reader's email off: RFC 8058 one-click (no cookies needed) or the page's button."""
    link = _verify(token, "unsubscribe")
    if isinstance(link, Response):
        return link
    store = _store()
    reader = store.reader(link.reader)
    assert reader is not None
    if reader.email_enabled:
        store.save_reader(reader.model_copy(update={"email_enabled": False}))
        log.info("reader %s unsubscribed from email", reader.id)
    return _page("unsubscribe.html", done=True, email=reader.email, confirm_url="")


@links.get("/confirm/<token>")
def confirm_page(token: str) -> Response:
    """Ask the address's owner to confirm it; confirming needs the POST."""
    link = _verify(token, "confirm")
    if isinstance(link, Response):
        return link
    reader = _store().reader(link.reader)
    assert reader is not None and link.address is not None
    if reader.email == link.address:
        return _page("confirm.html", done=True, address=link.address, confirm_url="")
    if reader.pending_email != link.address:
        return _replaced()
    return _page(
        "confirm.html",
        done=False,
        address=link.address,
        confirm_url=url_for("links.confirm", token=token),
    )


@links.post("/confirm/<token>")
def confirm(token: str) -> Response:
    """Make the link's address the reader's: digests go there from now on."""
    link = _verify(token, "confirm")
    if isinstance(link, Response):
        return link
    store = _store()
    reader = store.reader(link.reader)
    assert reader is not None and link.address is not None
    if reader.email != link.address:
        if reader.pending_email != link.address:
            return _replaced()
        store.save_reader(reader.model_copy(update={"email": link.address, "pending_email": None}))
        log.info("reader %s confirmed a new address", reader.id)
    return _page("confirm.html", done=True, address=link.address, confirm_url="")


def _replaced() -> Response:
    return _error(
        409,
        "This address was replaced",
        "This link is for an address the reader has since changed on Paperboy's Home.",
        hint="The link in the newest confirmation email works.",
    )
