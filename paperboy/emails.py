"""A reader's digest as an email message: text and HTML from jinja2 templates (pure).

The HTML part stays under Gmail's 102 KB clip at every digest size Home offers: the whole look,
with the `@media` rules for phones and dark mode, is in `<style>` blocks in the head, which most
clients keep, and only its essentials (`templates/email-inline.css`) are inlined into each
element, for the clients that drop `<style>`. The template's indentation is not sent. Every link
a reader can act on is signed (see `tokens.py`); none needs a login.

Most of a message is the same for every reader, so `Pages` inlines the day's frame and each
paper's card once and fills in each reader's rank, links and address (byte for byte what
`render` gives from scratch), and `outgoing` writes the MIME message out directly.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import re
import secrets
import textwrap
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import css_inline
import jinja2

from paperboy import addresses, tokens
from paperboy.models import Digest, Ranked, Reader
from paperboy.render import SCORER_NAMES, score_labels, shorten_authors, templates, trim, why

TEXT_WIDTH = 72
"""Line width of the plain-text part, in characters."""

MAX_8BIT_LINE = 990
"""Longest line, in bytes, sent as 8bit (SMTP's limit is 998 plus CRLF)."""

INLINE_CSS = "email-inline.css"
"""The essentials of the look, inlined into each element (the head keeps the whole look)."""


@dataclass(frozen=True)
class Links:
    """Makes a reader's signed links: PUBLIC_URL, LINK_SECRET, the clock and LINK_TTL_DAYS."""

    public_url: str
    secret: bytes
    now: datetime
    ttl_days: int

    def vote(self, reader: str, paper: str, value: int) -> str:
        token = tokens.vote_token(self.secret, reader, paper, value, self.now, self.ttl_days)
        return f"{self.public_url.rstrip('/')}/feedback/{token}"

    def save(self, reader: str, paper: str) -> str:
        token = tokens.save_token(self.secret, reader, paper, True, self.now, self.ttl_days)
        return f"{self.public_url.rstrip('/')}/save/{token}"

    def unsubscribe(self, reader: str) -> str:
        token = tokens.unsubscribe_token(self.secret, reader)
        return f"{self.public_url.rstrip('/')}/unsubscribe/{token}"

    def confirm(self, reader: str, address: str) -> str:
        token = tokens.confirm_token(self.secret, reader, address, self.now)
        return f"{self.public_url.rstrip('/')}/confirm/{token}"


def subject(count: int, day: date, since: date | None = None) -> str:
    """'12 papers for you, Tue 18 Feb', or for a week 'Your week: 15 papers, 16 to 20 Feb'."""
    noun = "paper" if count == 1 else "papers"
    if since is not None:
        return f"Your week: {count} {noun}, {since.day} {since:%b} to {day.day} {day:%b}"
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
                "liked": entry.group.up if entry.group else 0,  # "Liked by N in your group"
                "up": links_.vote(reader.id, paper.id, 1),
                "down": links_.vote(reader.id, paper.id, -1),
                "save": links_.save(reader.id, paper.id),
                "text": {
                    "title": _wrap(f"{rank}. {paper.title}", ""),
                    "authors": _wrap(shorten_authors(paper.authors)),
                    "why": _wrap("Why: " + why(entry)),
                    "abstract": _wrap(abstract),
                },
            }
        )
    scorer = SCORER_NAMES.get(digest.scorer, digest.scorer)
    week = digest.since is not None
    lede = (
        f"{len(items)} of {digest.read:,} new arXiv papers"
        + (" this week" if week else "")
        + ", ranked for you"
        + (f" with {scorer}'s judgment" if digest.scorer != "local" else "")
    )
    rhythm = "weekly" if week else "daily"
    day_long = f"{digest.day:%A} {digest.day.day} {digest.day:%B}"
    if digest.since is not None:
        day_long = (
            f"Your week, {digest.since.day} {digest.since:%B} to {digest.day.day} {digest.day:%B}"
        )
    notes = list(digest.notes)
    if digest.missing_feeds:  # first: a reader should know at once what the digest lacks
        when = "this week" if digest.since is not None else "today"
        note = f"Missing {when}: " + ", ".join(digest.missing_feeds) + "."
        if digest.feeds:
            note += f" The papers below are from {', '.join(digest.feeds)} only."
        notes.insert(0, note)
    return {
        "subject": subject(len(items), digest.day, digest.since),
        "day_long": day_long,
        "rhythm": rhythm,
        "lede": lede,
        "preheader": " · ".join(entry.paper.title for entry in entries[:3]),
        "notes": notes,
        "items": items,
        "email": reader.email or "",
        "text": {
            "lede": _wrap(lede + ".", "", ""),
            "notes": [_wrap("Note: " + note, "", "") for note in notes],
            "votes": _wrap(
                f"Your 👍 and 👎 teach Paperboy what you like, and 📌 keeps a paper on "
                "your reading list (in Slack: /paperboy saved): each opens a page where one "
                f"click confirms. They work for {links_.ttl_days} days; the unsubscribe link "
                "always works.",
                "",
                "",
            ),
            "why": _wrap(
                f"You get this because {reader.email} is subscribed to Paperboy's {rhythm} digest.",
                "",
                "",
            ),
        },
        "unsubscribe": links_.unsubscribe(reader.id),
        "ttl_days": links_.ttl_days,
    }


