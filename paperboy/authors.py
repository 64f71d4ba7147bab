"""Matching paper authors to followed authors, robust to TeX, mojibake, case and initials.

The rule: surnames must be equal after normalisation, and given names compatible (an initial
matches any name it begins; full names must be equal; a side may omit middle names). A name
given only by initials ("J. Smith") matches only when exactly one followed author fits it, so
following John Smith and Jane Smith does not credit either with every "J. Smith".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from paperboy.tex import clean

_MATCHES: dict[tuple[tuple[str, ...], str], str | None] = {}  # a cache keyed by content
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})


@dataclass(frozen=True)
class Name:
    """A person's name reduced for matching: given names and surname, lower-case ASCII."""

    given: tuple[str, ...]
    surname: str

    @property
    def initials_only(self) -> bool:
        return all(len(g) == 1 for g in self.given)


def fold(text: str) -> str:
    """Lower-case ASCII letters and spaces: TeX accents, mojibake and diacritics removed."""
    if text.isascii() and not any(c in text for c in "\\{}$~"):
        return re.sub(r"[^a-z ]+", " ", text.lower().replace(".", ". ")).strip()
    text = unicodedata.normalize("NFKD", clean(text))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("ø", "o").replace("ß", "ss").replace("ł", "l").replace("æ", "ae")
    return re.sub(r"[^a-z ]+", " ", text.lower().replace(".", ". ")).strip()


def parse_name(raw: str) -> Name | None:
    """`Yann A. LeCun`, `LeCun, Yann`, `GÃ¡lvez`, `Casta\\~neda` -> Name; None if empty."""
    if "," in raw:  # "Surname, Given" as BibTeX and some lists write it
        last, _, first = raw.partition(",")
        raw = f"{first} {last}"
    parts = fold(raw.replace("-", " ")).split()
    while len(parts) > 1 and parts[-1] in _SUFFIXES:
        parts.pop()
    if not parts:
        return None
    return Name(given=tuple(parts[:-1]), surname=parts[-1])


def _given_compatible(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """A paper's given names `a` fit followed `b`: aligned ones agree, middle names may be missing.

    A followed surname alone matches any given names; a paper's bare surname matches only that.
    """
    if not b:
        return True
    if not a:
        return False
    if not _part_compatible(a[0], b[0]):
        return False
    rest_a, rest_b = a[1:], b[1:]
    # Middle names: compare only when both sides give them, in order.
    return all(_part_compatible(x, y) for x, y in zip(rest_a, rest_b, strict=False))


def _part_compatible(x: str, y: str) -> bool:
    if len(x) == 1 or len(y) == 1:
        return x[0] == y[0]
    return x == y


class AuthorMatcher:
    """Finds which followed authors wrote a paper."""

    def __init__(self, followed: list[str]) -> None:
        self.followed = tuple(followed)
        self.by_surname: dict[str, list[tuple[Name, str]]] = {}
        for raw in followed:
            name = parse_name(raw)
            if name is not None:
                self.by_surname.setdefault(name.surname, []).append((name, raw.strip()))

    def _cached(self, raw: str) -> str | None:
        key = (self.followed, raw)
        if key not in _MATCHES:
            if len(_MATCHES) > 200_000:
                _MATCHES.clear()
            _MATCHES[key] = self.match(raw)
        return _MATCHES[key]

    def match(self, raw: str) -> str | None:
        """The followed author (as configured) this author string names, or None."""
        last = raw.rsplit(None, 1)[-1].lower() if raw.strip() else ""
        if last.isalpha() and last.isascii() and last not in self.by_surname and "," not in raw:
            return None  # the common case, decided without parsing the name
        name = parse_name(raw)
        if name is None:
            return None
        candidates = self.by_surname.get(name.surname, [])
        fits = [label for other, label in candidates if _given_compatible(name.given, other.given)]
        if len(fits) == 1:
            return fits[0]
        # Several fit: only an exact full-name match is unambiguous.
        exact = [label for other, label in candidates if other.given == name.given]
        return exact[0] if len(exact) == 1 and not name.initials_only else None

    def followed_in(self, authors: list[str]) -> list[str]:
        """The followed authors among a paper's authors, in the paper's order, each once."""
        if not self.by_surname:
            return []
        found = (self._cached(a) for a in authors)
        return list(dict.fromkeys(f for f in found if f is not None))
