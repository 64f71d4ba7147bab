"""Search on a real Redis: the index an ingest builds, BM25 over titles and abstracts, authors by
name, the answer within Block Kit's limits, and `paperboy search` on the terminal."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from paperboy import blocks, search_blocks
from paperboy.arxiv import Fetched
from paperboy.days import Batch, Context
from paperboy.index import SearchIndex, author_terms, query_terms
from paperboy.local import LocalScorer
from paperboy.models import Paper, Prior
from paperboy.pipeline import ingest
from paperboy.search import Found, search
from paperboy.store import Store
from tests.conftest import FIXTURES, parsed

BIG = FIXTURES / "days" / "cs.CL+cs.CV+cs.MM+cs.LG+cs.SI-2025-06-03.xml.gz"
SMALL = FIXTURES / "days" / "cs.SD+eess.AS-2025-06-04.xml"


def ingested(store: Store, path: Path, day: date) -> Batch:
    """A saved day ingested as the day's fetch step does (the feed parsed once a session)."""
    ctx = Context(store=store, prior=Prior(), local=LocalScorer(Prior()))
    return ingest(ctx, Fetched([parsed(path)], {}), day)


@pytest.fixture
def small(store: Store) -> Batch:
    return ingested(store, SMALL, date(2025, 6, 4))


def test_a_few_title_words_or_an_author_find_the_paper_first(store: Store) -> None:
    big = ingested(store, BIG, date(2025, 6, 3))  # 834 papers
    ingested(store, SMALL, date(2025, 6, 4))
    index = SearchIndex(store)
    missed = []
    for paper in big.papers[::40]:  # 21 papers across the day
        words = " ".join(w for w in paper.title.split() if len(w) > 3)[:40]
        hits = [hit.paper for hit in index.search(words)]
        if paper.id not in hits[:3]:
            missed.append((words, paper.id, hits[:3]))
    assert not missed
    paper = next(p for p in big.papers if "Shapley" in p.abstract)
    hits = [hit.paper for hit in index.search("Xiang Shi modality")]
    assert paper.authors[0] == "Xiang Shi" and hits[0] == paper.id


def test_author_terms_are_surnames_and_initials() -> None:
    assert author_terms(["Yann A. LeCun", "García-Pérez, José"]) == {
        "a:lecun",
        "a:y.lecun",
        "a:perez",
        "a:j.perez",
    }
    assert query_terms("Yann LeCun")[1] == ["a:yann", "a:lecun", "a:y.lecun"]


def test_words_of_no_paper_and_an_empty_query_find_nothing(store: Store, small: Batch) -> None:
    assert search(store, "zyxwvut qqqqq") == []
    assert search(store, "the of and") == []  # stop words only
    assert SearchIndex(store).search("") == []


def test_a_day_ingested_again_replaces_its_segment(store: Store) -> None:
    papers = [
        Paper(id="2506.90001", title="Quantum walks on hypergraphs", abstract="x"),
        Paper(id="2506.90002", title="Sparse attention for tables", abstract="y"),
    ]
    ctx = Context(store=store, prior=Prior(), local=LocalScorer(Prior()))
    index = SearchIndex(store)
    store.save_papers(papers)
    index.add_day(date(2025, 6, 3), papers)
    index.add_day(date(2025, 6, 3), papers[1:])
    assert [h.paper for h in index.search("hypergraphs")] == []
    assert [f.paper.id for f in search(store, "sparse attention")] == ["2506.90002"]
    assert ctx.store.redis.ttl(store.key("ix", "day", "2025-06-03")) > 40 * 86400


def test_the_answer_fits_slacks_limits_whatever_the_titles_hold(store: Store, small: Batch) -> None:
    found = search(store, "speech audio model")
    assert len(found) == 10
    hostile = Paper(
        id="2506.99999",
        title="<!channel> " + "Very long title & more " * 40,
        authors=[f"<@U{n}> Author" for n in range(40)],
        day=date(2025, 6, 3),
    )
    link = "https://example.slack.com/archives/C0PAPERS/p1750000000000002"
    found = [Found(hostile, 9.9, 3, 1, link), *found[:9]]
    answer = search_blocks.answer("<!here> reasoning", found)
    assert blocks.problems(answer["blocks"], str(answer["text"])) == []  # type: ignore[arg-type]
    text = json.dumps(answer, ensure_ascii=False)
    assert "<!channel>" not in text and "<!here>" not in text and "<@U1>" not in text
    assert f"<{link}|💬 its thread>" in text and "👍 3 · 👎 1" in text
    saves = [b["accessory"]["value"] for b in answer["blocks"] if "accessory" in b]  # type: ignore[index, union-attr]
    assert saves == [f.paper.id for f in found]
    nothing = search_blocks.answer("zyxwvut", [])
    assert "Nothing Paperboy has seen matches" in str(nothing["text"])


def test_paperboy_search_on_the_terminal(
    capsys: pytest.CaptureFixture[str], unconfigured: Path, store: Store
) -> None:
    from paperboy.cli import main

    assert main(["ingest", "--feed", str(SMALL), "--date", "2025-06-04"]) == 0
    paper = ingested(store, SMALL, date(2025, 6, 4)).papers[7]
    store.cast("U1", paper.id, 1, "cli")
    capsys.readouterr()
    assert main(["search", *paper.title.split()[:4], "--json", "--limit", "3"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["id"] == paper.id and rows[0]["up"] == 1 and len(rows) <= 3
    assert set(rows[0]) == {
        *("id", "title", "authors", "day", "categories", "url", "thread", "up", "down", "score")
    }
    assert main(["search", *paper.title.split()[:4]]) == 0
    out = capsys.readouterr().out
    assert out.startswith("  1. " + paper.title) and "👍 1 · 👎 0" in out
    assert main(["search", "zyxwvut"]) == 0
    assert "Nothing Paperboy has seen matches" in capsys.readouterr().out
