"""Slack Block Kit payloads for the digest, votes, App Home and commands (pure).

Every function returns plain dicts. Every text that came from outside (titles, authors,
abstracts, reasons, user input) goes through `escape`, so a title containing `<!channel>` or
`<@U123>` pings nobody. `problems` checks a message against Slack's limits; the tests run every
builder through it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from paperboy.models import (
    Digest,
    Explanation,
    Paper,
    Ranked,
    Reader,
    ReadingPick,
    SeedPaper,
    Vote,
)
from paperboy.render import header, score_labels, shorten_authors, summary, trim, why
from paperboy.rhythm import zone

Block = dict[str, Any]

MAX_BLOCKS = 50
"""Blocks in one message (a Home tab allows 100)."""
MAX_HOME_BLOCKS = 100
MAX_SECTION_CHARS = 3000
"""Characters in one section or context text."""
MAX_MESSAGE_CHARS = 12_000
"""Characters of a message's blocks as JSON; Slack refuses somewhere above 13k."""
MAX_BUTTON_VALUE = 2000
MAX_BUTTON_TEXT = 75
MAX_TEXT_CHARS = 3000
"""Characters of a fallback `text` we send (notifications show far fewer)."""

VOTE_UP = "vote_up"
VOTE_DOWN = "vote_down"
SAVE = "paper_save"
"""📌 Save: the paper to the presser's reading list, or off it when it is there."""
PAPER_EVENT = "paperboy_paper"
DAY_EVENT = "paperboy_day"
VOTE_BLOCK = "vote:"
HOME_EMAIL_TOGGLE = "settings_email_toggle"
HOME_EMAIL = "settings_email"
HOME_DIGEST_SIZE = "settings_digest_size"
HOME_CADENCE = "settings_cadence"
HOME_HOUR = "settings_hour"
GROUP_HOUR = "group"
"""The hour select's value for "with the group's digest"."""
HOME_SHARE_TOGGLE = "settings_share_toggle"
FORGET_CONFIRM = "forget_confirm"
FORGET_CANCEL = "forget_cancel"
DIGEST_SIZES = (5, 10, 15, 20, 30)
LEARNED_LATER = (
    "*What Paperboy has learned*\nCannot be shown right now: Paperboy's interactive worker is "
    "not running. Your votes are kept and count all the same."
)

_SPACE = re.compile(r"\s+")


def escape(text: str) -> str:
    """Text safe inside Slack mrkdwn: `&`, `<`, `>` become entities, so nothing pings or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def one_line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def clip(text: str, limit: int = MAX_SECTION_CHARS) -> str:
    """Text cut to `limit` characters with an ellipsis, never inside an entity like `&amp;`."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text)}


def plain(text: str, limit: int = MAX_BUTTON_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def section(text: str, **extra: Any) -> Block:
    return {"type": "section", "text": mrkdwn(text), **extra}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts if t][:10]}


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": plain(text),
        "action_id": action_id,
        "value": value[:MAX_BUTTON_VALUE],
    }
    if style:
        element["style"] = style
    return element


def link(paper: Paper) -> str:
    """The title linked to arXiv, escaped."""
    return f"<{paper.url}|{escape(one_line(paper.title))}>"


# the day's thread ---------------------------------------------------------------------------


def day_text(digest: Digest) -> str:
    """The parent message's fallback text: the header line."""
    return escape(header(digest))


def day_blocks(digest: Digest) -> list[Block]:
    """The parent message: what was read, picked, by which scorer, for how much (and the
    reading group's pick, on the first digest after the week's poll)."""
    blocks = [section(f"*{escape(header(digest))}*\n{escape(summary(digest))}")]
    if digest.pick:
        blocks.append(section(pick_line(digest.pick)))
    if digest.notes:
        blocks.append(context(*(escape(note) for note in digest.notes)))
    blocks.append(
        context("Papers in the thread 🧵 · 👍/👎 teach your own ranking · 📌 saves one for later")
    )
    return blocks


# a day without a digest: one status line -------------------------------------------------


def no_announcement(day: date, categories: Sequence[str]) -> str:
    """The line for a weekday whose feeds were empty: arXiv announced nothing (a holiday)."""
    where = f" in {escape(', '.join(categories))}" if categories else ""
    return (
        f"{day:%a %d %b}: arXiv announced no new papers{where} today (a holiday), so there is "
        "no digest. The next one comes with arXiv's next announcement."
    )


def still_stale(day: date, feed_day: date, categories: Sequence[str]) -> str:
    """The line for a weekday whose feed still listed an earlier day's papers at the last look."""
    where = f" for {escape(', '.join(categories))}" if categories else ""
    return (
        f"{day:%a %d %b}: arXiv's feed{where} still listed {feed_day:%a %d %b}'s papers at noon "
        "UTC, so there is no digest today."
    )


