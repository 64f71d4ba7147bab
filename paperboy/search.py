"""Search: the papers Paperboy has seen that best match a few words, with what the group made of
them (their tallies, and a link to the thread where each was posted).

The index (`paperboy.index`) finds them; the store gives each paper, its tallies and where it
was posted. A permalink is looked up once (through the `permalink` collaborator: Slack's
`chat.getPermalink` in the worker) and kept. Used by `/paperboy search` (the interactive
worker) and `paperboy search` (the terminal).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from paperboy.index import SearchIndex
from paperboy.models import Paper
from paperboy.store import Store

log = logging.getLogger(__name__)

ANSWERS = 10
"""Papers a search answers with."""

Permalink = Callable[[str, str], str | None]
"""(channel, ts) -> the message's permalink, or None when it cannot be had now."""


@dataclass(frozen=True)
class Found:
    """A paper a search found: the paper, its score, its 👍/👎 and its thread's reply."""

    paper: Paper
    score: float
    up: int = 0
    down: int = 0
    thread: str | None = None
    """A link to the paper's reply in the channel's thread, when it was posted and is known."""

    def as_json(self) -> dict[str, Any]:
        paper = self.paper
        return {
            "id": paper.id,
            "title": paper.title,
            "authors": paper.authors,
            "day": paper.day.isoformat() if paper.day else None,
            "categories": paper.categories,
            "url": paper.url,
            "thread": self.thread,
            "up": self.up,
            "down": self.down,
            "score": self.score,
        }


def search(
    store: Store, text: str, limit: int = ANSWERS, permalink: Permalink | None = None
) -> list[Found]:
    """The `limit` papers that best match `text`, best first. Papers kept since the last day
    was ingested join the index first."""
    index = SearchIndex(store)
    index.keep_pending()
    hits = index.search(text, limit)
    papers = store.papers([hit.paper for hit in hits])
    hits = [hit for hit in hits if hit.paper in papers]  # one expired since it was indexed
    ids = [hit.paper for hit in hits]
    tallies = store.tallies(ids)
    threads = store.threads(ids)
    found = []
    for hit in hits:
        place = threads.get(hit.paper) or {}
        link = place.get("link")
        if place and link is None and permalink is not None:
            link = permalink(place["channel"], place["ts"])
            if link:
                store.save_permalink(hit.paper, link)
        up, down = tallies.get(hit.paper, (0, 0))
        found.append(Found(papers[hit.paper], hit.score, up, down, link))
    return found


def lines(found: list[Found]) -> list[str]:
    """A search's answer for the terminal: two or three lines a paper."""
    out = []
    for n, item in enumerate(found, 1):
        paper = item.paper
        when = f"{paper.day:%d %b %Y}" if paper.day else "date unknown"
        authors = ", ".join(paper.authors[:3]) + (" et al." if len(paper.authors) > 3 else "")
        out.append(f"{n:>3}. {paper.title}")
        out.append(f"     {authors} · {when} · 👍 {item.up} · 👎 {item.down} · {paper.url}")
        if item.thread:
            out.append(f"     thread: {item.thread}")
    return out
