"""The web process: the Bolt app (votes, App Home, /paperboy) and the email-link routes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk import WebClient

from paperboy.models import utc_now
from paperboy.pipeline import Context
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
    make_context: Callable[[], Context]
    background: Executor
    """Threads for the work that follows an ack (confirmations, refresh requests)."""
    now: Callable[[], datetime] = utc_now
    terms: dict[str, tuple[float, dict[str, list[Any]]]] = field(default_factory=dict)
    """Per reader: when their profile's top terms were last computed, and the terms."""

    @functools.cached_property
    def context(self) -> Context:
        """The day's context (prior, scorers), built on first use: it reads files."""
        return self.make_context()

    def is_admin(self, user: str) -> bool:
        return user in self.settings.slack_admins
