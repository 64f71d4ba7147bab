"""Colleagues' votes: how far a colleague is trusted, what they teach a reader's model, what the
reader's digest shows of them, and nothing at all of a reader who keeps their votes private."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from paperboy.arxiv import fetch_feeds
from paperboy.colleagues import Colleagues
from paperboy.days import Batch, Context
from paperboy.group import Group, read_group
from paperboy.local import LocalScorer
from paperboy.models import GroupVotes, Paper, Reader, Score, Vote, VoteValue
from paperboy.order import DayOrder
from paperboy.pipeline import ingest, score
from paperboy.prior import load_prior
from paperboy.readers import rank_for, reader_digest
from paperboy.store import Store
from paperboy.vote_log import micros
from tests.conftest import FIXTURES

EXAMPLE = Path(__file__).parents[1] / "examples/profile"
T0 = datetime(2025, 2, 17, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    "mine, theirs, expected",
    [
        ({}, {"a": 1}, 0.0),  # nothing shared: a coin, so nothing
        ({"a": 1, "b": -1, "c": 1}, {"a": 1, "b": -1, "c": 1}, 3 / 5),  # (3 - 0) / (3 + 2)
        ({"a": 1, "b": 1, "c": 1}, {"a": 1, "b": 1, "c": -1, "d": 1}, 1 / 5),
        ({"a": 1, "b": 1}, {"a": 1, "b": -1}, 0.0),  # half agree: a coin
        ({"a": 1, "b": 1}, {"a": -1, "b": -1}, 0.0),  # always disagree: nothing, not less
    ],
)
def test_trust_is_how_much_better_than_a_coin_a_colleague_agrees(
    mine: dict[str, int], theirs: dict[str, int], expected: float
) -> None:
    group = Group({"U2": {p: (v, 0) for p, v in theirs.items()}}, T0)
    assert Colleagues.of(group).trusted("U1", mine) == {"U2": pytest.approx(expected)}


def test_evidence_weighs_trust_and_never_outweighs_the_readers_own_vote() -> None:
    until = T0
    now, old = micros(T0 - timedelta(hours=1)), micros(T0 - timedelta(days=8))
    agreed = {"s1": (1, now), "s2": (1, now), "s3": (-1, now)}  # as the reader voted: trust 3/5
    group = Group(
        {
            "U1": {"s1": (1, now), "s2": (1, now), "s3": (-1, now), "x": (1, now)},
            "U2": {**agreed, "x": (1, now), "y": (-1, now), "old": (1, old), "mine": (-1, now)},
            "U3": {**agreed, "x": (1, now)},
            "U4": {"s1": (-1, now), "s2": (-1, now), "x": (-1, now), "y": (1, now)},  # no trust
        },
        until,
        papers={p: Paper(id=p, title=p) for p in ("x", "y", "old", "mine", "s1", "s2", "s3")},
    )
    mine = {"s1": 1, "s2": 1, "s3": -1, "mine": -1}
    said = Colleagues.of(group).evidence("U1", mine)
    # U2 agrees on four papers (trust 4/6), U3 on three (3/5): x at 2/3 + 3/5 is held at one
    # vote; y is U2's 👎 alone; a vote of more than a week ago, and a paper the reader voted on,
    # say nothing; U4 disagrees, so is not heard; U1's own votes are not evidence.
    assert said == {"x": 1.0, "y": pytest.approx(-2 / 3)}
    assert group.counts(["x", "y", "z"], "U1") == {
        "x": GroupVotes(up=2, down=1),
        "y": GroupVotes(up=1, down=1),
    }


# through the store ------------------------------------------------------------------------


def _vote(store: Store, reader: str, paper: str, value: VoteValue, minute: int) -> None:
    at = T0 + timedelta(minutes=minute)
    store.append_vote(Vote(reader=reader, paper=paper, value=value, at=at))


def _about(papers: list[Paper], *words: str) -> list[Paper]:
    return [p for p in papers if any(w in p.title.lower() for w in words)]


def _mean_rank(order: list[Score], ids: list[str]) -> float:
    position = {s.paper: n for n, s in enumerate(order)}
    return sum(position[i] for i in ids) / len(ids)


@pytest.fixture
def days(store: Store) -> tuple[Context, Batch, Batch, list[Score]]:
    """Two real days: votes on the first; the second is ranked an hour after colleagues voted."""
    prior = load_prior(None, None, None, EXAMPLE)
    ctx = Context(store=store, prior=prior, local=LocalScorer(prior), now=lambda: T0)
    old = ingest(ctx, fetch_feeds([str(FIXTURES / "labeled/pool-2025-02-14.xml.gz")], None))
    today = ingest(ctx, fetch_feeds([str(FIXTURES / "labeled/pool-2025-02-17.xml.gz")], None))
    ctx.now = lambda: T0 + timedelta(hours=1)
    return ctx, old, today, score(ctx, today)


def test_a_trusted_colleagues_votes_move_the_readers_order_unless_kept_private(days) -> None:
    ctx, old, today, group = days
    store = ctx.store
    shared = _about(old.papers, "diffusion")[:3]
    for n, paper in enumerate(shared):  # the reader and U2 agree on three papers
        _vote(store, "U1", paper.id, 1, n)
        _vote(store, "U2", paper.id, 1, n)
    alone = rank_for(ctx, "U1", today, group)
    liked = _about(today.papers, "video")[:4]
    assert len(liked) == 4
    for n, paper in enumerate(liked):  # U2 likes today's papers on video
        _vote(store, "U2", paper.id, 1, 10 + n)
    helped = rank_for(ctx, "U1", today, group)
    ids = [p.id for p in liked]
    assert _mean_rank(helped, ids) < _mean_rank(alone, ids) - 5
    # Shown on the reader's own digest: each paper with its colleagues' votes.
    digest = reader_digest(ctx, DayOrder.of(today.day, today.papers, group), Reader(id="U1"))
    counted = {e.paper.id: e.group for e in digest.entries if e.group}
    assert counted and all(counted[p] == GroupVotes(up=1) for p in counted)
    assert set(counted) <= set(ids)
    # A reader with no votes of their own trusts nobody yet: exactly the group order.
    assert rank_for(ctx, "U3", today, group) == group

    store.save_reader(Reader(id="U2", share_votes=False))
    assert rank_for(ctx, "U1", today, group) == alone
    digest = reader_digest(ctx, DayOrder.of(today.day, today.papers, group), Reader(id="U1"))
    assert all(e.group is None for e in digest.entries)
    assert "U2" not in read_group(store, ctx.now()).votes


def test_votes_cast_after_the_digest_was_made_do_not_count(store: Store) -> None:
    store.save_papers([Paper(id="2502.00001", title="A", day=date(2025, 2, 17))])
    _vote(store, "U2", "2502.00001", 1, 0)
    _vote(store, "U3", "2502.00001", 1, 30)
    group = read_group(store, T0 + timedelta(minutes=10))
    assert group.counts(["2502.00001"], "U1") == {"2502.00001": GroupVotes(up=1)}
    assert set(group.papers) == {"2502.00001"}
