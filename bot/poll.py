"""The reading-group poll on the week's post: a press is recorded, confirmed, and counted in place.

A press is recorded before the ack, in one atomic Redis step (see `paperboy.polls`): one choice
per member, another choice replaces it, the same again withdraws it, and a press delivered twice
counts once. The ephemeral confirmation and the counts on the post follow on a background
thread, the counts coalesced as the tallies are (chat.update allows ~50 a minute).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from slack_bolt import Ack, App

from bot import Deps, UserError, read_pressed
from paperboy import blocks
from paperboy.feed import ARXIV_ID
from paperboy.polls import Choice
from paperboy.week import POLL_CHOOSE, Week
from paperboy.week_post import refresh_poll

log = logging.getLogger(__name__)

MALFORMED = "Sorry, Paperboy could not read that choice. Please try the button again."
CLOSED = (
    "This poll is no longer open: Paperboy keeps a week's poll for a few weeks. "
    "The next weekly post brings a new one."
)


@dataclass(frozen=True)
class Press:
    """One press on a poll's choice, as read from a `block_actions` payload."""

    user: str
    week: date
    paper: str
    channel: str | None
    message_ts: str | None
    thread_ts: str | None
    action_ts: str


def read_press(body: dict[str, Any]) -> Press:
    """The press in a payload, or UserError when the payload is not one we sent."""
    press = read_pressed(body, MALFORMED)
    try:
        day, _, paper = str(press.action["value"]).partition(":")
        week = date.fromisoformat(day)
    except (KeyError, TypeError, ValueError):
        raise UserError(MALFORMED) from None
    if not ARXIV_ID.fullmatch(paper):
        raise UserError(MALFORMED)
    return Press(
        user=press.user,
        week=week,
        paper=paper,
        channel=press.channel,
        message_ts=press.message_ts,
        thread_ts=press.thread_ts,
        action_ts=press.action_ts,
    )


def confirmation(choice: Choice, titles: dict[str, str]) -> str:
    """What a press tells the member: chosen, changed, or withdrawn."""

    def name(paper: str) -> str:
        return f"“{blocks.escape(blocks.one_line(titles.get(paper, paper)))}”"

    if not choice.chosen:
        return f"Your reading-group choice of {name(choice.previous)} is withdrawn."
    verb = "changed to" if choice.previous else "is"
    return f"Your reading-group choice {verb} {name(choice.chosen)}."


def after_press(deps: Deps, press: Press, choice: Choice) -> None:
    """Confirm the choice to the member, then ask for the post's counts to be refreshed."""
    post = deps.store.week_post(press.week)
    titles = post.titles if post else {}
    if press.channel:
        deps.client.chat_postEphemeral(
            channel=press.channel,
            user=press.user,
            thread_ts=press.thread_ts,
            text=confirmation(choice, titles),
        )
    if post is not None:
        deps.coalescer.request(
            "poll", f"{post.channel}/{post.ts}", {"week": press.week.isoformat()}
        )


def refresh(deps: Deps, payload: dict[str, Any]) -> None:
    """The coalesced refresh: the post shows the poll's current counts."""
    refresh_poll(deps.client, deps.store, Week(date.fromisoformat(payload["week"])))


def register(app: App, deps: Deps) -> None:
    """Listen to the poll's buttons."""

    def record_press(ack: Ack, body: dict[str, Any]) -> None:
        press = read_press(body)
        choice = deps.store.choose(
            press.week,
            press.user,
            press.paper,
            delivery=f"poll:{press.user}:{press.week}:{press.paper}:{press.action_ts}",
        )
        if choice.outcome == "no-poll":
            raise UserError(CLOSED)
        if choice.outcome == "no-choice":
            raise UserError(MALFORMED)
        ack()
        if choice.outcome != "ok":
            log.info("poll press by %s delivered again: counted once", press.user)
            return
        log.info("poll of %s: %s chose %r", press.week, press.user, choice.chosen)
        deps.background.submit(after_press, deps, press, choice)

    app.action(POLL_CHOOSE)(record_press)
