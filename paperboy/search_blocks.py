"""A search's answer as Slack Block Kit (pure): one section a paper, within Slack's limits.

Each paper shows its linked title, authors, day, tallies and a link to its thread when it was
posted, with 📌 Save beside it; the answer stays under a message's 50 blocks and ~12k
characters whatever the titles hold (titles and authors are clipped).
"""

from __future__ import annotations

from paperboy.blocks import (
    MAX_TEXT_CHARS,
    SAVE,
    Block,
    button,
    clip,
    context,
    escape,
    one_line,
    section,
)
from paperboy.render import shorten_authors
from paperboy.search import Found

TITLE_CHARS = 300
"""Characters of a title shown: ten papers' sections stay well inside a message's size."""


def line(n: int, item: Found) -> str:
    """One paper of the answer, as mrkdwn: the title and authors clipped, so the rest shows."""
    paper = item.paper
    title = clip(escape(one_line(paper.title)), TITLE_CHARS)
    facts = [clip(escape(shorten_authors(paper.authors)), 200)] if paper.authors else []
    if paper.day:
        facts.append(f"{paper.day:%d %b %Y}")
    facts.append(f"👍 {item.up} · 👎 {item.down}")
    if item.thread:
        facts.append(f"<{item.thread}|💬 its thread>")
    return f"*{n}.* <{paper.url}|{title}>\n" + " · ".join(facts)


def answer(query: str, found: list[Found]) -> dict[str, object]:
    """The private answer to `/paperboy search`: text and blocks."""
    asked = escape(one_line(query))
    if not found:
        text = f"Nothing Paperboy has seen matches “{asked}”."
        return {
            "text": clip(text, MAX_TEXT_CHARS),
            "blocks": [
                section(clip(text, 2000)),
                context(
                    "Search looks in titles, abstracts and author names of the papers of the "
                    "last weeks, and of every paper posted, voted on or saved. Try other words."
                ),
            ],
        }
    count = f"{len(found)} paper{'' if len(found) == 1 else 's'}"
    blocks: list[Block] = [section(clip(f"*{count} for “{asked}”*, best first", 2000))]
    for n, item in enumerate(found, 1):
        blocks.append(section(line(n, item), accessory=button("📌 Save", SAVE, item.paper.id)))
    blocks.append(context("📌 Save keeps a paper on your reading list (`/paperboy saved`)."))
    return {"text": clip(f"Search: {count} for “{asked}”", MAX_TEXT_CHARS), "blocks": blocks}
