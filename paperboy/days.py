"""What a day's steps share: the context an entry point builds, and a day read back from the store.

`Context` holds the store, the group's prior, the scorers and the channels; `Batch` is the papers
a day considers. The fetch step stores a day's papers and the score step its group order; later
steps (another worker, another day) read them back here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from paperboy.local import LocalScorer
from paperboy.models import Delivery, Paper, Prior, Reader, Score, utc_now
from paperboy.store import Store


class Judge(Protocol):
    """A second opinion on the day's papers (Claude), within a daily budget of `max_usd`."""

    name: str
    max_usd: float

    def judge(
        self, day: date, papers: list[Paper], local: dict[str, Score]
    ) -> dict[str, Score]: ...

    def cost(self, day: date) -> float: ...

    def ran_out(self, day: date) -> int:
        """How many papers kept their local score on `day` because the budget ran out."""
        ...


class Deliverer(Protocol):
    """Somewhere a day goes: the terminal, a file, Slack, email. A channel receives the day as
    data: the group's digest, and the digests of the readers it asks for."""

    name: str

    def readers(self, day: date) -> list[Reader]:
        """The readers whose own digest of `day` this channel needs (none for a group channel)."""
        ...

    def deliver(self, delivery: Delivery) -> str: ...


@dataclass
class Context:
    """What the day's steps need, built once by an entry point."""

    store: Store
    prior: Prior
    local: LocalScorer
    judge: Judge | None = None
    announce_types: list[str] = field(default_factory=lambda: ["new", "cross"])
    digest_size: int = 15
    deliverers: list[Deliverer] = field(default_factory=list)
    now: Callable[[], datetime] = utc_now

    @property
    def scorer_name(self) -> str:
        return self.judge.name if self.judge else self.local.name


@dataclass
class Batch:
    """The papers a day considers, after filtering and removing earlier days' papers."""

    day: date
    papers: list[Paper]
    feeds: list[str]
    missing: list[str]
    repeats: list[str] = field(default_factory=list)


def load_batch(ctx: Context, day: date) -> Batch:
    """The batch a fetch step stored for `day`."""
    record = ctx.store.day(day, "papers", "feeds", "missing", "repeats")
    if record is None or record.papers is None:
        raise LookupError(f"day {day} has not been fetched")
    stored = ctx.store.papers(record.papers)
    papers = [stored[pid] for pid in record.papers if pid in stored]
    return Batch(day, papers, record.feeds, record.missing, record.repeats)


def save_order(ctx: Context, day: date, order: list[Score]) -> None:
    ctx.store.update_day(day, order=order)


def load_order(ctx: Context, day: date) -> list[Score]:
    record = ctx.store.day(day, "order")
    if record is None or record.order is None:
        raise LookupError(f"day {day} has not been scored")
    return record.order


def latest_ranked(ctx: Context) -> tuple[Batch, list[Score]] | None:
    """The most recent day the store holds with its group order, if any was ranked."""
    for day in reversed(ctx.store.days()):
        try:
            return load_batch(ctx, day), load_order(ctx, day)
        except LookupError:
            continue
    return None