def render(ctx: dict[str, Any]) -> tuple[str, str]:
    """The plain-text and the HTML body (CSS inlined, `@media` rules kept), from scratch.

    The reference for `Pages.render`, which gives the same from pieces inlined once a day.
    """
    text = _template("email.txt").render(ctx)
    html = _unmark(_inliner().inline(_template("email.html").render(ctx)))
    return text, html


# each day's shared pieces, inlined once ---------------------------------------------------

_NONCE = secrets.token_hex(6)
_PER_READER = ("subject", "preheader", "lede", "email", "unsubscribe")
_SLOTS = {name: f"pb{_NONCE}{name}" for name in ("rank", "up", "down", "save", *_PER_READER)}
"""Stand-ins for what differs between readers; they pass through the inliner unchanged."""
_SPECIAL = re.compile('[&<>"\r\0\xa0]')
_CARD = "<!--card-->"
_CARDS = "<!--cards-->"
"""Markers in email.html: before each paper's card, and after the last one (not sent)."""


@functools.cache
def _template(name: str) -> jinja2.Template:
    env = templates()
    if not name.endswith(".html"):
        return env.get_template(name)
    # Indentation is for whoever edits the template; in a 30-paper message it is 5 KB.
    assert env.loader is not None
    source = env.loader.get_source(env, name)[0]
    return env.from_string(re.sub(r"(?m)^[ \t]+", "", source))


@functools.cache
def _inliner() -> css_inline.CSSInliner:
    """Inlines `INLINE_CSS` only, leaving the head's `<style>` blocks as they are."""
    assert templates().loader is not None
    css = templates().loader.get_source(templates(), INLINE_CSS)[0]  # type: ignore[union-attr]
    return css_inline.CSSInliner(
        inline_style_tags=False,
        keep_style_tags=True,
        extra_css=css,
        minify_css=True,
        load_remote_stylesheets=False,
    )


def _unmark(html: str) -> str:
    return html.replace(_CARD, "").replace(_CARDS, "")


def _escape(value: str, attribute: bool) -> str:
    """A value as the inliner's HTML serialiser writes it, so that both paths agree exactly."""
    if not _SPECIAL.search(value):  # signed links, for one
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")
    value = value.replace("&", "&amp;").replace("\xa0", "&nbsp;")
    if attribute:
        return value.replace('"', "&quot;")
    return value.replace("<", "&lt;").replace(">", "&gt;")


def _fill(html: str, slot: str, value: str) -> str:
    """`html` with each `slot` replaced by `value`, escaped for a text node or an attribute."""
    if not any(c in value for c in '"<>'):  # then both escape the same
        return html.replace(slot, _escape(value, attribute=False))
    pieces = html.split(slot)
    out = [pieces[0]]
    seen = pieces[0]
    for piece in pieces[1:]:
        in_tag = seen.rfind("<") > seen.rfind(">")
        out.append(_escape(value, attribute=in_tag))
        out.append(piece)
        seen = piece if ("<" in piece or ">" in piece) else seen + piece
    return "".join(out)


