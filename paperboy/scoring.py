"""Merging scorers' judgments into the group's order (pure)."""

from __future__ import annotations

from paperboy.models import Score

RELEVANCE_THRESHOLD = 7
"""Claude relevance (1 to 10) at or above which a judged paper leads the group order."""


def group_order(local: dict[str, Score], judged: dict[str, Score] | None = None) -> list[Score]:
    """The group's order, best first.

    The rule: papers Claude judged with relevance at or above RELEVANCE_THRESHOLD come first,
    by relevance, then novelty, then local score; every other paper follows by its local score
    (a judged paper below the threshold keeps its place among them, by local score, with
    Claude's verdict attached). Ties break on the paper id, so the order is deterministic.
    """
    judged = judged or {}
    top = [
        s for pid, s in judged.items() if pid in local and (s.relevance or 0) >= RELEVANCE_THRESHOLD
    ]
    top.sort(key=lambda s: (-(s.relevance or 0), -(s.novelty or 0), -local[s.paper].score, s.paper))
    lead = {s.paper for s in top}
    rest = [judged.get(pid, score) for pid, score in local.items() if pid not in lead]
    rest.sort(key=lambda s: (-local[s.paper].score, s.paper))
    return top + rest
