"""A week as one ranking: the days' papers together, and the group's order across them.

A weekly reader gets their own best of the week: their model ranks the week's papers as it
ranks a day's. The week's group order keeps Claude's grade bands across the days; within the
first band papers go by relevance, then novelty, and otherwise (and then) by their place in
their own day's order, as a share of that day, so that a big day and a small day mix fairly.
"""

from __future__ import annotations

from datetime import date

from paperboy.days import Batch, Context, load_batch, load_order
from paperboy.models import Digest, Paper, Score
from paperboy.order import band
from paperboy.rhythm import monday


def week_order(orders: list[list[Score]]) -> list[Score]:
    """The group order of several days' orders, best first (see the module's docstring)."""
    keyed: list[tuple[tuple[float, ...], Score]] = []
    for order in orders:
        for place, score in enumerate(order):
            share = place / max(1, len(order))
            b = band(score)
            if b == 0:
                key: tuple[float, ...] = (b, -(score.relevance or 0), -(score.novelty or 0), share)
            else:
                key = (b, share)
            keyed.append((key, score))
    keyed.sort(key=lambda item: (*item[0], item[1].paper))
    return [score for _, score in keyed]


def load_week(ctx: Context, days: list[date]) -> tuple[Batch, list[Score], Digest]:
    """The stored days as one batch (dated its last day), its group order, and the week's
    digest: what was read, what it cost, what was missing; `since` its first day."""
    days = sorted(days)
    papers: dict[str, Paper] = {}
    orders, digests = [], []
    for day in days:
        batch = load_batch(ctx, day)
        papers.update((p.id, p) for p in batch.papers if p.id not in papers)
        orders.append(load_order(ctx, day))
        record = ctx.store.day(day, "digest")
        if record is not None and record.digest is not None:
            digests.append(record.digest)
    order = [s for s in week_order(orders) if s.paper in papers]
    scorers = {d.scorer for d in digests}
    digest = Digest(
        day=days[-1],
        since=monday(days[0]),
        read=len(papers),
        entries=[],
        scorer=next((s for s in scorers if s != "local"), "local"),
        cost_usd=sum(d.cost_usd for d in digests),
        feeds=list(dict.fromkeys(f for d in digests for f in d.feeds)),
        missing_feeds=sorted({f for d in digests for f in d.missing_feeds}),
        notes=list(dict.fromkeys(n for d in digests for n in d.notes)),
    )
    batch = Batch(days[-1], list(papers.values()), [], digest.missing_feeds)
    return batch, order, digest