class Pages:
    """HTML parts from pieces inlined once: the day's frame, and each paper's card.

    Inlining the CSS is most of the work of a message, yet nearly all of it is the same for
    every reader: the frame (head, masthead, notes, footer) and each paper's card are rendered
    and inlined once, with stand-ins for the rank, the signed links, the count and the reader's
    address, filled in per reader. Gives exactly what `render` gives (tests compare them).
    Bounded, and safe to share between threads.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._pieces: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def _get(self, key: str, make: Callable[[], Any]) -> Any:
        with self._lock:
            found = self._pieces.get(key)
            if found is not None:
                self._pieces.move_to_end(key)
                return found
        made = make()  # outside the lock: two threads making the same piece make the same
        with self._lock:
            self._pieces[key] = made
            while len(self._pieces) > self.size:
                self._pieces.popitem(last=False)
        return made

    def render(self, ctx: dict[str, Any]) -> tuple[str, str]:
        """What `render(ctx)` gives: the text part rendered, the HTML part put together."""
        text = _template("email.txt").render(ctx)
        # The HTML sees the context without the text part's values, per-reader ones as slots.
        frame_ctx = {k: v for k, v in ctx.items() if k not in ("text", "items")}
        frame_ctx.update({k: _SLOTS[k] for k in _PER_READER})
        frame_key = repr(sorted(frame_ctx.items()))

        def frame() -> tuple[str, str]:
            page = _inliner().inline(_template("email.html").render({**frame_ctx, "items": []}))
            head, marker, tail = page.partition(_CARDS)
            if not marker:
                raise ValueError(f"templates/email.html lacks {_CARDS} after the cards")
            return head, tail

        head, tail = self._get("frame " + frame_key, frame)
        html = [head]
        for item in ctx["items"]:
            slotted = {k: v for k, v in item.items() if k != "text"}
            slotted.update(
                rank=_SLOTS["rank"], up=_SLOTS["up"], down=_SLOTS["down"], save=_SLOTS["save"]
            )
            key = f"card {frame_key} {sorted(slotted.items())!r}"
            card = self._get(key, functools.partial(self._card, frame_ctx, slotted))
            html.append(
                card.replace(_SLOTS["rank"], str(item["rank"]))
                .replace(_SLOTS["up"], _escape(item["up"], attribute=True))
                .replace(_SLOTS["down"], _escape(item["down"], attribute=True))
                .replace(_SLOTS["save"], _escape(item["save"], attribute=True))
            )
        html.append(tail)
        page = "".join(html)
        for name in _PER_READER:
            page = _fill(page, _SLOTS[name], str(ctx[name]))
        return text, page

    @staticmethod
    def _card(frame_ctx: dict[str, Any], item: dict[str, Any]) -> str:
        page = _inliner().inline(_template("email.html").render({**frame_ctx, "items": [item]}))
        start, end = page.find(_CARD), page.find(_CARDS)
        if start < 0 or end < start:
            raise ValueError(f"templates/email.html lacks {_CARD} before each card")
        return page[start + len(_CARD) : end]


PAGES = Pages()
"""The pieces every message of the process shares."""


def _body(text: str) -> tuple[str, bytes]:
    """A part's transfer encoding and body, with CRLF line ends."""
    data = text.encode()
    lines = data.splitlines()
    if max(map(len, lines), default=0) <= MAX_8BIT_LINE:
        # 8bit keeps a message small and quick to relay; SMTP allows 998 bytes a line. The
        # mailer re-encodes for a server without 8BITMIME (see `mailer.seven_bit`).
        return ("7bit" if data.isascii() else "8bit"), b"\r\n".join(lines) + b"\r\n"
    encoded = binascii.b2a_qp(b"\n".join(lines) + b"\n", istext=True)
    return "quoted-printable", encoded.replace(b"\n", b"\r\n")


def _header(name: str, value: str) -> bytes:
    """One header as on the wire; the email package encodes and folds what is not plain."""
    if value.isascii() and value.isprintable() and len(name) + len(value) <= MAX_8BIT_LINE:
        return f"{name}: {value}\r\n".encode("ascii")
    return _folded(name, value)


@functools.lru_cache(maxsize=64)
def _folded(name: str, value: str) -> bytes:
    return policy.SMTP.fold_binary(*policy.SMTP.header_store_parse(name, value))


def list_id(sender: str) -> str:
    """RFC 2919's List-Id: the group's list, named after EMAIL_FROM (`Paperboy digest
    <paperboy.lab.example.org>`), so that readers can filter it and providers group it."""
    name, address = parseaddr(sender)
    local, _, domain = address.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii") if domain else "paperboy.invalid"
    except UnicodeError:
        domain = "paperboy.invalid"
    label = re.sub(r"[^A-Za-z0-9-]+", "-", local).strip("-") or "paperboy"
    phrase = " ".join(re.sub(r'[()<>@,;:\\".\[\]]', " ", name).split()) or "Paperboy"
    return f"{phrase} digest <{label.lower()}.{domain.lower()}>"


