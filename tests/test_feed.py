"""Parsing arXiv's RSS and Atom feeds, whole or not at all."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from paperboy.arxiv import read_saved
from paperboy.feed import FeedError, parse_arxiv_id, parse_feed
from paperboy.tex import clean, split_authors

from .conftest import BIG_DAY, FIXTURES, parsed

RSS = FIXTURES / "rss"
DAYS = FIXTURES / "days"


def parse(path: Path):
    return parse_feed(path.name, read_saved(path))


def test_rss_day_keeps_every_announce_type_and_the_feed_date() -> None:
    feed = parse(RSS / "stat-2024-03-26.xml")
    kinds = [p.announce_type for p in feed.papers]
    assert feed.day == date(2024, 3, 26)
    assert (
        kinds.count("new"),
        kinds.count("cross"),
        kinds.count("replace"),
        kinds.count("replace-cross"),
    ) == (35, 27, 41, 20)
    first = feed.papers[0]
    assert first.id == "2403.15527" and first.version == 1
    assert first.authors == ["Matteo Gasparin", "Aaditya Ramdas"]
    assert first.categories == ["stat.ML", "cs.LG"]
    assert first.abstract.startswith("Conformal prediction equips")
    assert "Announce Type" not in first.abstract


def test_new_and_cross_filter_drops_replacements() -> None:
    kept = parse(RSS / "stat-2024-03-26.xml").kept(["new", "cross"])
    assert len(kept) == 62
    assert {p.announce_type for p in kept} == {"new", "cross"}


def test_atom_flavour() -> None:
    feed = parse(RSS / "cs.AI-2025-08-20-atom-7.xml")
    assert feed.day == date(2025, 8, 20)
    assert [p.announce_type for p in feed.papers].count("cross") == 5
    assert feed.papers[0].id == "2508.13426"
    assert feed.papers[0].authors == ["Chunhua Liu", "Kabir Manandhar Shrestha", "Sukai Huang"]


def test_truncated_feed_is_an_error_naming_it_never_half_a_feed() -> None:
    with pytest.raises(FeedError) as caught:
        parse(RSS / "cs.AI-2025-08-20-atom-TRUNCATED.xml")
    assert caught.value.feed == "cs.AI-2025-08-20-atom-TRUNCATED.xml"
    assert "87 items were readable" in str(caught.value)


@pytest.mark.parametrize(
    "body, says",
    [
        (b"<!DOCTYPE html><html><body><h1>503 Service Unavailable</h1></body></html>", "HTML page"),
        (b"Rate limit exceeded", "something instead of an RSS or Atom feed"),
        (b"   ", "empty"),
    ],
)
def test_error_pages_are_errors(body: bytes, says: str) -> None:
    with pytest.raises(FeedError, match=says):
        parse_feed("cs.LG", body)


def test_empty_weekend_feed_is_a_day_without_papers() -> None:
    feed = parse(RSS / "cs.LG-2026-04-25-empty-weekend.xml")
    assert feed.papers == [] and feed.day == date(2026, 4, 25)


def test_whole_day_ids_match_the_raw_xml() -> None:
    path = BIG_DAY
    raw = read_saved(path).decode("utf-8")
    items = re.findall(
        r"oai:arXiv.org:(\d{4}\.\d{4,5})v\d+</guid>.*?<arxiv:announce_type>(\S+)<", raw, re.DOTALL
    )
    expected = {pid for pid, kind in items if kind in ("new", "cross")}
    kept = parsed(path).kept(["new", "cross"])  # parse_feed, once per session
    assert len(kept) == len({p.id for p in kept}) == len(expected)
    assert {p.id for p in kept} == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("oai:arXiv.org:2502.11089v2", ("2502.11089", 2)),
        ("https://arxiv.org/abs/2403.15527", ("2403.15527", 1)),
        ("https://arxiv.org/pdf/2403.15527v3.pdf", ("2403.15527", 3)),
        ("oai:arXiv.org:math/0601001v1", ("math/0601001", 1)),
        ("no id here", None),
    ],
)
def test_arxiv_ids(text: str, expected: tuple[str, int] | None) -> None:
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize(
    "raw, readable",
    [
        (r"William Alberto Cruz-Casta\~neda", "William Alberto Cruz-Castañeda"),
        (r"Fran\c{c}ois M\"uller", "François Müller"),
        (r"Pawe{\l} Kowalski", "Paweł Kowalski"),
        (r"Mart\'{\i}n and \v{S}imon", "Martín and Šimon"),
        (r"Stra{\ss}e", "Straße"),
        ("Carmen GÃ¡lvez", "Carmen Gálvez"),
        ("TimothÃ©e Darcet", "Timothée Darcet"),
        ("Lilja Ã\x98vrelid", "Lilja Øvrelid"),
        ("Jan HajiÄ\x8d", "Jan Hajič"),
        (
            r"The $\mathcal{O}(n^2)$ cost of \textit{attention} \& 50\% --- solved",
            "The O(n^2) cost of attention & 50% — solved",
        ),
        ("Plain title, nothing to do", "Plain title, nothing to do"),
    ],
)
def test_tex_and_mojibake_become_readable(raw: str, readable: str) -> None:
    assert clean(raw) == readable


def test_authors_split_from_one_creator_string() -> None:
    assert split_authors(r"A. B\"ohm, C. D\'iaz,  E. F") == ["A. Böhm", "C. Díaz", "E. F"]


def test_real_dirty_authors_in_the_labeled_pools() -> None:
    papers = parse(FIXTURES / "labeled" / "pool-2025-02-14.xml.gz").papers
    names = [a for p in papers for a in p.authors]
    assert "Carmen Gálvez" in names
    assert not [n for n in names if "Ã" in n or "\\" in n]
