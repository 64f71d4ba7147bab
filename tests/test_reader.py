"""A reader's model: votes refit the group's scorer, move papers their way, and say why."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from paperboy.features import paper_key
from paperboy.local import LocalScorer
from paperboy.models import Paper, Prior, Score, SeedPaper, Vote
from paperboy.order import DayOrder, group_order, rank_reader
from paperboy.prior import load_prior
from paperboy.reader import ReaderModel, Taught, taught_from
from paperboy.votes import current_votes
from tests.conftest import FIXTURES, parsed

EXAMPLE = Path(__file__).parents[1] / "examples/profile"
T0 = datetime(2025, 2, 17, 9, tzinfo=UTC)
DAY = date(2025, 2, 17)


@pytest.fixture(scope="module")
def days() -> tuple[list[Paper], list[Paper]]:
    """Two real days: votes are cast on the first, the second is ranked."""
    a = parsed(FIXTURES / "labeled/pool-2025-02-14.xml.gz").papers
    b = parsed(FIXTURES / "labeled/pool-2025-02-17.xml.gz").papers
    return a, b


@pytest.fixture(scope="module")
def scorer() -> LocalScorer:
    return LocalScorer(load_prior(None, None, None, EXAMPLE))


def _vote(paper: str, value: int, minutes: int) -> Vote:
    return Vote(reader="U1", paper=paper, value=value, at=T0 + timedelta(minutes=minutes))


def _order(scorer: LocalScorer, taught: Taught, day: list[Paper]) -> list[str]:
    """The reader's order of a day, as the pipeline makes it (no Claude: one band)."""
    group = DayOrder.of(DAY, day, group_order(scorer.score(day)))
    if not taught:
        return rank_reader(group, None).ids
    return rank_reader(group, ReaderModel(scorer, taught).fit(day).score).ids


def _find(papers: list[Paper], *words: str) -> list[Paper]:
    return [p for p in papers if any(w in p.title.lower() for w in words)]


def _mean_place(order: list[str], papers: list[Paper]) -> float:
    return sum(order.index(p.id) for p in papers) / len(papers)


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


def test_nothing_taught_is_exactly_the_group_model(scorer: LocalScorer, days) -> None:
    _, today = days
    fit = ReaderModel(scorer, Taught()).fit(today)
    assert np.allclose(fit.score, scorer.fit(today).score)
    # Votes on papers no longer stored cannot teach: they leave the model the group's.
    assert not taught_from({"2401.00001": 1}, {})


def test_upvote_lifts_similar_papers_and_undo_restores(scorer: LocalScorer, days) -> None:
    old, today = days
    liked = _find(old, "diffusion")[:6]
    target = _find(today, "diffusion")
    assert liked and target
    before = _order(scorer, Taught(), today)
    events = [_vote(p.id, 1, i) for i, p in enumerate(liked)]
    voted = {p.id: p for p in liked}
    after = _order(scorer, taught_from(current_votes(events), voted), today)
    assert _mean_place(after, target) < _mean_place(before, target) - 5
    undone = events + [_vote(p.id, 0, 10 + i) for i, p in enumerate(liked)]
    assert _order(scorer, taught_from(current_votes(undone), voted), today) == before


def test_switching_to_downvote_sinks_similar_papers(scorer: LocalScorer, days) -> None:
    old, today = days
    voted = _find(old, "prun", "spars", "quantiz", "low-rank")[:4]
    assert len(voted) >= 3
    target = _find(today, "prun", "spars", "quantiz", "low-rank")
    up = taught_from({p.id: 1 for p in voted}, {p.id: p for p in voted})
    down = taught_from({p.id: -1 for p in voted}, {p.id: p for p in voted})
    assert _mean_place(_order(scorer, down, today), target) > _mean_place(
        _order(scorer, up, today), target
    )


