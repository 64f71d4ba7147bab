"""A reader's digest as an email message: text and HTML from jinja2 templates (pure).

The HTML part has its CSS inlined for clients that drop `<style>`, while the `@media` rules for
phones and dark mode stay in a `<style>` block (css-inline's `keep_at_rules`) for those that
keep it. Every link a reader can act on is signed (see `links.py`); none needs a login.
"""

from __future__ import annotations

import functools
import hashlib
import textwrap
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import css_inline

from paperboy import links
from paperboy.models import Digest, Ranked, Reader
from paperboy.render import SCORER_NAMES, score_labels, shorten_authors, templates, trim, why

TEXT_WIDTH = 72
"""Line width of the plain-text part, in characters."""

MAX_8BIT_LINE = 990
"""Longest line, in bytes, sent as 8bit (SMTP's limit is 998 plus CRLF)."""

_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


@dataclass(frozen=True)
class Links:
    """Makes a reader's signed links: PUBLIC_URL, LINK_SECRET, the clock and LINK_TTL_DAYS."""

    public_url: str
    secret: bytes
    now: datetime
    ttl_days: int

    def vote(self, reader: str, paper: str, value: int) -> str:
        token = links.vote_token(self.secret, reader, paper, value, self.now, self.ttl_days)
        return f"{self.public_url.rstrip('/')}/feedback/{token}"

    def unsubscribe(self, reader: str) -> str:
        token = links.unsubscribe_token(self.secret, reader, self.now, self.ttl_days)
        return f"{self.public_url.rstrip('/')}/unsubscribe/{token}"


def subject(count: int, day: date) -> str:
    """'12 papers for you, Tue 18 Feb'."""
    noun = "paper" if count == 1 else "papers"
    return f"{count} {noun} for you, {day:%a} {day.day:02d} {day:%b}"


@functools.lru_cache(maxsize=8192)
def _wrap(text: str, first: str = "   ", rest: str = "   ") -> str:
    # Cached: every reader's message wraps the same titles and abstracts.
    return textwrap.fill(
        text,
        TEXT_WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


@functools.lru_cache(maxsize=4096)
def _trim(text: str) -> str:
    return trim(text)


def _labels(entry: Ranked) -> list[str]:
    if entry.score.relevance is not None:
        return score_labels(entry)
    return [f"local score {entry.score.score:.2f}"]


def context(reader: Reader, digest: Digest, entries: list[Ranked], links_: Links) -> dict[str, Any]:
    """Everything both templates show, computed once."""
    items = []
    for rank, entry in enumerate(entries, 1):
        paper = entry.paper
        abstract = _trim(paper.abstract)
        items.append(
            {
                "rank": rank,
                "id": paper.id,
                "url": paper.url,
                "pdf": f"https://arxiv.org/pdf/{paper.id}",
                "title": paper.title,
                "authors": shorten_authors(paper.authors),
                "why": why(entry),
                "scores": _labels(entry),
                "abstract": abstract,
                "cross": paper.announce_type == "cross",
                "up": links_.vote(reader.id, paper.id, 1),
                "down": links_.vote(reader.id, paper.id, -1),
                "text": {
                    "title": _wrap(f"{rank}. {paper.title}", ""),
                    "authors": _wrap(shorten_authors(paper.authors)),
                    "why": _wrap("Why: " + why(entry)),
                    "abstract": _wrap(abstract),
                },
            }
        )
    scorer = SCORER_NAMES.get(digest.scorer, digest.scorer)
    lede = f"{len(items)} of {digest.read:,} new arXiv papers, ranked for you" + (
        f" with {scorer}'s judgment" if digest.scorer != "local" else ""
    )
    notes = list(digest.notes)
    if digest.missing_feeds:
        notes.append("Missing today: " + ", ".join(digest.missing_feeds) + ".")
    return {
        "subject": subject(len(items), digest.day),
        "day_long": f"{digest.day:%A} {digest.day.day} {digest.day:%B}",
        "lede": lede,
        "preheader": " · ".join(entry.paper.title for entry in entries[:3]),
        "notes": notes,
        "items": items,
        "email": reader.email or "",
        "text": {
            "lede": _wrap(lede + ".", "", ""),
            "notes": [_wrap("Note: " + note, "", "") for note in notes],
            "votes": _wrap(
                f"Your 👍 and 👎 teach Paperboy what you like: each opens a page "
                f"where one click confirms. Links work for {links_.ttl_days} days.",
                "",
                "",
            ),
            "why": _wrap(
                f"You get this because {reader.email} is subscribed to Paperboy's daily digest.",
                "",
                "",
            ),
        },
        "unsubscribe": links_.unsubscribe(reader.id),
        "ttl_days": links_.ttl_days,
    }


def render(ctx: dict[str, Any]) -> tuple[str, str]:
    """The plain-text and the HTML body (CSS inlined, `@media` rules kept)."""
    env = templates()
    text = env.get_template("email.txt").render(ctx)
    html = _INLINER.inline(env.get_template("email.html").render(ctx))
    return text, html


def _transfer_encoding(body: str) -> str:
    # 8bit keeps a message small and quick to relay; SMTP allows lines of 998 bytes at most.
    # The mailer re-encodes for a server without 8BITMIME (see `mailer.seven_bit`).
    longest = max(map(len, body.encode().splitlines()), default=0)
    return "8bit" if longest <= MAX_8BIT_LINE else "quoted-printable"


def message_id(sender: str, reader_id: str, day: date) -> str:
    """One stable id per reader and day, so that receiving systems can drop a duplicate."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "paperboy.invalid"
    digest = hashlib.sha256(reader_id.encode()).hexdigest()[:20]
    return f"<paperboy.{day.isoformat()}.{digest}@{domain}>"


def message(
    reader: Reader, digest: Digest, entries: list[Ranked], *, sender: str, links_: Links
) -> EmailMessage:
    """The reader's digest as a multipart/alternative message, ready for SMTP."""
    if not reader.email:
        raise ValueError(f"reader {reader.id} has no email address")
    ctx = context(reader, digest, entries, links_)
    text, html = render(ctx)
    msg = EmailMessage()
    msg["Subject"] = ctx["subject"]
    msg["From"] = sender
    msg["To"] = Address(addr_spec=reader.email)
    msg["Date"] = format_datetime(links_.now)
    msg["Message-ID"] = message_id(sender, reader.id, digest.day)
    msg["List-Unsubscribe"] = f"<{ctx['unsubscribe']}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    msg.set_content(text, cte=_transfer_encoding(text))
    msg.add_alternative(html, subtype="html", cte=_transfer_encoding(html))
    return msg
