"""The web process: the Bolt app (votes, App Home, /paperboy) and the email-link routes.

It verifies, records, acknowledges and enqueues; ranking and explaining happen in workers, so
it never imports the ranking's numerical code.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk import WebClient

from bot.jobs import Interactive
from paperboy.models import utc_now
from paperboy.settings import Settings
from paperboy.slack import Coalescer
from paperboy.store import Store


class UserError(Exception):
    """A request we cannot serve, with the sentence to tell the person who made it."""


@dataclass(frozen=True)
class Pressed:
    """A button press as a `block_actions` payload tells it: who pressed, the button's action,
    and where (the channel, the message and its thread; a press on Home has none of these)."""

    user: str
    action: dict[str, Any]
    message: dict[str, Any]
    channel: str | None
    message_ts: str | None
    thread_ts: str | None
    on_home: bool
    action_ts: str


def read_pressed(body: dict[str, Any], malformed: str) -> Pressed:
    """The press in a payload, or UserError(`malformed`) when it names no user or action."""
    try:
        user = str(body["user"]["id"])
        action = body["actions"][0]
        action_ts = str(action.get("action_ts") or "")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise UserError(malformed) from None
    container = body.get("container") or {}
    message = body.get("message") or {}
    return Pressed(
        user=user,
        action=action,
        message=message,
        channel=(body.get("channel") or {}).get("id") or container.get("channel_id"),
        message_ts=message.get("ts") or container.get("message_ts"),
        thread_ts=message.get("thread_ts") or container.get("thread_ts"),
        on_home=container.get("type") == "view",
        action_ts=action_ts,
    )


@dataclass
class Deps:
    """What the listeners need, built once by the app factory."""

    settings: Settings
    store: Store
    client: WebClient
    coalescer: Coalescer
    interactive: Interactive
    background: Executor
    """Threads for the work that follows an ack (confirmations, refresh requests)."""
    now: Callable[[], datetime] = utc_now

    def is_admin(self, user: str) -> bool:
        return user in self.settings.slack_admins
