"""The day's steps as plain functions: fetch, score, rank, deliver.

Each step takes what it needs and returns data; `run_day` chains them in-process, and the RQ
jobs in `workers/` call the same steps one at a time, passing the day through the store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from paperboy.arxiv import Arxiv, Fetched, fetch_feeds
from paperboy.days import Batch, Context, save_order
from paperboy.feed import categories_of
from paperboy.index import SearchIndex
from paperboy.models import Delivery, Digest, Paper, Reader, Score
from paperboy.order import group_order, top_entries
from paperboy.readers import reader_digests
from paperboy.week import pick_for

log = logging.getLogger(__name__)


class NoFeedError(Exception):
    """No feed of the day could be read."""

    def __init__(self, fetched: Fetched) -> None:
        reasons = "; ".join(str(exc) for exc in fetched.missing.values()) or "no feed configured"
        super().__init__(reasons)
        self.fetched = fetched


# fetch -----------------------------------------------------------------------------------


def select_new(
    feeds: Fetched, announce_types: list[str], first_seen: dict[str, date], day: date
) -> tuple[list[Paper], list[str]]:
    """The day's papers of the wanted types, each once, less those considered on an earlier day."""
    fresh: dict[str, Paper] = {}
    repeats: list[str] = []
    for feed in feeds.feeds:
        for paper in feed.kept(announce_types):
            if paper.id in fresh:
                continue
            earlier = first_seen.get(paper.id)
            if earlier is not None and earlier < day:
                repeats.append(paper.id)
                continue
            fresh[paper.id] = paper.model_copy(update={"day": day})
    return list(fresh.values()), sorted(set(repeats))


def candidate_ids(feeds: Fetched, announce_types: list[str]) -> list[str]:
    return [paper.id for feed in feeds.feeds for paper in feed.kept(announce_types)]


def feed_day(fetched: Fetched) -> date | None:
    """The announcement day the feeds carry (the latest, should they disagree)."""
    days = [feed.day for feed in fetched.feeds if feed.day is not None]
    return max(days) if days else None


def ingest(
    ctx: Context,
    fetched: Fetched,
    day: date | None = None,
    *,
    mark: bool = True,
    dedupe: bool = True,
) -> Batch:
    """Keep the new papers of fetched feeds; with `mark`, store them and remember them as seen.

    With `dedupe`, papers considered on an earlier day are left out.
    """
    if not fetched.feeds:
        raise NoFeedError(fetched)
    day = day or feed_day(fetched) or ctx.now().date()
    ids = candidate_ids(fetched, ctx.announce_types)
    seen = ctx.store.first_seen(ids) if dedupe else {}
    papers, repeats = select_new(fetched, ctx.announce_types, seen, day)
    missing = list(fetched.missing)
    read = list(dict.fromkeys(c for feed in fetched.feeds for c in feed.categories or [feed.name]))
    batch = Batch(day, papers, read, missing, repeats)
    if repeats:
        log.info(
            "day %s: %d papers were considered on an earlier day and are skipped", day, len(repeats)
        )
    if not papers:
        log.info(
            "day %s: no new papers in %s: no announcement, nothing to deliver",
            day,
            ", ".join(batch.feeds),
        )
    if mark:
        ctx.store.save_papers(papers)
        ctx.store.mark_seen([p.id for p in papers], day)
        ctx.store.update_day(
            day, papers=[p.id for p in papers], feeds=batch.feeds, missing=missing, repeats=repeats
        )
        index(ctx, day, papers)
    return batch


def index(ctx: Context, day: date, papers: list[Paper]) -> None:
    """Index the day's papers for search, and the papers kept since the last day. Search is
    not the day's: a failure here is logged, and the day goes on."""
    try:
        found = SearchIndex(ctx.store)
        found.add_day(day, papers)
        found.keep_pending()
    except Exception:
        log.exception("day %s: indexing the papers for search failed; search misses them", day)


def fetch(
    ctx: Context,
    sources: list[str],
    arxiv: Arxiv | None,
    day: date | None = None,
    *,
    mark: bool = True,
    dedupe: bool = True,
) -> Batch:
    """Fetch and parse every source, then ingest the day's new papers."""
    return ingest(ctx, fetch_feeds(sources, arxiv), day, mark=mark, dedupe=dedupe)


