"""📌 Save and Remove: a paper saved to (or removed from) a reader's reading list in the request.

The save is recorded before the ack in one atomic Redis step (see `paperboy.reading_list`): the
same button again removes the paper, two presses at once are a save and its removal, and a
press delivered twice counts once. The ephemeral confirmation and the Home refresh follow on a
background thread. Remove, beside a paper on Home or in `/paperboy saved`, takes it off the list
and shows the list again where it was pressed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot import Deps, UserError, read_pressed
from bot.home import request_home
from paperboy import blocks, saved_blocks
from paperboy.feed import ARXIV_ID

log = logging.getLogger(__name__)

MALFORMED = "Sorry, Paperboy could not read that button. Please try it again."


@dataclass(frozen=True)
class Press:
    """One press of 📌 Save or Remove, as read from a `block_actions` payload."""

    user: str
    paper: str
    channel: str | None
    thread_ts: str | None
    on_home: bool
    action_ts: str


def read_press(body: dict[str, Any]) -> Press:
    """The press in a payload, or UserError when the payload is not one we sent."""
    press = read_pressed(body, MALFORMED)
    try:
        paper = str(press.action["value"]).strip()
    except (KeyError, TypeError):
        raise UserError(MALFORMED) from None
    if not ARXIV_ID.fullmatch(paper):
        raise UserError(MALFORMED)
    return Press(
        user=press.user,
        paper=paper,
        channel=press.channel,
        thread_ts=press.thread_ts,
        on_home=press.on_home,
        action_ts=press.action_ts,
    )


def title_of(deps: Deps, paper: str) -> str:
    known = deps.store.papers([paper]).get(paper)
    return known.title if known else paper


def after_save(deps: Deps, press: Press, saved: bool) -> None:
    """Confirm the save to the presser where they pressed, and refresh their Home."""
    title = title_of(deps, press.paper)
    if press.channel and not press.on_home:
        deps.client.chat_postEphemeral(
            channel=press.channel,
            user=press.user,
            thread_ts=press.thread_ts,
            text=saved_blocks.confirmation(saved, title),
        )
        request_home(deps, press.user)
    else:
        request_home(deps, press.user, saved_blocks.confirmation(saved, title, markup=False))


def reading_list(deps: Deps, user: str) -> dict[str, object]:
    """The answer to `/paperboy saved`: the reader's list, newest first."""
    mine = deps.store.saved(user)
    papers = deps.store.papers([s.paper for s in mine[: saved_blocks.IN_MESSAGE]])
    return saved_blocks.message([(s, papers.get(s.paper)) for s in mine])


def register(app: App, deps: Deps) -> None:
    """Listen to 📌 Save and to Remove."""

    def record_save(ack: Ack, body: dict[str, Any]) -> None:
        press = read_press(body)
        saving = deps.store.save(
            press.user,
            press.paper,
            "toggle",
            stored_only=True,
            delivery=f"save:{press.user}:{press.paper}:{press.action_ts}",
        )
        if saving.outcome == "no-paper":
            raise UserError(
                f"Paperboy no longer has paper {press.paper} (papers are kept for a few weeks "
                "unless posted, voted on or saved), so it was not saved."
            )
        ack()
        if saving.outcome != "ok":
            log.info("save by %s of %s delivered again: counted once", press.user, press.paper)
            return
        log.info("%s %s paper %s", press.user, "saved" if saving.saved else "unsaved", press.paper)
        deps.background.submit(after_save, deps, press, saving.saved)

    def remove(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        press = read_press(body)
        removed = deps.store.save(press.user, press.paper, "remove")
        context["read"] = True
        context["removed"] = removed.outcome == "ok"
        ack()

    def after_remove(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
        if not context.get("read"):
            return  # the error handler has told them what went wrong
        press = read_press(body)
        if press.on_home:
            notice = saved_blocks.confirmation(False, title_of(deps, press.paper), markup=False)
            request_home(deps, press.user, notice if context.get("removed") else None)
        else:  # the list of `/paperboy saved`, shown again without the paper
            respond(replace_original=True, **reading_list(deps, press.user))  # type: ignore[arg-type]
            if context.get("removed"):
                request_home(deps, press.user)

    app.action(blocks.SAVE)(record_save)
    app.action(saved_blocks.REMOVE)(ack=remove, lazy=[after_remove])
