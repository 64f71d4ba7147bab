"""The digest as text for people: a terminal table and an HTML page (pure)."""

from __future__ import annotations

import functools
import textwrap
from typing import Any

import jinja2

from paperboy.models import Digest, Ranked
from paperboy.resources import template_dir

SCORER_NAMES = {"local": "the local scorer", "claude": "Claude"}
ABSTRACT_CHARS = 400
"""How much of an abstract a digest shows, in characters."""


@functools.cache
def templates() -> jinja2.Environment:
    """The jinja2 environment over the packaged templates: strict and autoescaped."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def header(digest: Digest) -> str:
    """'Tue 03 Jun: 15 of 834 new papers; Claude judged 834 of 834 for $0.048 of $0.10'."""
    day = digest.day.strftime("%a %d %b")
    picked = f"{day}: {len(digest.entries)} of {digest.read:,} new papers"
    if digest.scorer != "claude":
        return f"{picked}, judged by {SCORER_NAMES.get(digest.scorer, digest.scorer)}"
    budget = f" of ${digest.budget_usd:.2f}" if digest.budget_usd is not None else ""
    out = " (the budget ran out)" if digest.ran_out else ""
    return (
        f"{picked}; Claude judged {digest.judged:,} of {digest.read:,} for "
        f"${digest.cost_usd:.3f}{budget}{out}"
    )


def shorten_authors(authors: list[str], keep: int = 3) -> str:
    """'A, B, C et al. (12 authors)' when the list is long."""
    if len(authors) <= keep + 1:
        return ", ".join(authors)
    return f"{', '.join(authors[:keep])} et al. ({len(authors)} authors)"


def trim(text: str, limit: int = ABSTRACT_CHARS) -> str:
    """Text cut at a word boundary (or mid-word, if it has none) with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if " " in head[limit // 2 :]:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,;:") + " …"


def score_labels(entry: Ranked) -> list[str]:
    """Short labels of how the paper scored: relevance and novelty, or the local score."""
    score = entry.score
    if score.relevance is not None:
        return [f"relevance {score.relevance}/10", f"novelty {score.novelty}/10"]
    return [f"{score.scorer} score {score.score:.2f}"]


def short_score(entry: Ranked) -> str:
    """A score in a few characters: 'R9 N8' for Claude's judgment, '1.23' for the local one."""
    score = entry.score
    if score.relevance is not None:
        return f"R{score.relevance} N{score.novelty}"
    return f"{score.score:.2f}"


def why(entry: Ranked) -> str:
    """The reasons a paper was picked, as one sentence."""
    reasons = [reason.strip().rstrip(".") for reason in entry.score.reasons if reason.strip()]
    return "; ".join(reasons) if reasons else "ranked by overall similarity to your interests"


def _items(digest: Digest) -> list[dict[str, Any]]:
    return [
        {
            "rank": n,
            "id": e.paper.id,
            "url": e.paper.url,
            "title": e.paper.title,
            "authors": shorten_authors(e.paper.authors),
            "scores": score_labels(e),
            "short": short_score(e),
            "why": why(e),
            "abstract": trim(e.paper.abstract),
        }
        for n, e in enumerate(digest.entries, 1)
    ]


def summary(digest: Digest) -> str:
    """One line on what was read and what is missing."""
    where = f" in {', '.join(digest.feeds)}" if digest.feeds else ""
    line = f"{digest.read:,} papers read{where}, {len(digest.entries)} picked."
    if digest.missing_feeds:
        when = "this week" if digest.since is not None else "today"
        line += f" Missing {when}: " + ", ".join(digest.missing_feeds) + "."
    return line


def digest_html(digest: Digest) -> str:
    """The digest as a standalone HTML page."""
    return (
        templates()
        .get_template("digest.html")
        .render(
            header=header(digest), summary=summary(digest), notes=digest.notes, items=_items(digest)
        )
    )


def digest_table(digest: Digest, width: int = 100) -> str:
    """The digest as a readable fixed-width table for a terminal."""
    width = max(60, width)
    title_width = width - 22
    lines = [header(digest), summary(digest), *[f"note: {n}" for n in digest.notes], ""]
    lines.append(f"{'#':>3}  {'score':<10} {'arXiv':<11} title / why")
    lines.append("-" * width)
    for item in _items(digest):
        title = textwrap.wrap(item["title"], title_width) or [""]
        lines.append(f"{item['rank']:>3}  {item['short']:<10} {item['id']:<11} {title[0]}")
        pad = " " * 27
        lines.extend(pad + more for more in title[1:])
        lines.extend(pad + part for part in textwrap.wrap(item["authors"], title_width))
        lines.extend(pad + part for part in textwrap.wrap("why: " + item["why"], title_width))
        lines.append("")
    if not digest.entries:
        lines.append("   (nothing to show)")
    return "\n".join(lines)
