"""Author matching on real names from the fixtures: TeX accents, mojibake, initials."""

from __future__ import annotations

import pytest

from paperboy.arxiv import read_saved
from paperboy.authors import AuthorMatcher, fold, parse_name
from paperboy.feed import parse_feed
from tests.conftest import FIXTURES, parsed

FOLLOWED = ["Geoffrey E. Hinton", "Yoshua Bengio", "Samy Bengio", "Yann LeCun", "Kaiming He"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Yann LeCun", "Yann LeCun"),
        ("Y. LeCun", "Yann LeCun"),
        ("Yann A. LeCun", "Yann LeCun"),
        ("yann lecun", "Yann LeCun"),
        ("LeCun, Yann", "Yann LeCun"),
        ("Geoffrey Hinton", "Geoffrey E. Hinton"),
        ("G. E. Hinton", "Geoffrey E. Hinton"),
        ("Y. Bengio", "Yoshua Bengio"),
        ("S. Bengio", "Samy Bengio"),
        ("Kaiming He", "Kaiming He"),
        ("Xiaolong He", None),
        ("He", None),
        ("Bengio", None),
        ("Yann Dauphin", None),
        ("Geoffrey F. Hinton", None),
    ],
)
def test_followed_author_matching(raw: str, expected: str | None) -> None:
    assert AuthorMatcher(FOLLOWED).match(raw) == expected


def test_initials_shared_by_two_followed_authors_match_neither() -> None:
    matcher = AuthorMatcher(["John Smith", "Jane Smith"])
    assert matcher.match("J. Smith") is None
    assert matcher.match("John Smith") == "John Smith"
    assert matcher.match("Jane Smith") == "Jane Smith"
    assert matcher.match("J. Q. Smith") is None
    assert AuthorMatcher(["John Smith"]).match("J. Smith") == "John Smith"


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Carmen GÃ¡lvez", "carmen galvez"),  # mojibake, as in pool-2025-02-14.xml
        ("Casta\\~neda", "castaneda"),  # TeX accent, as arXiv writes it
        ("Ren\\'e Vidal", "rene vidal"),
        ("Jürgen Schmidhuber", "jurgen schmidhuber"),
    ],
)
def test_fold_removes_tex_mojibake_and_accents(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_dirty_spellings_match_a_clean_followed_name() -> None:
    matcher = AuthorMatcher(["Carmen Gálvez", "M. Castañeda"])
    assert matcher.match("Carmen GÃ¡lvez") == "Carmen Gálvez"
    assert matcher.match("Mar\\'ia Casta\\~neda") == "M. Castañeda"
    assert matcher.match("Carmen Galves") is None


def test_real_mojibake_author_in_a_pool_is_matched() -> None:
    body = read_saved(FIXTURES / "labeled/pool-2025-02-14.xml.gz")
    papers = parse_feed("pool", body).papers
    raw = read_saved(FIXTURES / "labeled/pool-2025-02-14.xml.gz").decode("utf-8")
    assert "GÃ¡lvez" in raw
    matcher = AuthorMatcher(["C. Galvez"])
    hits = [p.id for p in papers if matcher.followed_in(p.authors)]
    assert hits == ["2502.08648"]


def test_real_tex_accented_authors_in_a_day_are_matched() -> None:
    day = FIXTURES / "days/cs.CL+cs.CV+cs.MM+cs.LG+cs.SI-2025-06-03.xml.gz"
    raw = read_saved(day).decode("utf-8")
    assert "\\~n" in raw or "\\'" in raw
    papers = parsed(day).papers
    accented = [a for p in papers for a in p.authors if any(ord(c) > 127 for c in a)]
    assert accented
    name = accented[0]
    split = parse_name(name)
    assert split is not None and split.surname.isascii()
    assert AuthorMatcher([fold(name).title()]).match(name) == fold(name).title()
