"""The web process: the Bolt app (votes, App Home, /paperboy) and the email-link routes.

It verifies, records, acknowledges and enqueues; ranking and explaining happen in workers, so
it never imports the ranking's numerical code.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime

from slack_sdk import WebClient

from bot.jobs import Interactive
from paperboy.models import utc_now
from paperboy.settings import Settings
from paperboy.slack import Coalescer
from paperboy.store import Store


class UserError(Exception):
    """A request we cannot serve, with the sentence to tell the person who made it."""


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
