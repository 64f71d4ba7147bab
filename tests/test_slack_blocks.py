"""The Slack block builders: within Slack's limits, escaped, and readable back."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from paperboy import blocks, saved_blocks
from paperboy.models import Digest, Explanation, Paper, Ranked, Reader, Score, SeedPaper, Vote
from paperboy.reading_list import Saved
from tests.conftest import parsed

DAY = "cs.CL+cs.CV+cs.MM+cs.LG+cs.SI-2025-06-03.xml.gz"
NASTY = "Attention <!channel> & <@U123> is <https://evil.example|all> you need"


def ranked(paper: Paper, n: int = 0) -> Ranked:
    return Ranked(
        paper=paper,
        score=Score(
            paper=paper.id,
            scorer="claude",
            score=9 - n / 10,
            relevance=8,
            novelty=6,
            reasons=["criterion <b>&"],
        ),
    )


@pytest.fixture
def papers(fixtures: Path) -> list[Paper]:
    return parsed(fixtures / "days" / DAY).papers


def test_escape_stops_pings_and_links() -> None:
    assert blocks.escape(NASTY) == (
        "Attention &lt;!channel&gt; &amp; &lt;@U123&gt; is "
        "&lt;https://evil.example|all&gt; you need"
    )


def test_every_reply_of_a_real_day_is_within_limits(papers: list[Paper]) -> None:
    for n, paper in enumerate(papers):
        entry = ranked(paper, n)
        found = blocks.paper_blocks(entry, up=3, down=1)
        assert blocks.problems(found, blocks.paper_text(paper.title)) == [], paper.id
        assert blocks.paper_of({"blocks": found}) == paper.id


def test_a_nasty_title_pings_nobody(papers: list[Paper]) -> None:
    paper = papers[0].model_copy(update={"title": NASTY, "authors": ["<@U999>", "A & B"]})
    found = json.dumps([*blocks.paper_blocks(ranked(paper)), {"t": blocks.paper_text(NASTY)}])
    assert "<!channel>" not in found and "<@U123>" not in found and "<@U999>" not in found
    assert "&lt;!channel&gt;" in found
    assert "<https://evil.example" not in found


def test_huge_texts_are_clipped_within_limits(papers: list[Paper]) -> None:
    paper = papers[0].model_copy(
        update={"title": "T&" * 2000, "authors": ["X" * 4000] * 2, "abstract": "word " * 5000}
    )
    entry = ranked(paper)
    entry.score.reasons = ["<why>" * 1000]
    found = blocks.paper_blocks(entry)
    assert blocks.problems(found, blocks.paper_text(paper.title)) == []
    assert len(blocks.paper_text(paper.title)) <= blocks.MAX_TEXT_CHARS


def test_clip_never_cuts_an_entity_in_half() -> None:
    text = blocks.escape("a&" * 10)
    for limit in range(2, len(text)):
        cut = blocks.clip(text, limit)
        assert len(cut) <= limit
        assert not cut.rstrip("…").endswith(("&", "&a", "&am", "&amp"))


def test_problems_names_what_breaks_the_limits() -> None:
    many = [blocks.section("x")] * 51
    assert any("51 blocks" in p for p in blocks.problems(many, "t"))
    long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    assert any("3001" in p for p in blocks.problems(long, "t"))
    assert "no fallback text" in blocks.problems([], "")
    big = [{"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * 2900}] * 5}]
    assert any("characters of blocks" in p for p in blocks.problems(big, "t"))


def test_day_parent_says_what_was_read_and_is_found_again(papers: list[Paper]) -> None:
    digest = Digest(
        day=date(2025, 6, 3),
        read=834,
        entries=[ranked(p) for p in papers[:15]],
        scorer="claude",
        cost_usd=0.0123,
        judged=834,
        budget_usd=0.10,
        missing_feeds=["cs.SD <x>"],
        notes=["Ranked by <!here>"],
    )
    found = blocks.day_blocks(digest)
    text = json.dumps(found)
    assert "Tue 03 Jun: 15 of 834 new papers; Claude judged 834 of 834 for $0.012 of $0.10" in text
    assert "<!here>" not in text and "cs.SD &lt;x&gt;" in text
    assert blocks.problems(found, blocks.day_text(digest)) == []
    message = {"metadata": blocks.day_metadata(digest.day)}
    assert blocks.is_day_parent(message, date(2025, 6, 3))
    assert not blocks.is_day_parent(message, date(2025, 6, 4))


def test_tallies_replace_the_buttons_and_keep_the_rest(papers: list[Paper]) -> None:
    original = blocks.paper_blocks(ranked(papers[0]))
    updated = blocks.with_tally(original, papers[0].id, 2, 1)
    assert updated[:-1] == original[:-1]
    labels = [e["text"]["text"] for e in updated[-1]["elements"]]
    assert labels == ["👍 2", "👎 1", "📌 Save"]
    assert [e["value"] for e in updated[-1]["elements"]] == [papers[0].id] * 3
    assert blocks.paper_text("A <b>", 2, 1) == "A &lt;b&gt; (👍 2 · 👎 1)"


def test_paper_of_reads_metadata_first() -> None:
    meta = blocks.paper_metadata(date(2025, 6, 3), "2506.00001")
    assert blocks.paper_of({"metadata": meta, "blocks": []}) == "2506.00001"
    assert blocks.paper_of({"blocks": [blocks.vote_block("2506.00002")]}) == "2506.00002"
    assert blocks.paper_of({"text": "hello"}) is None


@pytest.mark.parametrize(
    ("previous", "value", "expected"),
    [
        (0, 1, "Noted 👍"),
        (0, -1, "Noted 👎"),
        (1, -1, "Switched to 👎"),
        (-1, 1, "Switched to 👍"),
        (1, 0, "is undone"),
    ],
)
def test_confirmation(previous: int, value: int, expected: str) -> None:
    assert expected in blocks.confirmation(previous, value, "A <title>")
    assert "<title>" not in blocks.confirmation(previous, value, "A <title>")


def test_home_view_within_limits_for_a_busy_reader(papers: list[Paper]) -> None:
    reader = Reader(
        id="U1",
        email="a@b.org",
        email_enabled=True,
        digest_size=7,
        seed_papers=[SeedPaper(id=p.id, title=p.title) for p in papers[:30]],
        authors=[f"Author <{n}>" for n in range(40)],
    )
    at = datetime(2025, 6, 3, tzinfo=UTC)
    shown = [(Vote(reader="U1", paper=p.id, value=1, at=at), p) for p in papers[:8]]
    admin = [f"line {n} <!channel>" for n in range(20)]
    learned = Explanation(
        terms_up=["a", "b"],
        terms_down=["<c>"],
        day=date(2025, 6, 3),
        top=[ranked(p) for p in papers[:5]],
        unsure=papers[5:10],
    )
    saved = [(Saved(p.id, at), p) for p in papers[:25]]
    reading = saved_blocks.home_blocks(saved)
    view = blocks.home_view(
        reader, shown, learned, 15, admin, notice="bad <input>", reading=reading
    )
    assert view["type"] == "home"
    assert len(view["blocks"]) <= blocks.MAX_HOME_BLOCKS
    assert (
        view["blocks"][-1]["type"] == "section" and "line 19" in view["blocks"][-1]["text"]["text"]
    )
    removes = [b["accessory"]["value"] for b in view["blocks"] if "accessory" in b]
    assert removes == [p.id for p in papers[:10]]  # the newest 10, each with Remove
    assert "15 more not shown here" in json.dumps(view, ensure_ascii=False)
    text = json.dumps(view)
    assert "<!channel>" not in text and "bad &lt;input&gt;" in text and "&lt;c&gt;" in text
    top = next(body for _, body in blocks._texts(view["blocks"]) if "Your top 5 of" in body)
    assert all(blocks.escape(p.title)[:30] in top for p in papers[:5])
    buttons = [
        e["value"]
        for b in view["blocks"]
        if b.get("type") == "actions"
        for e in b["elements"]
        if e.get("action_id") == blocks.VOTE_UP
    ]
    assert buttons == [p.id for p in papers[5:10]]  # 👍/👎 on each paper to help it learn
    for kind, body in blocks._texts(view["blocks"]):
        assert len(body) <= blocks.MAX_SECTION_CHARS, kind
    select = next(
        e
        for b in view["blocks"]
        if b.get("block_id") == "settings"
        for e in b["elements"]
        if e["type"] == "static_select"
    )
    assert select["initial_option"]["value"] == "7"
    assert select["initial_option"] in select["options"]


def test_top_and_forget_blocks_within_limits(papers: list[Paper]) -> None:
    top = blocks.top_blocks(date(2025, 6, 3), [ranked(p) for p in papers[:10]])
    assert blocks.problems(top, "top") == []
    assert blocks.problems(blocks.forget_blocks(), "forget") == []
