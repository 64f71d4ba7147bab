"""The day's steps as plain functions: fetch, score, rank, deliver.

Each step takes what it needs and returns data; `run_day` chains them in-process, and the RQ
jobs in `workers/` call the same steps one at a time, passing the day through the store.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from paperboy.arxiv import Arxiv, Fetched, fetch_feeds
from paperboy.models import Digest, Paper, Prior, Ranked, Reader, Score, Vote, utc_now
from paperboy.profiles import ReaderModel, blend, nothing_learned
from paperboy.scoring import group_order
from paperboy.store import Store
from paperboy.votes import current_votes

log = logging.getLogger(__name__)


class Scorer(Protocol):
    """Scores a day's papers; the local scorer and Claude both fit here."""

    name: str

    def score(self, papers: list[Paper]) -> dict[str, Score]: ...


class Judge(Protocol):
    """A second opinion on the best candidates (Claude), within a budget."""

    name: str

    def judge(
        self, day: date, papers: list[Paper], local: dict[str, Score]
    ) -> dict[str, Score]: ...

    def cost(self, day: date) -> float: ...


class Deliverer(Protocol):
    """Somewhere a digest goes: the terminal, a file, Slack, email."""

    name: str

    def deliver(self, digest: Digest, ctx: Context) -> str: ...


class NoFeedError(Exception):
    """No feed of the day could be read."""

    def __init__(self, fetched: Fetched) -> None:
        reasons = "; ".join(str(exc) for exc in fetched.missing.values()) or "no feed configured"
        super().__init__(reasons)
        self.fetched = fetched


@dataclass
class Context:
    """What the day's steps need, built once by an entry point."""

    store: Store
    prior: Prior
    local: Scorer
    judge: Judge | None = None
    announce_types: list[str] = field(default_factory=lambda: ["new", "cross"])
    digest_size: int = 15
    deliverers: list[Deliverer] = field(default_factory=list)
    now: Callable[[], datetime] = utc_now
    shown: dict[tuple[date, ...], list[Paper]] = field(default_factory=dict, repr=False)
    """The papers recent digests showed, by the days they cover (see `shown_recently`)."""

    @property
    def scorer_name(self) -> str:
        return self.judge.name if self.judge else self.local.name


@dataclass
class Batch:
    """The papers a day considers, after filtering and removing earlier days' papers."""

    day: date
    papers: list[Paper]
    feeds: list[str]
    missing: list[str]
    repeats: list[str] = field(default_factory=list)


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
    batch = Batch(day, papers, [feed.name for feed in fetched.feeds], missing, repeats)
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
    return batch


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


def load_batch(ctx: Context, day: date) -> Batch:
    """The batch a fetch step stored for `day`."""
    record = ctx.store.day(day, "papers", "feeds", "missing", "repeats")
    if record is None or record.papers is None:
        raise LookupError(f"day {day} has not been fetched")
    stored = ctx.store.papers(record.papers)
    papers = [stored[pid] for pid in record.papers if pid in stored]
    return Batch(day, papers, record.feeds, record.missing, record.repeats)


# score and rank --------------------------------------------------------------------------


def score(ctx: Context, batch: Batch) -> list[Score]:
    """The group's order of the day: the local score of every paper, merged with Claude's."""
    log.info("day %s: scoring %d papers with %s", batch.day, len(batch.papers), ctx.scorer_name)
    local = ctx.local.score(batch.papers)
    judged = ctx.judge.judge(batch.day, batch.papers, local) if ctx.judge else {}
    return group_order(local, judged)


def digest(ctx: Context, batch: Batch, order: list[Score], size: int | None = None) -> Digest:
    """The day's digest: the top of the group order, with what it cost and what is missing."""
    by_id = {paper.id: paper for paper in batch.papers}
    entries = top_entries(order, by_id, size or ctx.digest_size)
    notes = []
    if ctx.judge is None:
        notes.append("Ranked by the local scorer alone: Claude is not configured.")
    return Digest(
        day=batch.day,
        read=len(batch.papers),
        entries=entries,
        scorer=ctx.scorer_name,
        cost_usd=ctx.judge.cost(batch.day) if ctx.judge else 0.0,
        missing_feeds=batch.missing,
        notes=notes,
    )


def save_order(ctx: Context, day: date, order: list[Score]) -> None:
    ctx.store.update_day(day, order=order)


def load_order(ctx: Context, day: date) -> list[Score]:
    record = ctx.store.day(day, "order")
    if record is None or record.order is None:
        raise LookupError(f"day {day} has not been scored")
    return record.order


# a reader's own order ---------------------------------------------------------------------


RECENT_DAYS = 5
"""How many earlier days' digests count as shown to every reader (their weak negatives)."""