def message_id(sender: str, reader_id: str, day: date) -> str:
    """One stable id per reader and day, so that receiving systems can drop a duplicate."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "paperboy.invalid"
    digest = hashlib.sha256(reader_id.encode()).hexdigest()[:20]
    return f"<paperboy.{day.isoformat()}.{digest}@{domain}>"


@dataclass(frozen=True)
class Outgoing:
    """A message as it goes on the wire: its envelope and its bytes (CRLF line ends)."""

    sender: str
    """The envelope sender: EMAIL_FROM's address."""
    recipient: str
    message_id: str
    data: bytes

    def __bytes__(self) -> bytes:
        return self.data

    def message(self) -> EmailMessage:
        """The message parsed back, as a receiving server sees it."""
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


def outgoing(
    reader: Reader, digest: Digest, entries: list[Ranked], *, sender: str, links_: Links
) -> Outgoing:
    """The reader's digest, multipart/alternative (text, then HTML), ready for SMTP.

    Written out directly: building it with the `email` package's objects costs more than
    rendering it. Headers that are not plain ASCII still go through that package's encoding.
    """
    if not reader.email:
        raise ValueError(f"reader {reader.id} has no email address")
    recipient = addresses.for_sending(reader.email)  # refuses what is not an address
    envelope, from_ = addresses.sender(sender)
    ctx = context(reader, digest, entries, links_)
    text, html = PAGES.render(ctx)
    (text_cte, text_body), (html_cte, html_body) = _body(text), _body(html)
    boundary = "=" * 15 + secrets.token_hex(12) + "=="
    while boundary.encode() in text_body or boundary.encode() in html_body:
        boundary = "=" * 15 + secrets.token_hex(12) + "=="
    mid = message_id(envelope, reader.id, digest.day if digest.since is None else digest.since)
    if digest.since is not None:
        mid = mid.replace("<paperboy.", "<paperboy.week.", 1)
    part = '--%s\r\nContent-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: %s\r\n\r\n'
    data = b"".join(
        [
            _header("Subject", ctx["subject"]),
            _folded("From", from_),
            # RFC 6532: an address beyond ASCII is written as it is, never as an encoded-word.
            f"To: {recipient}\r\n".encode(),
            _header("Date", format_datetime(links_.now)),
            _header("Message-ID", mid),
            # RFC 2369 and 8058: the URL in angle brackets on one line, never an encoded-word.
            _header("List-Unsubscribe", f"<{ctx['unsubscribe']}>"),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            _header("List-Id", list_id(sender)),
            b"Auto-Submitted: auto-generated\r\n",  # RFC 3834: no out-of-office replies
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'.encode(),
            (part % (boundary, "plain", text_cte)).encode(),
            text_body,
            (part % (boundary, "html", html_cte)).encode(),
            html_body,
            f"--{boundary}--\r\n".encode(),
        ]
    )
    return Outgoing(envelope, recipient, mid, data)


CONFIRMATION = """\
Hello,

Someone in your Slack workspace, most likely you, asked Paperboy to send its research-paper
digest to this address. To confirm that it is yours, open this link and press the button:

{url}

The link works for {hours} hours. If you did not ask for this, ignore this email: Paperboy
sends nothing more to this address unless the link is followed.
"""


def confirmation(reader_id: str, address: str, *, sender: str, links_: Links) -> Outgoing:
    """The email asking the owner of `address` to confirm it as `reader_id`'s: plain text, one
    link, and none of the digest's list headers (it is not a digest)."""
    recipient = addresses.for_sending(address)  # refuses what is not an address
    envelope, from_ = addresses.sender(sender)
    text = CONFIRMATION.format(url=links_.confirm(reader_id, address), hours=tokens.CONFIRM_HOURS)
    cte, body = _body(text)
    domain = envelope.rpartition("@")[2]
    mid = f"<paperboy.confirm.{secrets.token_hex(10)}@{domain}>"
    data = b"".join(
        [
            _header("Subject", "Confirm your address for Paperboy's digest"),
            _folded("From", from_),
            f"To: {recipient}\r\n".encode(),
            _header("Date", format_datetime(links_.now)),
            _header("Message-ID", mid),
            b"Auto-Submitted: auto-generated\r\n",
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'
            "\r\n".encode(),
            body,
        ]
    )
    return Outgoing(envelope, recipient, mid, data)


def message(
    reader: Reader, digest: Digest, entries: list[Ranked], *, sender: str, links_: Links
) -> EmailMessage:
    """The reader's digest as a multipart/alternative message (`outgoing`, parsed back)."""
    return outgoing(reader, digest, entries, sender=sender, links_=links_).message()