# score and rank --------------------------------------------------------------------------


def score(ctx: Context, batch: Batch) -> list[Score]:
    """The group's order of the day: the local score of every paper, merged with Claude's."""
    log.info("day %s: scoring %d papers with %s", batch.day, len(batch.papers), ctx.scorer_name)
    local = ctx.local.score(batch.papers)
    judged = ctx.judge.judge(batch.day, batch.papers, local) if ctx.judge else {}
    return group_order(local, judged)


def digest(ctx: Context, batch: Batch, order: list[Score], size: int | None = None) -> Digest:
    """The day's digest: the top of the group order, with what it cost and what is missing, and
    the reading group's pick when it is the first digest after the week's poll."""
    by_id = {paper.id: paper for paper in batch.papers}
    entries = top_entries(order, by_id, size or ctx.digest_size)
    notes = []
    if ctx.judge is None:
        notes.append("Ranked by the local scorer alone: Claude is not configured.")
    ran_out = ctx.judge.ran_out(batch.day) if ctx.judge else 0
    if ran_out:
        notes.append(
            f"Claude's budget for the day ran out: {ran_out:,} papers were ranked by the "
            "local scorer alone."
        )
    return Digest(
        day=batch.day,
        read=len(batch.papers),
        entries=entries,
        scorer=ctx.scorer_name,
        cost_usd=ctx.judge.cost(batch.day) if ctx.judge else 0.0,
        feeds=batch.feeds,
        missing_feeds=list(
            dict.fromkeys(c for source in batch.missing for c in categories_of(source))
        ),
        judged=sum(1 for s in order if s.scorer == "claude"),
        budget_usd=ctx.judge.max_usd if ctx.judge else None,
        ran_out=ran_out,
        notes=notes,
        pick=pick_for(ctx.store, batch.day),
    )


# deliver ---------------------------------------------------------------------------------


@dataclass
class Delivered:
    """What delivering a day did: each channel's outcome, and the channels that failed."""

    done: list[str] = field(default_factory=list)
    failed: dict[str, Exception] = field(default_factory=dict)


def deliver(ctx: Context, digest_: Digest, batch: Batch, order: list[Score]) -> Delivered:
    """Hand the day to every channel, as data: the group's digest, and the digests of the
    readers each channel asks for (each made once, ranked in parallel). A channel that fails is
    logged and the others go on."""
    result = Delivered()
    if not digest_.entries:
        log.info("day %s: nothing to deliver", digest_.day)
        return result
    asked: dict[str, list[Reader]] = {}
    for channel in ctx.deliverers:
        try:
            asked[channel.name] = channel.readers(digest_.day)
        except Exception as exc:  # the channel cannot say whom it serves: it fails, alone
            log.exception("day %s: %s cannot list its readers", digest_.day, channel.name)
            result.failed[channel.name] = exc
    wanted = {r.id: r for readers in asked.values() for r in readers}
    made = {d.reader.id: d for d in reader_digests(ctx, batch, order, list(wanted.values()))}
    for channel in ctx.deliverers:
        if channel.name not in asked:
            continue
        delivery = Delivery(digest=digest_, readers=[made[r.id] for r in asked[channel.name]])
        try:
            result.done.append(channel.deliver(delivery))
            log.info("day %s: %s: %s", digest_.day, channel.name, result.done[-1])
        except Exception as exc:
            log.exception("day %s: delivery to %s failed", digest_.day, channel.name)
            result.failed[channel.name] = exc
    return result


def run_day(
    ctx: Context,
    sources: list[str],
    arxiv: Arxiv | None,
    day: date | None = None,
    *,
    dry_run: bool = False,
) -> tuple[Batch, Digest, Delivered]:
    """The whole day in-process: fetch, score, rank, deliver (or, dry, only show)."""
    batch = fetch(ctx, sources, arxiv, day, mark=not dry_run)
    order = score(ctx, batch)
    if not dry_run:
        save_order(ctx, batch.day, order)
    result = digest(ctx, batch, order)
    if not dry_run:  # the hourly mail reads it back for readers with an hour of their own
        ctx.store.update_day(batch.day, digest=result)
    delivered = deliver(ctx, result, batch, order)
    return batch, result, delivered
