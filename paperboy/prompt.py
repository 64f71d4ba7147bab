"""The scoring prompt (pure): a byte-stable system prefix for caching, then the papers as data.

The system prompt is two blocks: the instructions with the rubric and worked examples
(`templates/score_system.md.j2`), then the group's criteria and seed-paper abstracts
(`templates/score_group.md.j2`), the last marked for prompt caching. Both depend only on the
group's prior, so every batch of a day (and every day until the prior changes) shares them.
The papers go in the user message (`templates/score_papers.md.j2`) inside `<papers>` tags: id,
title and abstract. Authors are left out: the rubric judges the work, not who wrote it, and
followed authors are found locally; leaving them out saves about a twentieth of the input.

Claude writes a reason only for a paper it rates relevant (RELEVANCE_THRESHOLD or more): every
digest is drawn from those papers first, so theirs are the reasons read, and reasons are most of
what a reply costs. Any other paper's card shows its grades and the local scorer's reasons.

Untrusted text (titles, authors, abstracts, and the seeds too) is escaped before it reaches a
template: `&`, `<` and `>` become entities, so no abstract can close the data section or open a
paper of its own. Jinja's HTML autoescape is off because this is not HTML and escaping is done
here, on data objects that hold nothing but escaped strings.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from paperboy.judgment import RELEVANCE_THRESHOLD
from paperboy.models import Paper, Prior
from paperboy.resources import template_dir

MAX_SEEDS = 40
"""Seed papers placed in the system prompt, at most (a bound on the prefix's size)."""

MAX_SEED_CHARS = 1500
"""Characters of a seed's abstract placed in the prompt, at most."""

MAX_ABSTRACT_CHARS = 2000
"""Characters of a day's abstract sent to Claude, at most (arXiv caps abstracts near 1,920)."""

CHARS_PER_TOKEN = 4
"""A rough token count for estimates: one token per four characters of English."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Escaped:
    """A paper's fields, escaped so that they can only be data."""

    id: str
    title: str
    authors: str
    abstract: str


def escape_data(text: str) -> str:
    """Text that cannot close or open a tag: `&`, `<`, `>` (and quotes) as entities."""
    text = _CONTROL.sub(" ", text)
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def escaped(paper: Paper) -> Escaped:
    return Escaped(
        id=escape_data(paper.id),
        title=escape_data(" ".join(paper.title.split())),
        authors=escape_data(", ".join(paper.authors)),
        abstract=escape_data(_cut(paper.abstract, MAX_ABSTRACT_CHARS)),
    )


@cache
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(template_dir())),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


def system_blocks(prior: Prior, ttl: str | None = None) -> list[dict[str, Any]]:
    """The stable system prompt as text blocks, the last one marked for prompt caching (for the
    default 5 minutes, or `ttl`: "1h")."""
    seeds = [
        {
            "title": escape_data(" ".join(s.title.split())),
            "abstract": escape_data(_cut(s.abstract, MAX_SEED_CHARS)),
        }
        for s in prior.seeds[:MAX_SEEDS]
        if s.title.strip() or s.abstract.strip()
    ]
    rules = _env().get_template("score_system.md.j2").render(relevant=RELEVANCE_THRESHOLD)
    group = (
        _env()
        .get_template("score_group.md.j2")
        .render(
            criteria=escape_data(prior.criteria.strip())
            or "(no criteria given: judge relevance from the seed papers)",
            seeds=seeds,
        )
    )
    control: dict[str, str] = {"type": "ephemeral"}
    if ttl:
        control["ttl"] = ttl
    return [
        {"type": "text", "text": rules},
        {"type": "text", "text": group, "cache_control": control},
    ]


def papers_message(papers: list[Paper]) -> str:
    """The user message: the papers to judge, as escaped data inside `<papers>` tags."""
    return _env().get_template("score_papers.md.j2").render(papers=[escaped(p) for p in papers])


def prompt_key(blocks: list[dict[str, Any]], model: str) -> str:
    """A short hash of the model and the system prompt (criteria, seeds, rubric): cached
    judgments are valid only under the same key, so a changed criteria text re-scores."""
    digest = hashlib.sha256(model.encode())
    for block in blocks:
        digest.update(b"\0" + block["text"].encode())
    return digest.hexdigest()[:16]


def estimate_tokens(text: str) -> int:
    """Tokens in a text, roughly (rounded up)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def prefix_tokens(blocks: list[dict[str, Any]]) -> int:
    return sum(estimate_tokens(block["text"]) for block in blocks)
