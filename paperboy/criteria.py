"""The group's criteria text read as data: topics, wanted keywords and unwanted ones.

The criteria are prose for an LLM (see `fixtures/profile/criteria.md`); the local scorer reads
the same file for its structure: numbered topics with "Relevant:"/"Irrelevant:" bullets, and a
keyword list. Anything it cannot place still counts as positive text, so free prose works too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*)$")
_TOPIC = re.compile(r"^\s{0,3}(?:\d+[.)]|#{2,6})\s+(.+?)\s*$")
_LABELLED = re.compile(r"^\s*[-*+]?\s*(?:\*\*)?([A-Za-z][A-Za-z /-]{1,40}?)(?:\*\*)?\s*:\s*(.*)$")
_NEGATIVE = re.compile(r"irrelevant|avoid|exclude|not relevant|unwanted|application", re.I)
_POSITIVE = re.compile(r"relevant|include|wanted|focus", re.I)
# Sections about how to score, not what to read: their words ("novelty", "score") are noise.
_RUBRIC = re.compile(r"scor|rubric|novelty|output|format", re.I)


@dataclass
class Topic:
    """One topic of the criteria: its name, what is wanted and what is not."""

    name: str
    relevant: str = ""
    irrelevant: str = ""


@dataclass
class Criteria:
    """The parts of a criteria text the local scorer uses."""

    topics: list[Topic] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    negative_keywords: list[str] = field(default_factory=list)
    prose: str = ""


def keyword_list(text: str) -> list[str]:
    """Phrases from "A (B), C/D, etc." -> ["A", "B", "C", "D"]; long clauses are dropped."""
    out: list[str] = []
    for part in re.split(r"[,;]|\bor\b|\band\b", text):
        part = re.sub(r"\b(etc|e\.g|i\.e|like)\b\.?", " ", part, flags=re.I)
        inner = re.findall(r"\(([^()]*)\)", part)
        part = re.sub(r"\([^()]*\)", " ", part)
        for piece in [*part.split("/"), *inner]:
            piece = re.sub(r"[^\w\s-]", " ", piece).strip()
            if piece and len(piece.split()) <= 4:
                out.append(piece)
    return list(dict.fromkeys(out))


def parse_criteria(text: str) -> Criteria:
    """Split a markdown criteria text into topics, keywords and negative keywords."""
    crit = Criteria()
    prose: list[str] = []
    topic: Topic | None = None
    in_rubric = False
    in_keywords = False
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            in_rubric = bool(_RUBRIC.search(heading.group(1)))
            in_keywords = "keyword" in heading.group(1).lower()
            topic = None
            continue
        if in_rubric or not line.strip():
            continue
        if re.match(r"^\s*\*\*[^*]*keywords?[^*]*\*\*", line, re.I):
            in_keywords, topic = True, None
            continue
        numbered = _TOPIC.match(line)
        if numbered and not in_keywords:
            topic = Topic(name=re.sub(r"[*_`]", "", numbered.group(1)).strip())
            crit.topics.append(topic)
            continue
        labelled = _LABELLED.match(line)
        if labelled:
            label, body = labelled.group(1), labelled.group(2)
            negative = bool(_NEGATIVE.search(label))
            if not negative and not _POSITIVE.search(label):
                prose.append(line)
                continue
            if in_keywords:
                (crit.negative_keywords if negative else crit.keywords).extend(keyword_list(body))
            elif topic is not None:
                if negative:
                    topic.irrelevant += " " + body
                else:
                    topic.relevant += " " + body
            else:
                prose.append(body if not negative else "")
            continue
        prose.append(re.sub(r"[*_`>#-]", " ", line))
    crit.keywords = list(dict.fromkeys(crit.keywords))
    crit.negative_keywords = list(dict.fromkeys(crit.negative_keywords))
    crit.prose = " ".join(p.strip() for p in prose if p.strip())
    if not crit.topics and not crit.keywords and not crit.prose:
        crit.prose = text
    return crit
