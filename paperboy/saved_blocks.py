"""A reader's reading list as Slack Block Kit: on Home, in `/paperboy saved`, and the line a
press of 📌 Save gets (pure).

Each saved paper is one section, newest first, with a Remove button; a long list shows its
newest papers and says how to get the rest (every one is in the BibTeX file).
"""

from __future__ import annotations

from collections.abc import Sequence

from paperboy.blocks import Block, button, context, escape, link, one_line, section
from paperboy.models import Paper
from paperboy.reading_list import Saved
from paperboy.render import shorten_authors

REMOVE = "saved_remove"
"""The Remove button beside a paper on a reading list."""
ON_HOME = 10
"""Saved papers Home shows (a Home tab holds 100 blocks, and has more to show)."""
IN_MESSAGE = 20
"""Saved papers `/paperboy saved` shows (a message holds 50 blocks and about 12k characters)."""


def confirmation(saved: bool, title: str, *, markup: bool = True) -> str:
    """The line a press of 📌 Save (or Remove) gets."""
    name = f"“{escape(one_line(title)) if markup else one_line(title)}”"
    if saved:
        return (
            f"📌 Saved {name} to your reading list; it teaches your ranking like a 👍 unless you "
            "voted on it. Press 📌 Save again to remove it."
        )
    return f"Removed {name} from your reading list."


def item(saved: Saved, paper: Paper | None) -> Block:
    """One saved paper: linked title, authors, when it was saved, and Remove."""
    title = link(paper) if paper else escape(saved.paper)
    authors = escape(shorten_authors(paper.authors)) if paper else ""
    when = f"saved {saved.at:%d %b %Y}"
    text = f"{title}\n{authors} · {when}" if authors else f"{title}\n{when}"
    return section(text, accessory=button("Remove", REMOVE, saved.paper))


def list_blocks(
    saved: Sequence[tuple[Saved, Paper | None]], limit: int, heading: str
) -> list[Block]:
    """The newest `limit` papers of a reading list under a heading, and how to get the rest."""
    if not saved:
        return [
            section(
                f"{heading}\nNothing saved yet: press 📌 Save on a paper in the channel (or Save "
                "in your email) to keep it for later."
            )
        ]
    count = f"{len(saved)} paper{'' if len(saved) == 1 else 's'}"
    blocks = [section(f"{heading} ({count}, newest first)")]
    blocks.extend(item(mine, paper) for mine, paper in saved[:limit])
    more = len(saved) - limit
    tail = "`/paperboy saved bibtex` sends you all of it as a BibTeX file (Zotero imports it)."
    if more > 0:
        tail = f"{more} more not shown here. " + tail
    blocks.append(context(tail))
    return blocks


def home_blocks(saved: Sequence[tuple[Saved, Paper | None]]) -> list[Block]:
    """Home's section on the reading list."""
    return list_blocks(saved, ON_HOME, "*Your reading list*")


def message(saved: Sequence[tuple[Saved, Paper | None]]) -> dict[str, object]:
    """The answer to `/paperboy saved`: text and blocks."""
    text = f"Your reading list: {len(saved)} paper{'' if len(saved) == 1 else 's'}"
    return {"text": text, "blocks": list_blocks(saved, IN_MESSAGE, "*Your reading list*")}
