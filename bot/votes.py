"""👍/👎 clicks: recorded in the request, then confirmed, tallied and reflected on Home.

The vote is appended to the log before the ack, in one atomic Redis step (see
`paperboy.vote_log`), so an acknowledged click is never lost and two presses are a vote and its
undo; the ephemeral confirmation, the tally on the paper's message and the Home tab
follow on a background thread, the last two coalesced (chat.update allows ~50/min).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App

from bot import Deps, UserError, read_pressed
from bot.home import request_home
from paperboy import blocks
from paperboy.feed import ARXIV_ID
from paperboy.models import VoteValue

log = logging.getLogger(__name__)

CLICKS: dict[str, VoteValue] = {blocks.VOTE_UP: 1, blocks.VOTE_DOWN: -1}
MALFORMED = "Sorry, Paperboy could not read that click. Please try the button again."


@dataclass(frozen=True)
class Click:
    """One press of 👍 or 👎, as read from a `block_actions` payload."""

    user: str
    paper: str
    clicked: VoteValue
    channel: str | None
    message_ts: str | None
    thread_ts: str | None
    blocks: list[dict[str, Any]] | None
    action_ts: str


def read_click(body: dict[str, Any]) -> Click:
    """The click in a payload, or UserError when the payload is not one we sent."""
    press = read_pressed(body, MALFORMED)
    try:
        clicked = CLICKS[press.action["action_id"]]
        paper = str(press.action["value"]).strip()
    except (KeyError, TypeError):
        raise UserError(MALFORMED) from None
    if not ARXIV_ID.fullmatch(paper):
        raise UserError(MALFORMED)
    message_blocks = press.message.get("blocks")
    return Click(
        user=press.user,
        paper=paper,
        clicked=clicked,
        channel=press.channel,
        message_ts=press.message_ts,
        thread_ts=press.thread_ts,
        blocks=message_blocks if isinstance(message_blocks, list) else None,
        action_ts=press.action_ts,
    )


def refresh_tally(deps: Deps, payload: dict[str, Any]) -> None:
    """Show a paper's current tallies on its message (blocks and text both resent)."""
    paper = payload["paper"]
    up, down = deps.store.tally(paper)
    known = deps.store.papers([paper]).get(paper)
    title = known.title if known else paper
    deps.client.chat_update(
        channel=payload["channel"],
        ts=payload["ts"],
        text=blocks.paper_text(title, up, down),
        blocks=blocks.with_tally(payload["blocks"], paper, up, down),
    )


def after_vote(deps: Deps, click: Click, previous: int, value: int) -> None:
    """Confirm the vote to the clicker, then ask for the tallies and their Home to be refreshed.

    A click in the channel is confirmed there, ephemerally, and refreshes the message it was
    on; a click on Home (a paper suggested to vote on) is confirmed on the refreshed Home, and
    refreshes the paper's replies in the channel as an email vote does."""
    known = deps.store.papers([click.paper]).get(click.paper)
    title = known.title if known else click.paper
    confirmation = blocks.confirmation(previous, value, title)
    if click.channel:
        deps.client.chat_postEphemeral(
            channel=click.channel, user=click.user, thread_ts=click.thread_ts, text=confirmation
        )
    if click.channel and click.message_ts and click.blocks:
        deps.coalescer.request(
            "tally",
            f"{click.channel}/{click.message_ts}",
            {
                "paper": click.paper,
                "channel": click.channel,
                "ts": click.message_ts,
                "blocks": click.blocks,
            },
        )
    else:
        after_email_vote(deps, click.paper)
    notice = blocks.confirmation(previous, value, title, markup=False)
    request_home(deps, click.user, None if click.channel else notice)


def after_email_vote(deps: Deps, paper: str) -> None:
    """Ask for the tallies on the paper's Slack replies to be refreshed after a vote cast from
    an email link: the same coalesced refresh a click asks for."""
    for channel, message in deps.store.slack_messages(paper).items():
        deps.coalescer.request(
            "tally",
            f"{channel}/{message['ts']}",
            {"paper": paper, "channel": channel, "ts": message["ts"], "blocks": message["blocks"]},
        )


def register(app: App, deps: Deps) -> None:
    """Listen to both vote buttons."""

    def record_vote(ack: Ack, body: dict[str, Any]) -> None:
        click = read_click(body)
        # One atomic step, one round trip: the paper is known, the standing vote read, the
        # next event appended (the same button again undoes), the tally updated; an identical
        # payload delivered twice counts once.
        cast = deps.store.cast(
            click.user,
            click.paper,
            click.clicked,
            "slack",
            toggle=True,
            stored_only=True,
            delivery=f"click:{click.user}:{click.paper}:{click.clicked}:{click.action_ts}",
        )
        if cast.outcome == "no-paper":
            raise UserError(
                f"Paperboy no longer has paper {click.paper} (papers are kept for a "
                "few weeks), so this vote was not recorded."
            )
        ack()
        if cast.outcome != "ok":
            log.info("click by %s on %s delivered again: counted once", click.user, click.paper)
            return
        log.info("vote %+d on %s by %s", cast.value, click.paper, click.user)
        # a plain task rather than a Bolt lazy listener: it needs the outcome, and copying the
        # whole request for a lazy listener costs the web process more than the vote itself
        deps.background.submit(after_vote, deps, click, cast.previous, cast.value)

    for action_id in CLICKS:
        app.action(action_id)(record_vote)