def digest_failed(day: date, today: date) -> str:
    """The line for a day whose digest failed after its retries (the admins got the error)."""
    which = "today's digest" if day == today else f"the digest of {day:%a %d %b}"
    return f"{day:%a %d %b}: {which} failed; the admins have been told."


def pick_line(pick: ReadingPick) -> str:
    """How a digest's parent names the reading group's pick of the week's poll."""
    title = clip(escape(one_line(pick.title)), 200)
    votes = "vote" if pick.votes == 1 else "votes"
    return (
        f"📖 *Reading group:* the week's poll picked <{pick.url}|{title}> "
        f"({pick.votes} {votes} of {pick.voters})"
    )


def day_metadata(day: date) -> dict[str, Any]:
    return {"event_type": DAY_EVENT, "event_payload": {"day": day.isoformat()}}


def paper_metadata(day: date, paper_id: str) -> dict[str, Any]:
    """Metadata that names the paper of a reply, so a re-run can find what it already posted."""
    return {"event_type": PAPER_EVENT, "event_payload": {"day": day.isoformat(), "paper": paper_id}}


def vote_block(paper_id: str, up: int = 0, down: int = 0, save: bool = True) -> Block:
    """The 👍/👎 buttons with the tallies on them, and 📌 Save (a reply posted before it had
    none keeps none); the paper id is in each `value`."""
    elements = [
        button(f"👍 {up}" if up else "👍", VOTE_UP, paper_id),
        button(f"👎 {down}" if down else "👎", VOTE_DOWN, paper_id),
    ]
    if save:
        elements.append(button("📌 Save", SAVE, paper_id))
    return {"type": "actions", "block_id": f"{VOTE_BLOCK}{paper_id}"[:255], "elements": elements}


def paper_text(title: str, up: int = 0, down: int = 0) -> str:
    """A reply's fallback text: the title and, once there are votes, the tallies."""
    text = escape(one_line(title))
    if up or down:
        text += f" (👍 {up} · 👎 {down})"
    return clip(text, MAX_TEXT_CHARS)


def paper_blocks(entry: Ranked, up: int = 0, down: int = 0) -> list[Block]:
    """One threaded reply: linked title, authors, why and scores, abstract, 👍/👎."""
    paper = entry.paper
    blocks = [section(f"*{link(paper)}*\n{escape(shorten_authors(paper.authors))}")]
    labels = " · ".join(score_labels(entry))
    blocks.append(context(f"*Why:* {escape(why(entry))}", escape(labels)))
    if paper.abstract.strip():
        blocks.append(section(escape(trim(one_line(paper.abstract)))))
    blocks.append(vote_block(paper.id, up, down))
    return blocks


def with_tally(blocks: Sequence[Block], paper_id: str, up: int, down: int) -> list[Block]:
    """The message's blocks with its vote buttons showing the current tallies (and 📌 Save
    when the message had it)."""
    old = [b for b in blocks if b.get("block_id", "").startswith(VOTE_BLOCK)]
    save = not old or any(e.get("action_id") == SAVE for b in old for e in b.get("elements", []))
    fresh = vote_block(paper_id, up, down, save)
    out = [fresh if b.get("block_id", "").startswith(VOTE_BLOCK) else b for b in blocks]
    return out if fresh in out else [*out, fresh]


def paper_of(message: dict[str, Any]) -> str | None:
    """The paper a posted reply is about: from its metadata, else from its vote buttons."""
    meta = message.get("metadata") or {}
    if meta.get("event_type") == PAPER_EVENT:
        found = (meta.get("event_payload") or {}).get("paper")
        if found:
            return str(found)
    for block in message.get("blocks") or []:
        block_id = str(block.get("block_id", ""))
        if block_id.startswith(VOTE_BLOCK):
            return block_id[len(VOTE_BLOCK) :]
    return None


def is_day_parent(message: dict[str, Any], day: date) -> bool:
    meta = message.get("metadata") or {}
    return (
        meta.get("event_type") == DAY_EVENT
        and (meta.get("event_payload") or {}).get("day") == day.isoformat()
    )


# limits -----------------------------------------------------------------------------------


def _texts(node: Any) -> Iterable[tuple[str, str]]:
    """(kind, text) of every text object under `node`."""
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
            yield node["type"], node["text"]
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def problems(blocks: Sequence[Block], text: str = "", max_blocks: int = MAX_BLOCKS) -> list[str]:
    """What in a message breaks Slack's limits; empty when it is fine to send."""
    found = []
    if not text:
        found.append("no fallback text")
    if len(blocks) > max_blocks:
        found.append(f"{len(blocks)} blocks (at most {max_blocks})")
    size = len(json.dumps(list(blocks), ensure_ascii=False))
    if size > MAX_MESSAGE_CHARS:
        found.append(f"{size} characters of blocks (at most {MAX_MESSAGE_CHARS})")
    for kind, body in _texts(list(blocks)):
        if len(body) > MAX_SECTION_CHARS:
            found.append(f"a {kind} text of {len(body)} characters")
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if len(element.get("value", "")) > MAX_BUTTON_VALUE:
                found.append("a button value over 2,000 characters")
    return found