def shown_recently(ctx: Context, before: date | None = None) -> list[Paper]:
    """The papers the channel showed on the last RECENT_DAYS days (each day's group top)."""
    days = tuple(d for d in ctx.store.days() if before is None or d < before)[-RECENT_DAYS:]
    if days not in ctx.shown:  # the same for every reader: a day's email asks once
        ids: list[str] = []
        for day in days:
            record = ctx.store.day(day, "order")
            order = record.order if record and record.order else []
            ids.extend(s.paper for s in order[: ctx.digest_size])
        found = ctx.store.papers(ids)
        ctx.shown = {days: [found[pid] for pid in ids if pid in found]}
    return ctx.shown[days]


def reader_model(ctx: Context, reader_id: str, day: date | None = None) -> ReaderModel:
    """The reader's personal model: their log, seeds, followed authors, and what they let pass.

    Papers shown on recent days that the reader did not vote on are weak negatives.
    """
    reader = ctx.store.reader(reader_id) or Reader(id=reader_id)
    votes = current_votes(ctx.store.votes(reader_id))
    return ReaderModel(
        ctx.prior,
        votes,
        ctx.store.papers(list(votes)),
        reader.seed_papers,
        reader.authors,
        recent=shown_recently(ctx, day) if votes else (),
    )


def rank_for(ctx: Context, reader_id: str, batch: Batch, order: list[Score]) -> list[Score]:
    """The reader's order of the day: the group order blended with their profile.

    A reader without votes gets the group order itself; see `profiles.blend` for the rule.
    """
    return rank_personal(ctx, reader_id, batch, order)[0]


def rank_personal(
    ctx: Context, reader_id: str, batch: Batch, order: list[Score]
) -> tuple[list[Score], dict[str, Score]]:
    """`rank_for` and the reader's personal scores by paper id (none without votes or seeds).

    The personal share grows with the reader's votes and own seed papers (`profiles.blend`);
    papers by the reader's own followed authors come first in any case.
    """
    model = reader_model(ctx, reader_id, batch.day)
    disliked = {pid for pid, value in model.votes.items() if value < 0}
    if model.evidence == 0:
        return sink(model.followed_first(order, batch.papers), disliked), {}
    # Reasons in words cost a little per paper: only papers that may reach the reader get them.
    personal = model.score(batch.papers, explain_top=3 * ctx.digest_size)
    mixed = blend({s.paper: s for s in order}, personal, model.evidence)
    return sink(model.followed_first(mixed, batch.papers), disliked), personal


def top_entries(order: list[Score], by_id: dict[str, Paper], size: int) -> list[Ranked]:
    """The first `size` papers of an order, among the day's papers `by_id`."""
    mine = (Ranked(paper=by_id[s.paper], score=s) for s in order if s.paper in by_id)
    return list(itertools.islice(mine, size))


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


def latest_batch(ctx: Context) -> Batch | None:
    """The most recent day the store holds, for explaining profiles against real papers."""
    for day in reversed(ctx.store.days()):
        try:
            return load_batch(ctx, day)
        except LookupError:
            continue
    return None


def explain_reader(ctx: Context, reader: Reader, events: list[Vote]) -> dict[str, Any]:
    """What a reader's profile has learned: terms and criteria voted up and down, the weightiest
    votes."""
    votes = current_votes(events)
    voted = ctx.store.papers(list(votes))
    model = ReaderModel(ctx.prior, votes, voted, reader.seed_papers, reader.authors)
    batch = latest_batch(ctx)
    # The latest day's papers, as that day's rankings use them: the cached fit is shared.
    papers = batch.papers if batch and batch.papers else list(voted.values())
    if model.n_votes == 0 or not papers:
        return nothing_learned()
    return model.explain(papers)


# deliver ---------------------------------------------------------------------------------


def deliver(ctx: Context, digest_: Digest) -> list[str]:
    """Hand the digest to every deliverer; one that fails is logged and the others go on."""
    if not digest_.entries:
        log.info("day %s: nothing to deliver", digest_.day)
        return []
    done = []
    for deliverer in ctx.deliverers:
        try:
            done.append(deliverer.deliver(digest_, ctx))
            log.info("day %s: %s: %s", digest_.day, deliverer.name, done[-1])
        except Exception:
            log.exception("day %s: delivery to %s failed", digest_.day, deliverer.name)
    return done


def run_day(
    ctx: Context,
    sources: list[str],
    arxiv: Arxiv | None,
    day: date | None = None,
    *,
    dry_run: bool = False,
) -> tuple[Batch, Digest]:
    """The whole day in-process: fetch, score, rank, deliver (or, dry, only show)."""
    batch = fetch(ctx, sources, arxiv, day, mark=not dry_run)
    order = score(ctx, batch)
    if not dry_run:
        save_order(ctx, batch.day, order)
    result = digest(ctx, batch, order)
    deliver(ctx, result)
    return batch, result
