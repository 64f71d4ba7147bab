"""A reader's votes move their ranking, undo and switch work, and explanations name terms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from paperboy.local import LocalScorer
from paperboy.models import Paper, Prior, Vote
from paperboy.prior import load_prior
from paperboy.profiles import ProfileRecipe, ReaderModel, blend, blend_weight
from paperboy.vectors import fit_logistic
from paperboy.votes import current_votes
from tests.conftest import FIXTURES, parsed

EXAMPLE = Path(__file__).parents[1] / "examples/profile"
T0 = datetime(2025, 2, 17, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def days() -> tuple[list[Paper], list[Paper]]:
    """Two real days: votes are cast on the first, the second is ranked."""
    a = parsed(FIXTURES / "labeled/pool-2025-02-14.xml.gz").papers
    b = parsed(FIXTURES / "labeled/pool-2025-02-17.xml.gz").papers
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

    # Six votes of about 150 papers: the personal share is 0.9 * 6 / (6 + 30) of the blend.
    assert mean_position(after) < mean_position(before) - 5
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


def test_votes_teach_which_of_the_criteria_the_reader_favours(prior: Prior, days) -> None:
    """👍 on compression papers and 👎 on LLM papers: the criteria model says so, and uses it."""
    old, today = days
    liked = _find(old, "quantiz", "prun", "sparse", "low-rank", "compress")
    disliked = [p for p in _find(old, "llm", "language model") if p not in liked]
    assert len(liked) >= 4 and len(disliked) >= 10
    votes = {p.id: 1 for p in liked} | {p.id: -1 for p in disliked}
    model = ReaderModel(prior, votes, {p.id: p for p in liked + disliked})
    criteria = model.explain(today)["criteria"]
    assert "Model Compression" in criteria["up"]
    assert "Large Language Models (LLMs)" in criteria["down"]
    assert not set(criteria["up"]) & set(criteria["down"])
    top = sorted(model.score(today).values(), key=lambda s: -s.score)[:20]
    said = [r for s in top for r in s.reasons if r.startswith("close to what you vote up: ")]
    assert "close to what you vote up: Model Compression" in said
    assert not any("Large Language Models" in r for r in said)

    # Without the criteria model the personal ranking differs: it is part of the score.
    alone = ReaderModel(
        prior, votes, {p.id: p for p in liked + disliked}, recipe=ProfileRecipe(criteria_weight=0)
    )
    assert alone.explain(today)["criteria"] == {"up": [], "down": []}
    with_model, without = model.score(today), alone.score(today)
    assert sorted(with_model, key=lambda k: -with_model[k].score) != sorted(
        without, key=lambda k: -without[k].score
    )


def test_the_criteria_model_needs_both_kinds_of_vote(prior: Prior, days) -> None:
    """With 👍 only there is nothing to tell apart: no criteria are named, the kNN still ranks."""
    old, today = days
    liked = _find(old, "quantiz", "prun")[:4]
    model = ReaderModel(prior, {p.id: 1 for p in liked}, {p.id: p for p in liked})
    assert model.explain(today)["criteria"] == {"up": [], "down": []}
    assert len(model.score(today)) == len(today)


def test_a_group_with_no_criteria_or_seeds_still_learns_from_votes(days) -> None:
    old, today = days
    liked = _find(old, "quantiz", "prun")[:3]
    disliked = _find(old, "llm")[:3]
    votes = {p.id: 1 for p in liked} | {p.id: -1 for p in disliked}
    model = ReaderModel(Prior(), votes, {p.id: p for p in liked + disliked})
    scores = model.score(today)
    assert len(scores) == len(today)
    assert model.explain(today)["criteria"] == {"up": [], "down": []}
    target = _find(today, "quantiz", "prun")
    order = sorted(scores, key=lambda k: -scores[k].score)
    assert target and sum(order.index(p.id) for p in target) / len(target) < len(today) / 3


def test_fit_logistic_weighs_features_by_how_they_predict_the_label() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(200, 3))
    # Feature 0 predicts 👍, feature 1 predicts 👎, feature 2 is noise.
    y = np.where(2.0 * x[:, 0] - 2.0 * x[:, 1] + rng.normal(scale=0.5, size=200) > 0, 1.0, -1.0)
    w, _ = fit_logistic(x, y, c=1.0)
    assert w[0] > 1.0 and w[1] < -1.0 and abs(w[2]) < 0.5
    # Stronger regularisation shrinks every weight.
    shrunk, _ = fit_logistic(x, y, c=0.01)
    assert np.all(np.abs(shrunk) < np.abs(w))