# votes, App Home, commands ------------------------------------------------------------------


def confirmation(previous: int, value: int, title: str, *, markup: bool = True) -> str:
    """The line a click gets: noted, switched, or undone (as mrkdwn, or as plain text)."""
    name = f"“{escape(one_line(title)) if markup else one_line(title)}”"
    if value == 0:
        return f"Your vote on {name} is undone."
    thumb = "👍" if value > 0 else "👎"
    verb = "Switched to" if previous else "Noted"
    return f"{verb} {thumb} on {name}. Your ranking learns from it at once."


def settings_blocks(reader: Reader, group_size: int) -> list[Block]:
    """Email on/off and address, digest size, votes shared or private: controls that act at
    once."""
    size = reader.digest_size or group_size
    email = reader.email or ""
    pending = reader.pending_email or ""
    state = "on" if reader.email_enabled and (email or pending) else "off"
    toggle = "Turn email off" if state == "on" else "Turn email on"
    sizes = sorted({*DIGEST_SIZES, size})
    option = {str(n): {"text": plain(f"{n} papers"), "value": str(n)} for n in sizes}
    cadences = {c: {"text": plain(c.capitalize()), "value": c} for c in ("daily", "weekly")}
    hours = {GROUP_HOUR: {"text": plain("With the group's digest"), "value": GROUP_HOUR}} | {
        str(h): {"text": plain(f"{h:02d}:00 your time"), "value": str(h)} for h in range(24)
    }
    chosen = GROUP_HOUR if reader.hour is None else str(reader.hour)
    where = str(zone(reader))
    if reader.hour is None:
        when = (
            "with the group's digest"
            if reader.cadence == "daily"
            else "on Friday, once its digest is made"
        )
    else:
        when = f"at {reader.hour:02d}:00 your time ({escape(where)})"
    address: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": HOME_EMAIL,
        "placeholder": plain("you@example.org"),
    }
    if pending or email:
        address["initial_value"] = pending or email
    waiting = ""
    if pending:
        waiting = (
            f"\n:envelope: Waiting for you to confirm {escape(pending)}: follow the link "
            "Paperboy mailed there"
            + (f" (until then your digest goes to {escape(email)})." if email else ".")
        )
    shared = (
        "shared with the group (counts, names in the weekly post, your colleagues' rankings)"
        if reader.share_votes
        else "kept to yourself (the tallies on a paper's reply in the thread still count them)"
    )
    share = "Keep my votes private" if reader.share_votes else "Share my votes with the group"
    return [
        section(
            f"*Email digest:* {state}"
            + (f" to {escape(email)}" if email else "")
            + waiting
            + f"\n*Digest size:* {size} papers"
            + f"\n*When:* {reader.cadence}"
            + (", on Fridays" if reader.cadence == "weekly" and reader.hour is not None else "")
            + f", {when}"
            + f"\n*Your votes:* {shared}"
        ),
        {
            "type": "actions",
            "block_id": "settings",
            "elements": [
                button(toggle, HOME_EMAIL_TOGGLE, "on" if state == "off" else "off"),
                {
                    "type": "static_select",
                    "action_id": HOME_DIGEST_SIZE,
                    "placeholder": plain("Digest size"),
                    "initial_option": option[str(size)],
                    "options": list(option.values()),
                },
                {
                    "type": "static_select",
                    "action_id": HOME_CADENCE,
                    "placeholder": plain("How often"),
                    "initial_option": cadences[reader.cadence],
                    "options": list(cadences.values()),
                },
                {
                    "type": "static_select",
                    "action_id": HOME_HOUR,
                    "placeholder": plain("When"),
                    "initial_option": hours[chosen],
                    "options": list(hours.values()),
                },
                button(share, HOME_SHARE_TOGGLE, "private" if reader.share_votes else "shared"),
            ],
        },
        {
            "type": "input",
            "block_id": "email",
            "dispatch_action": True,
            "optional": True,
            "label": plain("Email address (press Enter to save)"),
            "element": address,
        },
    ]


