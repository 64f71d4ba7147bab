"""Papers as BibTeX that Zotero, BibLaTeX and BibTeX import (pure).

One `@misc` entry per paper, as arXiv's own export writes them: `title`, `author` ("Last, First
and …"), `year`, `eprint`, `archivePrefix = {arXiv}`, `primaryClass` (when the feed named the
paper's categories) and `url`. The key is made from the paper alone (first author's surname,
year, first word of the title, arXiv id), so it never changes and never collides. Text is
UTF-8; LaTeX's special characters are escaped outside `$…$` math, and words with capitals
inside (BERT, LLMs, GPT-4) are braced so that a style keeps their case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from paperboy.authors import fold, parse_name
from paperboy.models import Paper

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "$": r"\$",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_SPECIALS = re.compile("|".join(re.escape(c) for c in _SPECIAL))
_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "la", "le", "des"}
    | {"dos", "das", "ter", "ten", "zu", "vom", "dem"}
)
_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})
_GROUP = re.compile(r"\b(collaboration|consortium|team|group|project|initiative)\b", re.I)
_NEW_ID = re.compile(r"^(\d{2})(\d{2})\.\d{4,5}$")
_OLD_ID = re.compile(r"^[a-z-]+(?:\.[A-Z]{2})?/(\d{2})\d{5}$")


def escape(text: str) -> str:
    """Text with LaTeX's special characters escaped."""
    return _SPECIALS.sub(lambda m: _SPECIAL[m.group(0)], text)


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def title(text: str) -> str:
    """A title as a BibTeX value: `$…$` math kept as written (when it is whole and its braces
    balance), the rest escaped, words with inner capitals braced."""
    text = " ".join(text.split())
    pieces = text.split("$")
    if len(pieces) % 2 == 0 or not all(_balanced(p) for p in pieces[1::2]):
        pieces = [text]  # no math to keep: every character is text
    out = []
    for n, piece in enumerate(pieces):
        if n % 2:
            out.append(f"${piece}$")
        else:
            out.append(" ".join(map(_cased, escape(piece).split(" "))))
    return "".join(out)


def _cased(word: str) -> str:
    """A word braced when a part of it has a capital after its first letter (BERT, LLMs, GPT-4,
    not Post-Imputation), so that a style keeps its case."""
    for part in word.split("-"):
        letters = [c for c in part if c.isalpha()]
        if any(c.isupper() for c in letters[1:]):
            return "{" + word + "}"
    return word


def author(raw: str) -> str:
    """One author as BibTeX writes a name: "von Last, Jr, First", or a group's name braced."""
    name = " ".join(raw.split())
    if _GROUP.search(name) or " and " in f" {name.lower()} ":
        return "{" + escape(name) + "}"
    if "," in name:  # already "Last, First"
        return escape(name)
    parts = name.split()
    suffix = ""
    if len(parts) > 2 and parts[-1].lower() in _SUFFIXES:
        suffix = parts.pop()
    if len(parts) == 1:
        return escape(parts[0])
    start = len(parts) - 1
    while start > 1 and parts[start - 1].lower() in _PARTICLES:
        start -= 1
    last, first = " ".join(parts[start:]), " ".join(parts[:start])
    return escape(f"{last}, {suffix}, {first}" if suffix else f"{last}, {first}")


def year(paper: Paper) -> str:
    """The paper's year: its announcement day's, else the one its arXiv id carries."""
    if paper.day is not None:
        return str(paper.day.year)
    found = _NEW_ID.match(paper.id) or _OLD_ID.match(paper.id)
    if not found:
        return ""
    yy = int(found.group(1))
    return str(1900 + yy if yy >= 91 else 2000 + yy)


def key(paper: Paper) -> str:
    """The entry's key: `shi2025modality_2506.00030`, from the paper alone."""
    first = parse_name(paper.authors[0]) if paper.authors else None
    surname = re.sub(r"[^a-z]", "", first.surname) if first else ""
    words = [w for w in fold(paper.title).split() if len(w) > 3] or fold(paper.title).split()
    word = words[0] if words else ""
    ident = re.sub(r"[^A-Za-z0-9.-]", "-", paper.id)
    return f"{surname or 'anon'}{year(paper)}{word}_{ident}"


def entry(paper: Paper) -> str:
    """One `@misc` entry."""
    fields = [
        ("title", title(paper.title)),
        ("author", " and ".join(author(a) for a in paper.authors if a.strip())),
        ("year", year(paper)),
        ("eprint", paper.id),
        ("archivePrefix", "arXiv"),
        ("primaryClass", paper.categories[0] if paper.categories else ""),
        ("url", paper.url),
    ]
    body = "".join(f"  {name} = {{{value}}},\n" for name, value in fields if value)
    return f"@misc{{{key(paper)},\n{body}}}\n"


def entries(papers: Iterable[Paper]) -> str:
    """Every paper's entry, separated by a blank line."""
    return "\n".join(entry(paper) for paper in papers)
