"""arXiv RSS and Atom bytes to Papers: pure parsing, no network."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import feedparser

from paperboy.models import Paper
from paperboy.tex import clean, split_authors

ARXIV_ID = re.compile(r"(\d{4}\.\d{4,5}|[a-z][a-z.\-]*/\d{7})(?:v(\d+))?", re.IGNORECASE)
_ANNOUNCE = re.compile(r"Announce Type:\s*([\w-]+)", re.IGNORECASE)
_ABSTRACT = re.compile(r"Abstract:\s*(.*)", re.IGNORECASE | re.DOTALL)
CATEGORY = re.compile(r"^[a-z][a-z-]*(\.[A-Za-z][A-Za-z-]*)?$")
"""An arXiv category (cs.LG, eess.AS, astro-ph.GA) or archive (stat, hep-th)."""


class FeedError(Exception):
    """A feed that cannot be used whole: malformed, truncated, or not a feed at all."""

    def __init__(self, feed: str, reason: str) -> None:
        super().__init__(f"feed {feed}: {reason}")
        self.feed = feed
        self.reason = reason


@dataclass
class Feed:
    """One parsed feed: its name, the day it announces, and every item it carries."""

    name: str
    day: date | None
    papers: list[Paper] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    """The categories it announces (from its channel's link, else its name)."""

    def kept(self, announce_types: Iterable[str]) -> list[Paper]:
        """The papers of the wanted announce types, each id once."""
        wanted = {kind.strip().lower() for kind in announce_types}
        seen: dict[str, Paper] = {}
        for paper in self.papers:
            if paper.announce_type in wanted and paper.id not in seen:
                seen[paper.id] = paper
        return list(seen.values())


def categories_of(source: str) -> list[str]:
    """The arXiv categories a feed's address or name holds (`…/rss/cs.LG+cs.AI`: cs.LG and
    cs.AI); a name that holds none, like a saved file's, stands for itself."""
    tail = source.rstrip("/").rsplit("/", 1)[-1]
    parts = tail.split("+")
    return parts if all(CATEGORY.match(part) for part in parts) else [tail]


def _link_categories(link: str) -> list[str]:
    """The categories of an arXiv feed's own link (http://rss.arxiv.org/rss/cs.SD+eess.AS)."""
    path = urlsplit(link).path
    if not path.startswith(("/rss/", "/atom/")):
        return []
    found = categories_of(path)
    return found if all(CATEGORY.match(part) for part in found) else []


def parse_arxiv_id(text: str) -> tuple[str, int] | None:
    """`oai:arXiv.org:2502.11089v2` or an abs URL -> ("2502.11089", 2); None if no id."""
    match = ARXIV_ID.search(text)
    if not match:
        return None
    return match.group(1), int(match.group(2) or 1)


def _feed_day(parsed: feedparser.FeedParserDict) -> date | None:
    """The announcement day in the feed's own time zone (arXiv stamps midnight US Eastern)."""
    for source in (parsed.feed, *parsed.entries[:1]):
        for key in ("published", "updated"):
            raw = source.get(key)
            if not raw:
                continue
            try:
                return parsedate_to_datetime(raw).date()
            except (TypeError, ValueError):
                pass
            try:
                return datetime.fromisoformat(raw).date()
            except ValueError:
                pass
    return None


def _paper(entry: feedparser.FeedParserDict, day: date | None) -> Paper | None:
    ident = parse_arxiv_id(entry.get("id", "")) or parse_arxiv_id(entry.get("link", ""))
    if ident is None:
        return None
    summary = entry.get("summary", "")
    announce = entry.get("arxiv_announce_type") or ""
    if not announce:
        found = _ANNOUNCE.search(summary)
        announce = found.group(1) if found else "new"
    abstract_match = _ABSTRACT.search(summary)
    abstract = abstract_match.group(1) if abstract_match else summary
    return Paper(
        id=ident[0],
        version=ident[1],
        title=clean(entry.get("title", "")),
        abstract=re.sub(r"\s+", " ", abstract).strip(),
        authors=split_authors(entry.get("author", "")),
        categories=[tag["term"] for tag in entry.get("tags", []) if tag.get("term")],
        announce_type=announce.strip().lower(),
        day=day,
    )


def parse_feed(name: str, body: bytes) -> Feed:
    """Parse one feed's bytes whole, or raise FeedError naming it: never half a feed."""
    if not body.strip():
        raise FeedError(name, "the response was empty")
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    if not parsed.get("version"):
        head = body[:200].decode("utf-8", "replace").lower()
        what = "an HTML page" if "<html" in head or "<!doctype" in head else "something"
        raise FeedError(name, f"the server sent {what} instead of an RSS or Atom feed")
    if parsed.get("bozo"):
        reason = parsed.get("bozo_exception")
        raise FeedError(
            name, f"malformed XML ({reason}); {len(parsed.entries)} items were readable"
        )
    day = _feed_day(parsed)
    papers = [paper for entry in parsed.entries if (paper := _paper(entry, day)) is not None]
    categories = _link_categories(parsed.feed.get("link", "")) or categories_of(name)
    return Feed(name=name, day=day, papers=papers, categories=categories)
