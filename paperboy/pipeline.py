"""The day's steps as plain functions: fetch, score, rank, deliver.

Each step takes what it needs and returns data; `run_day` chains them in-process, and the RQ
jobs in `workers/` call the same steps one at a time, passing the day through the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from paperboy.arxiv import Arxiv, Fetched, fetch_feeds
from paperboy.local import LocalScorer
from paperboy.models import (
    Digest,
    Explanation,
    Paper,
    Prior,
    Reader,
    Score,
    WeightyVote,
    utc_now,
)
from paperboy.order import (
    FOLLOWED_LIFT,
    followed_first,
    group_order,
    reader_order,
    sink,
    top_entries,
)
from paperboy.reader import ReaderModel, taught_from
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
    local: LocalScorer
    judge: Judge | None = None
    announce_types: list[str] = field(default_factory=lambda: ["new", "cross"])
    digest_size: int = 15
    deliverers: list[Deliverer] = field(default_factory=list)
    now: Callable[[], datetime] = utc_now

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
"""How many earlier days' shown papers count as let pass when the reader did not vote on them."""
EXPLAIN_TOP = 3
"""Reasons in words are worked out for this many digests' worth of a reader's top papers."""


def passed_papers(
    ctx: Context, reader_id: str, day: date | None, votes: dict[str, int]
) -> list[Paper]:
    """What the reader was shown on the RECENT_DAYS days before `day` and let pass: their email
    digests, and the channel's thread on days they voted in it; never a day's unshown papers."""
    days = [d for d in ctx.store.days() if day is None or d < day][-RECENT_DAYS:]
    ids: dict[str, None] = {}
    for earlier in days:
        ids.update(dict.fromkeys(ctx.store.shown(reader_id, earlier)))
        record = ctx.store.day(earlier, "digest", "slack")
        if record and record.slack and record.digest:
            thread = [entry.paper.id for entry in record.digest.entries]
            if votes.keys() & set(thread):
                ids.update(dict.fromkeys(thread))
    found = ctx.store.papers([pid for pid in ids if pid not in votes])
    return list(found.values())


def reader_model(ctx: Context, reader_id: str, day: date | None = None) -> ReaderModel:
    """The reader's model: the local scorer refit with their votes, their own seed papers and
    the papers they let pass (see `paperboy.reader`)."""
    reader = ctx.store.reader(reader_id) or Reader(id=reader_id)
    votes = current_votes(ctx.store.votes(reader_id))
    passed = passed_papers(ctx, reader_id, day, votes) if votes else []
    taught = taught_from(votes, ctx.store.papers(list(votes)), reader.seed_papers, passed)
    return ReaderModel(ctx.local, taught, reader.authors)


def rank_for(ctx: Context, reader_id: str, batch: Batch, order: list[Score]) -> list[Score]:
    """The reader's order of the day (see `paperboy.order`); the group order when they have
    taught nothing."""
    return rank_with(ctx, reader_model(ctx, reader_id, batch.day), batch, order)[0]


def rank_personal(
    ctx: Context, reader_id: str, batch: Batch, order: list[Score]
) -> tuple[list[Score], dict[str, float]]:
    """`rank_for`, and the reader's own scores by paper id (none when they taught nothing)."""
    return rank_with(ctx, reader_model(ctx, reader_id, batch.day), batch, order)


def rank_with(
    ctx: Context, model: ReaderModel, batch: Batch, order: list[Score]
) -> tuple[list[Score], dict[str, float]]:
    """A reader's order of the day by their model, and their scores by paper id.

    Each paper's `score` in the order is the reader's score; the best few get the reader's
    reasons ("you liked '…'") before the group's.
    """
    by_id = {p.id: p for p in batch.papers}
    disliked = {p.id for p in model.taught.disliked}
    followed = {p.id for p in batch.papers if model.own_authors.followed_in(p.authors)}
    personal: dict[str, float] = {}
    mine = order
    if model.taught:
        fit = model.fit(batch.papers)
        place = {p.id: i for i, p in enumerate(batch.papers)}
        personal = {p.id: float(fit.score[i]) for i, p in enumerate(batch.papers)}
        mine = reader_order(order, personal)
        explained = EXPLAIN_TOP * ctx.digest_size
        mine = [
            s.model_copy(
                update={
                    "score": personal[s.paper],
                    "reasons": _merged(model.reasons(fit, place[s.paper]), s.reasons)
                    if n < explained
                    else s.reasons,
                }
            )
            for n, s in enumerate(mine)
        ]
    if followed:
        names = {pid: model.own_authors.followed_in(by_id[pid].authors) for pid in followed}
        lifted = [_followed(s, names[s.paper]) if s.paper in followed else s for s in mine]
        mine = followed_first(lifted, by_id, followed)
    return sink(mine, disliked), personal


def _merged(mine: list[str], theirs: list[str]) -> list[str]:
    return [*mine, *(r for r in theirs if r not in mine)]


def _followed(score: Score, names: list[str]) -> Score:
    """A paper by the reader's own followed authors: lifted, and saying why."""
    said = [f"followed author: {name}" for name in names]
    return score.model_copy(
        update={"score": score.score + FOLLOWED_LIFT, "reasons": _merged(said, score.reasons)}
    )


TOP_ON_HOME = 5
"""How many of a reader's own top papers, and of the papers to help the model learn, Home shows."""


def explain_reader(ctx: Context, reader_id: str, size: int = TOP_ON_HOME) -> Explanation:
    """What a reader's profile has learned, against the latest ranked day: terms voted up and
    down, the weightiest votes, their top `size` papers and the `size` their model is least
    sure about. Nothing about a day when no day has been ranked."""
    model = reader_model(ctx, reader_id)
    found = latest_ranked(ctx)
    if found is None:
        return Explanation()
    batch, order = found
    fit = model.fit(batch.papers)
    up, down = model.terms(fit) if model.taught.votes else ([], [])
    titles = {p.id: p.title for p in [*model.taught.liked, *model.taught.disliked]}
    values = {p.id: 1 for p in model.taught.liked} | {p.id: -1 for p in model.taught.disliked}
    weighty = [
        WeightyVote(paper=pid, title=titles[pid], vote=values[pid])
        for pid, pull in sorted(fit.pull.items(), key=lambda kv: (-kv[1], kv[0]))[:12]
        if pull > 0
    ]
    mine, _ = rank_with(ctx, model, batch, order)
    by_id = {p.id: p for p in batch.papers}
    return Explanation(
        terms_up=up,
        terms_down=down,
        weighty=weighty,
        day=batch.day,
        top=top_entries(mine, by_id, size),
        unsure=[batch.papers[i] for i in model.unsure(fit, batch.papers, size)],
    )


def latest_ranked(ctx: Context) -> tuple[Batch, list[Score]] | None:
    """The most recent day the store holds with its group order, if any was ranked."""
    for day in reversed(ctx.store.days()):
        try:
            return load_batch(ctx, day), load_order(ctx, day)
        except LookupError:
            continue
    return None


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