def home_view(
    reader: Reader,
    votes: Sequence[tuple[Vote, Paper | None]],
    learned: Explanation | None,
    group_size: int,
    admin: Sequence[str] | None = None,
    notice: str | None = None,
    reading: Sequence[Block] = (),
) -> dict[str, Any]:
    """The App Home tab: what the profile has learned (None: not known now), the reader's
    votes and reading list (`reading`, its blocks), settings, admin facts."""
    blocks: list[Block] = []
    if notice:
        blocks.append(section(escape(notice)))
    blocks.append({"type": "header", "text": plain("Your Paperboy profile", 150)})
    if learned is None:
        blocks.append(section(LEARNED_LATER))
    else:
        blocks.extend(_learned(learned))
    if votes:
        lines = []
        for vote, paper in votes:
            thumb = "👍" if vote.value > 0 else "👎"
            title = link(paper) if paper else escape(vote.paper)
            lines.append(f"{thumb} {title} · {vote.at:%d %b}")
        blocks.append(section("*Recent votes*\n" + "\n".join(lines)))
    else:
        blocks.append(
            section(
                "*Recent votes*\nNone yet: 👍 or 👎 a paper in the channel to "
                "teach Paperboy your taste."
            )
        )
    blocks.extend(reading)
    if learned is not None:
        up = ", ".join(escape(t) for t in learned.terms_up[:12]) or "—"
        down = ", ".join(escape(t) for t in learned.terms_down[:12]) or "—"
        blocks.append(section(f"*Top terms*\nMore of: {up}\nLess of: {down}"))
    seeds = [
        f"• {escape(s.title or s.id or '')}" + (f" ({escape(s.id)})" if s.id and s.title else "")
        for s in reader.seed_papers
    ]
    blocks.append(
        section(
            "*Seed papers*\n"
            + ("\n".join(seeds[:15]) or "None: `/paperboy seed <arXiv id>` adds one.")
        )
    )
    authors = ", ".join(escape(a) for a in reader.authors) or "None: `/paperboy follow <name>`."
    blocks.append(section(f"*Followed authors*\n{authors}"))
    blocks.append(divider())
    blocks.append({"type": "header", "text": plain("Settings", 150)})
    blocks.extend(settings_blocks(reader, group_size))
    if admin:
        blocks.append(divider())
        blocks.append({"type": "header", "text": plain("Group (admins)", 150)})
        blocks.extend(section(escape(line)) for line in admin)
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}


def _learned(learned: Explanation) -> list[Block]:
    """Home's view of a reader's model on the latest day: their own top papers, each with the
    reason that speaks most for it, and the papers to vote on to help it learn."""
    if learned.day is None:
        return []
    blocks = []
    if learned.top:
        lines = [
            f"*{n}.* {link(entry.paper)}\n_{escape(_main_reason(entry))}_"
            for n, entry in enumerate(learned.top, 1)
        ]
        heading = f"*Your top {len(learned.top)} of {learned.day:%a %d %b}*"
        blocks.append(section(heading + "\n" + "\n".join(lines)))
    if learned.unsure:
        blocks.append(
            section(
                "*Help Paperboy learn your taste*\nYour ranking is least sure about these "
                f"papers of {learned.day:%a %d %b}: a 👍 or 👎 on them teaches it most."
            )
        )
        for paper in learned.unsure:
            blocks.append(section(f"{link(paper)}\n{escape(shorten_authors(paper.authors))}"))
            blocks.append(vote_block(paper.id))
    return blocks


def _main_reason(entry: Ranked) -> str:
    """The reason that names the reader's own teaching when there is one, else the first."""
    reasons = entry.score.reasons
    mine = [r for r in reasons if r.startswith(("you liked", "followed author", "terms you"))]
    return (mine or reasons or ["ranked by overall similarity to your interests"])[0]


def top_blocks(day: date, entries: Sequence[Ranked]) -> list[Block]:
    """A reader's own top papers of a day, compact, with 👍/👎 (an ephemeral message)."""
    blocks = [section(f"*Your top {len(entries)} for {day:%a %d %b}*")]
    for n, entry in enumerate(entries, 1):
        paper = entry.paper
        blocks.append(
            section(
                f"*{n}.* {link(paper)}\n{escape(shorten_authors(paper.authors))}"
                f"\n_{escape(why(entry))}_"
            )
        )
        blocks.append(vote_block(paper.id))
    return blocks[:MAX_BLOCKS]


def seed_added(seed: SeedPaper) -> str:
    """The answer to a seed paper added from Slack."""
    return (
        f"Added seed paper {seed.id} “{escape(seed.title)}”. Your ranking leans towards it from "
        "the next day on."
    )


def forget_blocks() -> list[Block]:
    """The confirmation `/paperboy forget` asks for."""
    return [
        section(
            "Delete everything Paperboy keeps about you: your votes, reading-group choices, "
            "reading list, seed papers, followed authors and settings? This cannot be undone."
        ),
        {
            "type": "actions",
            "block_id": "forget",
            "elements": [
                button("Delete my data", FORGET_CONFIRM, "forget", style="danger"),
                button("Cancel", FORGET_CANCEL, "cancel"),
            ],
        },
    ]
