"""The order rules (pure): the group's order of a day, a reader's, and the top of an order.

The group order: Claude's grades make three bands, papers it rated relevant (7 and up), those
it was unsure of or did not read (4 to 6, or not judged), and those it rated irrelevant
(below 4). The first band goes by relevance, then novelty, then the local score; the others by
the local score. Without Claude every paper is in the middle band: the local score decides.
A reader's order keeps those bands and orders each band by the reader's own refit score, so
that votes decide which of many relevant papers a reader sees first, never lift a paper Claude
rejected over one it recommended; a reader who taught nothing gets the group order. Papers by a
reader's own followed authors come first, and papers they voted 👎 go last. Ties break on the
paper id (a reader's, on the group's place), so orders are deterministic. A reader's order is
kept as arrays over the day's papers; a `Score` is built only for a paper that is shown.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from numpy.typing import NDArray

from paperboy.judgment import DOUBT_THRESHOLD, RELEVANCE_THRESHOLD
from paperboy.models import Paper, Ranked, Score
from paperboy.vectors import Vector

FOLLOWED_LIFT = 10.0
"""Added to the score of a paper by a reader's own followed author: above everything else."""


def band(score: Score | None) -> int:
    """0: Claude rated it relevant; 1: unsure, or not judged; 2: rated irrelevant."""
    if score is None or score.relevance is None:
        return 1
    if score.relevance >= RELEVANCE_THRESHOLD:
        return 0
    return 1 if score.relevance >= DOUBT_THRESHOLD else 2


def group_order(
    local: Mapping[str, Score], judged: Mapping[str, Score] | None = None
) -> list[Score]:
    """The group's order, best first (see the module's docstring); each paper carries Claude's
    verdict where it has one, its local score otherwise."""
    judged = judged or {}
    shown = [judged.get(pid, score) for pid, score in local.items()]

    def key(s: Score) -> tuple[float, ...]:
        b, value = band(s), local[s.paper].score
        if b == 0:
            return (b, -(s.relevance or 0), -(s.novelty or 0), -value)
        return (b, -value)

    return sorted(shown, key=lambda s: (*key(s), s.paper))


@dataclass
class DayOrder:
    """The group order of a day as arrays over its papers (in their order): the part every
    reader's order shares, built once per day."""

    day: date
    papers: list[Paper]
    group: dict[str, Score]  # each paper's Score in the group order
    place: NDArray[np.int64]  # each paper's place in the group order
    band: NDArray[np.int64]

    @classmethod
    def of(cls, day: date, papers: list[Paper], order: list[Score]) -> DayOrder:
        at = {s.paper: n for n, s in enumerate(order)}
        group = {s.paper: s for s in order}
        last = len(order)
        return cls(
            day,
            papers,
            group,
            np.array([at.get(p.id, last) for p in papers], dtype=np.int64),
            np.array([band(group.get(p.id)) for p in papers], dtype=np.int64),
        )


@dataclass
class ReaderRanking:
    """A reader's order of a day: the papers' indices best first, and their scores as arrays."""

    day: DayOrder
    index: NDArray[np.int64]
    personal: Vector | None = None  # the reader's scores, by paper; None: the group's order
    reasons: dict[int, list[str]] = field(default_factory=dict)  # the reader's, by paper
    followed: dict[int, list[str]] = field(default_factory=dict)  # their own authors, by paper
    sunk: frozenset[int] = frozenset()  # voted 👎

    @property
    def ids(self) -> list[str]:
        return [self.day.papers[i].id for i in self.index]

    def score(self, i: int) -> Score:
        """The Score the reader's order gives the day's `i`-th paper, with why."""
        pid = self.day.papers[i].id
        group = self.day.group.get(pid) or Score(paper=pid, scorer="local", score=0.0)
        mine = list(self.reasons.get(i, []))
        if i in self.followed:
            mine = [f"followed author: {name}" for name in self.followed[i]] + mine
        if i in self.sunk:
            mine = ["you voted 👎 on it", *mine]
        if not mine and self.personal is None:
            return group
        value = group.score if self.personal is None else float(self.personal[i])
        if i in self.followed:
            value += FOLLOWED_LIFT
        reasons = [*mine, *(r for r in group.reasons if r not in mine)]
        return group.model_copy(update={"score": value, "reasons": reasons})

    def scores(self) -> list[Score]:
        """Every paper's Score, in the reader's order."""
        return [self.score(int(i)) for i in self.index]

    def top(self, size: int) -> list[Ranked]:
        """The reader's first `size` papers, as a digest shows them."""
        papers = self.day.papers
        return [Ranked(paper=papers[i], score=self.score(int(i))) for i in self.index[:size]]


def rank_reader(
    day: DayOrder,
    personal: Vector | None,
    followed: Mapping[int, list[str]] | None = None,
    disliked: frozenset[int] = frozenset(),
) -> ReaderRanking:
    """A reader's order of the day: the group's bands, each by the reader's scores (the group's
    order without them), their own followed authors first, their 👎 last."""
    if personal is None:
        index = np.argsort(day.place, kind="stable")
    else:  # by band, then the reader's score, then the group's place
        index = np.lexsort((day.place, -personal, day.band))
    lifted = dict(followed or {})
    if lifted:
        first = np.array([int(i) in lifted for i in index])
        index = np.concatenate([index[first], index[~first]])
    if disliked:
        last = np.array([int(i) in disliked for i in index])
        index = np.concatenate([index[~last], index[last]])
    return ReaderRanking(day, index.astype(np.int64), personal, {}, lifted, disliked)


def top_entries(order: list[Score], by_id: Mapping[str, Paper], size: int) -> list[Ranked]:
    """The first `size` papers of an order, among the day's papers `by_id`."""
    mine = (Ranked(paper=by_id[s.paper], score=s) for s in order if s.paper in by_id)
    return list(itertools.islice(mine, size))
