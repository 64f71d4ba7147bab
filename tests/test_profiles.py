"""A reader's votes move their ranking, undo and switch work, and explanations name terms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paperboy.feed import parse_feed
from paperboy.local import LocalScorer
from paperboy.models import Paper, Prior, Vote
from paperboy.prior import load_prior
from paperboy.profiles import ReaderModel, blend, blend_weight, current_votes

FIXTURES = Path(__file__).parents[1].parent / "shared/fixtures"
EXAMPLE = Path(__file__).parents[1] / "examples/profile"
T0 = datetime(2025, 2, 17, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def days() -> tuple[list[Paper], list[Paper]]:
    """Two real days: votes are cast on the first, the second is ranked."""
    a = parse_feed("a", (FIXTURES / "labeled/pool-2025-02-14.xml").read_bytes()).papers
    b = parse_feed("b", (FIXTURES / "labeled/pool-2025-02-17.xml").read_bytes()).papers
    return a, b


@pytest.fixture(scope="module")
def prior() -> Prior:
    return load_prior(None, None, None, EXAMPLE)


def _vote(paper: str, value: int, minutes: int) -> Vote:
    return Vote(reader="U1", paper=paper, value=value, at=T0 + timedelta(minutes=minutes))


def _rank(prior: Prior, votes: dict[str, int], voted: list[Paper], day: list[Paper]) -> list[str]:
    group = LocalScorer(prior).score(day)
    model = ReaderModel(prior, votes, {p.id: p for p in voted})
    return [s.paper for s in blend(group, model.score(day) if votes else {}, len(votes))]


def test_current_votes_keeps_the_latest_and_drops_undos() -> None:
    events = [
        _vote("a", 1, 0),
        _vote("b", 1, 1),
        _vote("b", 0, 2),
        _vote("c", 1, 3),
        _vote("c", -1, 4),
        _vote("d", -1, 5),
    ]
    assert current_votes(events) == {"a": 1, "c": -1, "d": -1}
    # Out-of-order delivery: the timestamp decides, not the position.
    assert current_votes([_vote("a", -1, 9), _vote("a", 1, 1)]) == {"a": -1}


def _find(papers: list[Paper], *words: str) -> list[Paper]:
    return [p for p in papers if any(w in p.title.lower() for w in words)]


def test_upvote_lifts_similar_papers_and_undo_restores(prior: Prior, days) -> None:
    old, today = days
    liked = _find(old, "diffusion")[:6]
    target = _find(today, "diffusion")
    assert liked and target
    before = _rank(prior, {}, [], today)
    events = [_vote(p.id, 1, i) for i, p in enumerate(liked)]
    after = _rank(prior, current_votes(events), liked, today)

    def mean_position(order: list[str]) -> float:
        return sum(order.index(p.id) for p in target) / len(target)

    assert mean_position(after) < mean_position(before) - 10  # of about 150 papers
    undone = events + [_vote(p.id, 0, 10 + i) for i, p in enumerate(liked)]
    assert current_votes(undone) == {}
    assert _rank(prior, current_votes(undone), liked, today) == before


def test_switching_to_downvote_sinks_similar_papers(prior: Prior, days) -> None:
    old, today = days
    voted = _find(old, "prun", "spars", "quantiz", "low-rank")[:4]
    assert len(voted) >= 3
    target = [p.id for p in _find(today, "prun", "spars", "quantiz", "low-rank")]
    assert target
    up = [_vote(p.id, 1, i) for i, p in enumerate(voted)]
    switched = up + [_vote(p.id, -1, 10 + i) for i, p in enumerate(voted)]
    order_up = _rank(prior, current_votes(up), voted, today)
    order_down = _rank(prior, current_votes(switched), voted, today)
    assert sum(order_down.index(t) for t in target) > sum(order_up.index(t) for t in target)


def test_no_votes_gives_exactly_the_group_order(prior: Prior, days) -> None:
    _, today = days
    group = LocalScorer(prior).score(today)
    ranked = blend(group, ReaderModel(prior, {}, {}).score(today), 0)
    assert [s.paper for s in ranked] == sorted(group, key=lambda k: (-group[k].score, k))
    assert blend_weight(0) == 0.0 and 0 < blend_weight(10) < blend_weight(100) < 1


def test_explanations_mention_terms_and_liked_papers(prior: Prior, days) -> None:
    old, today = days
    liked = _find(old, "diffusion")[:3]
    disliked = _find(old, "federated")[:1] + _find(old, "medical")[:1]
    votes = {p.id: 1 for p in liked} | {p.id: -1 for p in disliked}
    model = ReaderModel(prior, votes, {p.id: p for p in liked + disliked})
    explained = model.explain(today)
    assert "diffusion" in explained["terms"]["up"]
    assert explained["terms"]["down"]
    assert {w["paper"] for w in explained["weighty_papers"]} <= set(votes)
    scores = model.score(today)
    reasons = [r for s in scores.values() for r in s.reasons]
    assert any(r.startswith("terms you rated up: ") and "diffusion" in r for r in reasons)
    assert any(r.startswith("you liked '") for r in reasons)


def test_papers_let_pass_sink_similar_papers(prior: Prior, days) -> None:
    """Recent papers shown and not voted on are weak negatives: their neighbours sink."""
    old, today = days
    liked = _find(old, "prun", "spars", "quantiz")[:3]
    passed = _find(old, "diffusion")
    target = [p.id for p in _find(today, "diffusion")]
    assert liked and passed and target
    votes = {p.id: 1 for p in liked}
    group = LocalScorer(prior).score(today)

    def positions(recent: list[Paper]) -> float:
        model = ReaderModel(prior, votes, {p.id: p for p in liked}, recent=recent)
        order = [s.paper for s in blend(group, model.score(today), len(votes))]
        return sum(order.index(t) for t in target) / len(target)

    assert positions(passed) > positions([]) + 3
