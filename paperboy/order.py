"""The order rules (pure): the group's order of a day, a reader's, and the top of an order.

The group order: Claude's grades make three bands, papers it rated relevant (7 and up), those
it was unsure of or did not read (4 to 6, or not judged), and those it rated irrelevant
(below 4). The first band goes by relevance, then novelty, then the local score; the others by
the local score. Without Claude every paper is in the middle band: the local score decides.
A reader's order keeps those bands and orders each band by the reader's own refit score, so
that votes decide which of many relevant papers a reader sees first, never lift a paper Claude
rejected over one it recommended; a reader who taught nothing gets the group order. Papers by a
reader's own followed authors come first, and papers they voted 👎 go last. Ties break on the
paper id, so orders are deterministic.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from paperboy.models import Paper, Ranked, Score

RELEVANCE_THRESHOLD = 7
"""Claude relevance (1 to 10) at or above which a judged paper is in the first band."""
DOUBT_THRESHOLD = 4
"""Claude relevance below which a judged paper is in the last band."""
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


def reader_order(group: list[Score], personal: Mapping[str, float]) -> list[Score]:
    """A reader's order: the group order's bands, each ordered by the reader's scores (papers
    the reader's model does not score keep the group's order, below those it does)."""
    place = {s.paper: n for n, s in enumerate(group)}
    return sorted(
        group,
        key=lambda s: (band(s), -personal.get(s.paper, float("-inf")), place[s.paper]),
    )


def followed_first(
    order: list[Score], papers: Mapping[str, Paper], followed: set[str]
) -> list[Score]:
    """The order with the papers in `followed` (by the reader's own followed authors) first,
    in their order, each saying why; below them the order is unchanged."""
    if not followed & set(papers):
        return order
    lifted = [s for s in order if s.paper in followed]
    rest = [s for s in order if s.paper not in followed]
    return lifted + rest


def sink(order: list[Score], disliked: set[str]) -> list[Score]:
    """Papers the reader voted 👎 go last, whatever the model thinks: they said so."""
    if not disliked & {s.paper for s in order}:
        return order
    kept = [s for s in order if s.paper not in disliked]
    sunk = [
        s.model_copy(update={"reasons": ["you voted 👎 on it", *s.reasons]})
        for s in order
        if s.paper in disliked
    ]
    return kept + sunk


def top_entries(order: list[Score], by_id: Mapping[str, Paper], size: int) -> list[Ranked]:
    """The first `size` papers of an order, among the day's papers `by_id`."""
    mine = (Ranked(paper=by_id[s.paper], score=s) for s in order if s.paper in by_id)
    return list(itertools.islice(mine, size))
