"""The vote rule: a reader's standing vote on a paper is their newest event on it, by time.

Every part of Paperboy that reads votes (the ranking, Home, `paperboy profile`, email links)
reads them through these functions, so they never disagree about which vote stands. A reader's
model also learns from their reading list (`teaching`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from paperboy.models import Vote


def latest_events(events: Iterable[Vote]) -> list[Vote]:
    """Each paper's newest event, by time (the log's order breaks ties), undos included;
    papers in the order of the log's first event about them."""
    latest: dict[str, tuple[datetime, int, Vote]] = {}
    for order, event in enumerate(events):
        key = (event.at, order)
        if event.paper not in latest or key >= latest[event.paper][:2]:
            latest[event.paper] = (event.at, order, event)
    return [vote for _, _, vote in latest.values()]


def standing_votes(events: Iterable[Vote]) -> list[Vote]:
    """Each paper's newest vote, by time, where it is not an undo."""
    return [vote for vote in latest_events(events) if vote.value != 0]


def current_votes(events: Iterable[Vote]) -> dict[str, int]:
    """Paper id -> the reader's latest vote (+1 or -1); undone votes (0) are dropped."""
    return {vote.paper: vote.value for vote in standing_votes(events)}


def recent_votes(events: Iterable[Vote], limit: int) -> list[Vote]:
    """The reader's standing votes, newest first."""
    return sorted(standing_votes(events), key=lambda v: v.at, reverse=True)[:limit]


def teaching(votes: dict[str, int], saved: Iterable[str]) -> dict[str, int]:
    """What a reader's model learns from: their standing votes, and each paper on their reading
    list that they have not voted on, as a 👍 (a save of a paper they voted on teaches nothing
    more: their vote says what they think of it)."""
    return {**votes, **{pid: 1 for pid in saved if pid not in votes}}
