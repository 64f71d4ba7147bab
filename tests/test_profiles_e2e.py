"""Profiles through the store: votes move the reader's ranking, export/import and forget."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from paperboy.arxiv import fetch_feeds
from paperboy.days import Batch, Context
from paperboy.local import LocalScorer
from paperboy.models import Paper, Prior, Reader, Score, SeedPaper, Vote, VoteValue
from paperboy.pipeline import ingest, score
from paperboy.prior import load_prior
from paperboy.readers import explain_reader, rank_for
from paperboy.seeds import follow, unfollow
from paperboy.store import Store
from tests.conftest import FIXTURES

EXAMPLE = Path(__file__).parents[1] / "examples/profile"
T0 = datetime(2025, 2, 17, 9, tzinfo=UTC)
VOTED_DAY = FIXTURES / "labeled/pool-2025-02-14.xml.gz"
RANKED_DAY = FIXTURES / "labeled/pool-2025-02-17.xml.gz"


@pytest.fixture(scope="module")
def prior() -> Prior:
    return load_prior(None, None, None, EXAMPLE)


def _context(store: Store, prior: Prior) -> Context:
    return Context(store=store, prior=prior, local=LocalScorer(prior))


def _day(ctx: Context, path: Path, day: date) -> Batch:
    return ingest(ctx, fetch_feeds([str(path)], None), day)


@pytest.fixture
def days(store: Store, prior: Prior) -> tuple[Context, Batch, Batch, list[Score]]:
    """Two real days in the store: votes go on the first, the second is ranked."""
    ctx = _context(store, prior)
    old = _day(ctx, VOTED_DAY, date(2025, 2, 14))
    today = _day(ctx, RANKED_DAY, date(2025, 2, 17))
    return ctx, old, today, score(ctx, today)


def _vote(store: Store, paper: str, value: VoteValue, minute: int, reader: str = "U1") -> None:
    store.append_vote(
        Vote(reader=reader, paper=paper, value=value, at=T0 + timedelta(minutes=minute))
    )


def _about(papers: list[Paper], *words: str) -> list[Paper]:
    return [p for p in papers if any(w in p.title.lower() for w in words)]


def _mean_rank(order: list[Score], ids: list[str]) -> float:
    position = {s.paper: n for n, s in enumerate(order)}
    return sum(position[i] for i in ids) / len(ids)


def test_vote_undo_and_switch_move_the_ranking(days) -> None:
    ctx, old, today, group = days
    liked = _about(old.papers, "diffusion")[:6]
    target = [p.id for p in _about(today.papers, "diffusion")]
    assert len(liked) >= 4 and target
    assert rank_for(ctx, "U1", today, group) == group  # no votes: the group order itself

    for n, paper in enumerate(liked):
        _vote(ctx.store, paper.id, 1, n)
    up = rank_for(ctx, "U1", today, group)
    assert _mean_rank(up, target) < _mean_rank(group, target) - 5
    reasons = [r for s in up[:20] for r in s.reasons]
    assert any(r.startswith("you liked '") for r in reasons)
    assert any(r.startswith("terms you rated up: ") for r in reasons)

    for n, paper in enumerate(liked):  # switch: 👍 becomes 👎
        _vote(ctx.store, paper.id, -1, 10 + n)
    down = rank_for(ctx, "U1", today, group)
    assert _mean_rank(down, target) > _mean_rank(up, target) + 10
    assert _mean_rank(down, target) > _mean_rank(group, target)

    for n, paper in enumerate(liked):  # undo: back to no votes, so to the group order
        _vote(ctx.store, paper.id, 0, 20 + n)
    assert [s.paper for s in rank_for(ctx, "U1", today, group)] == [s.paper for s in group]


def test_the_profile_explains_itself_in_terms_and_papers(days) -> None:
    ctx, old, today, _ = days
    liked = _about(old.papers, "diffusion")[:4]
    disliked = _about(old.papers, "federated", "medical")[:2]
    for n, paper in enumerate(liked):
        _vote(ctx.store, paper.id, 1, n)
    for n, paper in enumerate(disliked):
        _vote(ctx.store, paper.id, -1, 10 + n)
    ctx.store.update_day(date(2025, 2, 17), order=score(ctx, today))
    explained = explain_reader(ctx, "U1")
    assert "diffusion" in explained.terms_up
    assert explained.terms_down
    assert "model" not in explained.terms_up  # said by every paper: it says nothing
    weighty = {w.paper for w in explained.weighty}
    assert weighty and weighty <= {p.id for p in liked + disliked}
    # Against the latest ranked day: the reader's top papers, and five to vote on to help it.
    assert explained.day == date(2025, 2, 17) and len(explained.top) == 5
    assert any(r.startswith("you liked '") for e in explained.top for r in e.score.reasons)
    unsure = {p.id for p in explained.unsure}
    assert len(unsure) == 5 and unsure <= {p.id for p in today.papers}


def test_export_then_import_into_an_empty_store_ranks_the_same(days, prior: Prior) -> None:
    ctx, old, today, group = days
    for n, paper in enumerate(_about(old.papers, "prun", "spars", "quantiz")[:5]):
        _vote(ctx.store, paper.id, 1, n)
    for n, paper in enumerate(_about(old.papers, "robot", "medical")[:3]):
        _vote(ctx.store, paper.id, -1, 10 + n)
    follow(ctx.store, "U1", "Yann LeCun")
    ctx.store.save_reader(
        (ctx.store.reader("U1") or Reader(id="U1")).model_copy(
            update={"seed_papers": [SeedPaper(title="Pruning sparse LLMs", abstract="We prune.")]}
        )
    )
    before = rank_for(ctx, "U1", today, group)
    assert before != group
    records = list(ctx.store.export_with_papers())
    assert {r["type"] for r in records} == {"reader", "vote", "paper"}

    ctx.store.redis.flushdb()  # an empty store
    assert rank_for(ctx, "U1", today, group) == group
    readers, votes, papers = ctx.store.import_with_papers(records)
    n_votes = sum(r["type"] == "vote" for r in records)
    assert (readers, votes, papers) == (
        1,
        n_votes,
        len({r["paper"] for r in records if r["type"] == "vote"}),
    )
    assert ctx.store.redis.ttl(ctx.store.key("paper", records[-1]["id"])) == -1  # kept for good
    after = rank_for(ctx, "U1", today, group)
    assert [(s.paper, s.reasons) for s in after] == [(s.paper, s.reasons) for s in before]
    assert [s.score for s in after] == pytest.approx([s.score for s in before])


def test_forget_removes_votes_seeds_and_settings(days) -> None:
    ctx, old, today, group = days
    _vote(ctx.store, old.papers[0].id, 1, 0)
    _vote(ctx.store, old.papers[1].id, -1, 1)
    follow(ctx.store, "U1", "Yann LeCun")
    ctx.store.save_reader(
        (ctx.store.reader("U1") or Reader(id="U1")).model_copy(
            update={
                "email": "u1@example.org",
                "email_enabled": True,
                "seed_papers": [SeedPaper(title="A seed", abstract="About pruning.")],
            }
        )
    )
    _vote(ctx.store, old.papers[0].id, 1, 0, reader="U2")
    ctx.store.forget("U1")
    assert ctx.store.votes("U1") == []
    assert ctx.store.reader("U1") is None
    assert "U1" not in ctx.store.reader_ids()
    assert ctx.store.tally(old.papers[0].id) == (1, 0)  # U2's vote stays
    assert ctx.store.tally(old.papers[1].id) == (0, 0)
    assert rank_for(ctx, "U1", today, group) == group
    assert [r["type"] for r in ctx.store.export_with_papers("U1")] == []


def test_followed_author_with_mojibake_comes_first(store: Store, prior: Prior) -> None:
    """A reader follows "Carmen Gálvez"; the pool spells her "Carmen GÃ¡lvez" (mojibake)."""
    ctx = _context(store, prior)
    batch = _day(ctx, VOTED_DAY, date(2025, 2, 14))
    group = score(ctx, batch)
    assert follow(store, "U1", "Carmen Gálvez")
    assert not follow(store, "U1", "carmen  gálvez")  # already followed
    other = next(p for p in batch.papers if p.id != "2502.08648")
    _vote(store, other.id, 1, 0)  # a vote, so that the reader's model speaks
    order = rank_for(ctx, "U1", batch, group)
    assert order[0].paper == "2502.08648"
    assert "followed author: Carmen Gálvez" in order[0].reasons
    assert unfollow(store, "U1", "CARMEN GÁLVEZ")
    assert rank_for(ctx, "U1", batch, group)[0].paper != "2502.08648"