@pytest.mark.parametrize("value", [1, -1])
def test_a_vote_moves_the_paper_and_its_nearest_neighbours_its_way(
    scorer: LocalScorer, days, value: int
) -> None:
    """A vote on one of today's papers: it and the papers most like it move in the vote's
    direction in the reader's next order (before 👎's rule sinks the paper itself)."""
    _, today = days
    before = _order(scorer, Taught(), today)
    voted = next(p for p in today if p.id == before[len(before) // 3])
    corpus = scorer.fit(today).corpus
    near = corpus.similarity([voted])[:, 0]
    neighbours = [today[i] for i in np.argsort(-near) if today[i].id != voted.id][:5]
    after = _order(scorer, taught_from({voted.id: value}, {voted.id: voted}), today)

    def moved(p: Paper) -> int:  # places gained
        return before.index(p.id) - after.index(p.id)

    assert value * moved(voted) > 0
    assert value * sum(moved(p) for p in neighbours) > 0
    assert paper_key(voted) in corpus.similar  # its cosines are kept for the day's next refit


def test_papers_let_pass_sink_similar_papers(scorer: LocalScorer, days) -> None:
    """Papers shown on an earlier day and not voted on are more negatives: their kin sink."""
    old, today = days
    liked = _find(old, "prun", "spars", "quantiz")[:3]
    passed = _find(old, "diffusion")
    target = _find(today, "diffusion")
    assert liked and passed and target
    voted = {p.id: p for p in liked}
    alone = _order(scorer, taught_from({p.id: 1 for p in liked}, voted), today)
    let_pass = _order(scorer, taught_from({p.id: 1 for p in liked}, voted, passed=passed), today)
    assert _mean_place(let_pass, target) > _mean_place(alone, target)


def test_own_seed_papers_teach_without_a_vote(scorer: LocalScorer, days) -> None:
    old, today = days
    seed = _find(old, "diffusion")[0]
    taught = Taught(seeds=[SeedPaper(title=seed.title, abstract=seed.abstract, id=seed.id)])
    target = _find(today, "diffusion")
    before, after = _order(scorer, Taught(), today), _order(scorer, taught, today)
    assert _mean_place(after, target) < _mean_place(before, target)


def test_explanations_name_liked_papers_terms_and_the_weightiest_votes(
    scorer: LocalScorer, days
) -> None:
    old, today = days
    liked = _find(old, "diffusion")[:3]
    disliked = _find(old, "federated")[:1] + _find(old, "medical")[:1]
    votes = {p.id: 1 for p in liked} | {p.id: -1 for p in disliked}
    model = ReaderModel(scorer, taught_from(votes, {p.id: p for p in liked + disliked}))
    fit = model.fit(today)
    up, down = model.terms(fit)
    assert "diffusion" in up and down
    assert set(fit.pull) == set(votes) and max(fit.pull.values()) > 0
    reasons = [r for mine in model.reasons(fit, list(range(len(today)))) for r in mine]
    assert any(r.startswith("terms you rated up: ") and "diffusion" in r for r in reasons)
    liked_titles = {f"you liked '{p.title}'" for p in liked}
    assert liked_titles & set(reasons)


def test_a_papers_terms_are_among_those_the_profile_lists(scorer: LocalScorer, days) -> None:
    old, today = days
    liked = _find(old, "diffusion")[:1]  # one 👍: most of its words are above the day's mean
    model = ReaderModel(scorer, taught_from({liked[0].id: 1}, {liked[0].id: liked[0]}))
    fit = model.fit(today)
    listed, _ = model.terms(fit)
    named = [
        term
        for mine in model.reasons(fit, list(range(len(today))))
        for r in mine
        if r.startswith("terms you rated up: ")
        for term in r.removeprefix("terms you rated up: ").split(", ")
    ]
    assert named and set(named) <= set(listed)


def test_unsure_papers_are_unvoted_near_the_boundary_among_the_top(
    scorer: LocalScorer, days
) -> None:
    old, today = days
    liked = _find(old, "diffusion")[:3]
    model = ReaderModel(scorer, taught_from({p.id: 1 for p in liked}, {p.id: p for p in liked}))
    fit = model.fit(today)
    unsure = model.unsure(fit, today)
    assert len(unsure) == 5
    top = set(np.argsort(-fit.score, kind="stable")[:50].tolist())
    assert set(unsure) <= top
    others = [abs(fit.margins[i]) for i in top - set(unsure)]
    assert max(abs(fit.margins[i]) for i in unsure) <= min(others)


def test_a_group_with_no_criteria_or_seeds_still_learns_from_votes(days) -> None:
    old, today = days
    liked = _find(old, "quantiz", "prun")[:3]
    disliked = _find(old, "llm")[:3]
    votes = {p.id: 1 for p in liked} | {p.id: -1 for p in disliked}
    scorer = LocalScorer(Prior())
    taught = taught_from(votes, {p.id: p for p in liked + disliked})
    target = _find(today, "quantiz", "prun")
    assert target
    assert _mean_place(_order(scorer, taught, today), target) < len(today) / 3


def test_votes_never_lift_a_paper_out_of_claudes_band(scorer: LocalScorer, days) -> None:
    """A paper Claude rated irrelevant stays below every paper it rated relevant, whatever the
    reader's votes; within a band the reader's model decides."""
    old, today = days
    local = scorer.score(today)
    liked = _find(old, "diffusion")[:6]
    graded = {
        p.id: local[p.id].model_copy(
            update={"relevance": 9 if n % 3 == 0 else 2 if n % 3 == 1 else 5, "novelty": 5}
        )
        for n, p in enumerate(today)
    }
    group = DayOrder.of(DAY, today, group_order(local, graded))
    model = ReaderModel(scorer, taught_from({p.id: 1 for p in liked}, {p.id: p for p in liked}))
    personal = model.fit(today).score
    mine = rank_reader(group, personal)
    bands = group.band[mine.index].tolist()
    assert bands == sorted(bands)
    first = [int(i) for i in mine.index if group.band[i] == 0]
    assert first == sorted(first, key=lambda i: -personal[i])
    assert first != [int(i) for i in np.argsort(group.place) if group.band[i] == 0]  # reordered


def test_group_order_bands_by_claudes_grade(scorer: LocalScorer, days) -> None:
    _, today = days
    local = scorer.score(today)
    ids = list(local)
    judged = {
        ids[0]: Score(paper=ids[0], scorer="claude", score=3.5, relevance=3, novelty=5),
        ids[1]: Score(paper=ids[1], scorer="claude", score=8.1, relevance=8, novelty=1),
        ids[2]: Score(paper=ids[2], scorer="claude", score=9.0, relevance=9, novelty=0),
        ids[3]: Score(paper=ids[3], scorer="claude", score=5.5, relevance=5, novelty=5),
    }
    order = [s.paper for s in group_order(local, judged)]
    assert order[:2] == [ids[2], ids[1]]  # relevance first, then novelty
    assert order[-1] == ids[0]  # rated irrelevant: below every paper Claude did not read
    rest = [pid for pid in order[2:-1]]
    assert rest == sorted(rest, key=lambda pid: (-local[pid].score, pid))  # 5 and unread: local
