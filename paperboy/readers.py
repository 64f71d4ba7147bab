"""Each reader's own order and digest of a day, and what their profile has learned.

A reader's model comes from the store: their standing votes (and their reading list, where they
did not vote), their own seed papers and followed authors, the papers they were shown and let
pass, and what colleagues' votes of the week say (`paperboy.group`, read once per day's
delivery, and `paperboy.colleagues`, the same votes as arrays). A day's readers are ranked in
worker processes, one per core, forked after the day's group model is fitted and the colleagues'
arrays are built, so that every worker shares them; each returns its readers' digests as data
for the channels, each paper with its colleagues' votes ("Liked by N in your group").
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import date

from paperboy.colleagues import Colleagues
from paperboy.days import Batch, Context, latest_ranked
from paperboy.group import read_group
from paperboy.models import (
    Explanation,
    Paper,
    Profile,
    ProfileVote,
    Reader,
    ReaderDigest,
    Score,
    Suggestion,
    Terms,
    WeightyVote,
)
from paperboy.order import DayOrder, ReaderRanking, rank_reader
from paperboy.reader import ReaderModel, taught_from
from paperboy.store import Store
from paperboy.votes import current_votes, standing_votes, teaching

RECENT_DAYS = 5
"""How many earlier days' shown papers count as let pass when the reader did not vote on them."""
EXPLAIN_TOP = 3
"""A whole order (`rank --user`) gives the reader's reasons for this many digests' worth."""
TOP_ON_HOME = 5
"""How many of a reader's own top papers, and of the papers to help the model learn, Home shows."""


def passed_papers(
    store: Store, reader_id: str, day: date | None, votes: dict[str, int]
) -> list[Paper]:
    """What the reader was shown on the RECENT_DAYS days before `day` and let pass: their email
    digests, and the channel's thread on days they voted in it; never a day's unshown papers."""
    days = [d for d in store.days() if day is None or d < day][-RECENT_DAYS:]
    ids: dict[str, None] = {}
    for earlier in days:
        ids.update(dict.fromkeys(store.shown(reader_id, earlier)))
        record = store.day(earlier, "digest", "slack")
        if record and record.slack and record.digest:
            thread = [entry.paper.id for entry in record.digest.entries]
            if votes.keys() & set(thread):
                ids.update(dict.fromkeys(thread))
    return list(store.papers([pid for pid in ids if pid not in votes]).values())


def reader_model(
    ctx: Context, reader_id: str, day: date | None = None, colleagues: Colleagues | None = None
) -> ReaderModel:
    """The reader's model: the local scorer refit with their votes, their own seed papers, the
    papers they let pass and what colleagues' votes say (see `paperboy.reader`); the group's
    votes are read from the store, as they stand now, unless given."""
    reader = ctx.store.reader(reader_id) or Reader(id=reader_id)
    votes = current_votes(ctx.store.votes(reader_id))
    # A save teaches like a 👍 where the reader has not voted; colleagues hear only votes.
    taught_votes = teaching(votes, [s.paper for s in reversed(ctx.store.saved(reader_id))])
    passed = passed_papers(ctx.store, reader_id, day, taught_votes) if taught_votes else []
    colleagues = colleagues or Colleagues.of(read_group(ctx.store, ctx.now()))
    said = colleagues.evidence(reader_id, votes)
    heard = [(colleagues.group.papers[pid], e) for pid, e in said.items()]
    taught = taught_from(
        taught_votes, ctx.store.papers(list(taught_votes)), reader.seed_papers, passed, heard
    )
    return ReaderModel(ctx.local, taught, reader.authors)


def rank(model: ReaderModel, day: DayOrder, explain: int) -> ReaderRanking:
    """The reader's order of the day by their model; their reasons for the first `explain`."""
    papers = day.papers
    followed = {
        i: names
        for i, p in enumerate(papers)
        if (names := model.own_authors.followed_in(p.authors))
    }
    disliked = {p.id for p in model.taught.disliked}
    sunk = frozenset(i for i, p in enumerate(papers) if p.id in disliked)
    if not model.taught:
        return rank_reader(day, None, followed, sunk)
    fit = model.fit(papers)
    ranking = rank_reader(day, fit.score, followed, sunk)
    rows = [int(i) for i in ranking.index[:explain]]
    ranking.reasons = dict(zip(rows, model.reasons(fit, rows), strict=True))
    return ranking


def ranking_for(
    ctx: Context,
    reader_id: str,
    batch: Batch,
    order: list[Score],
    colleagues: Colleagues | None = None,
) -> ReaderRanking:
    """The reader's order of a day, with their reasons for the best few digests' worth."""
    model = reader_model(ctx, reader_id, batch.day, colleagues)
    return rank(model, DayOrder.of(batch.day, batch.papers, order), EXPLAIN_TOP * ctx.digest_size)


def rank_for(ctx: Context, reader_id: str, batch: Batch, order: list[Score]) -> list[Score]:
    """The reader's whole order of a day as Scores (the group order when they taught nothing)."""
    return ranking_for(ctx, reader_id, batch, order).scores()


# each reader's digest of the day --------------------------------------------------------------


def reader_digest(
    ctx: Context, day: DayOrder, reader: Reader, colleagues: Colleagues | None = None
) -> ReaderDigest:
    """A reader's own digest: the top of their order, as many as they asked for, each paper
    with its colleagues' votes when it has any."""
    size = reader.digest_size or ctx.digest_size
    colleagues = colleagues or Colleagues.of(read_group(ctx.store, ctx.now()))
    entries = rank(reader_model(ctx, reader.id, day.day, colleagues), day, size).top(size)
    counts = colleagues.group.counts([entry.paper.id for entry in entries], reader.id)
    for entry in entries:
        entry.group = counts.get(entry.paper.id)
    return ReaderDigest(reader=reader, entries=entries)


_SHARED: tuple[Context, DayOrder, Colleagues] | None = None
"""In a forked worker: the context, the day it ranks readers of and the group's votes."""


def _adopt(ctx: Context, day: DayOrder, colleagues: Colleagues) -> None:
    global _SHARED
    _SHARED = (ctx, day, colleagues)


def _digest_of(reader: Reader) -> ReaderDigest:
    assert _SHARED is not None, "a worker ranks readers only after adopting the day"
    ctx, day, colleagues = _SHARED
    return reader_digest(ctx, day, reader, colleagues)


def reader_digests(
    ctx: Context, batch: Batch, order: list[Score], readers: list[Reader]
) -> list[ReaderDigest]:
    """Every given reader's digest of the day, in their order: ranked in parallel, one worker
    process per core, forked after the day's group model is fitted so that they share it."""
    if not readers:
        return []
    day = DayOrder.of(batch.day, batch.papers, order)
    fit = ctx.local.fit(batch.papers)  # before the fork: every worker inherits it
    # the colleagues' votes when the digests are made, as arrays the workers share, and the
    # papers they voted on in the day's terms, made once here rather than once in each worker
    colleagues = Colleagues.of(read_group(ctx.store, ctx.now()))
    fit.corpus.rows(list(colleagues.group.papers.values()))
    workers = min(len(readers), os.cpu_count() or 1)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [reader_digest(ctx, day, reader, colleagues) for reader in readers]
    chunk = max(1, len(readers) // (4 * workers))  # small chunks: the work is uneven
    # Frozen objects are left alone by the workers' garbage collector, so the memory they share
    # with this process stays shared instead of being copied page by page.
    gc.freeze()
    try:
        with ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_adopt,
            initargs=(ctx, day, colleagues),
        ) as pool:
            made = list(pool.map(_digest_of, readers, chunksize=chunk))
    finally:
        gc.unfreeze()
    # Each digest came back with copies of the day's papers: point them at the one set.
    shared = {p.id: p for p in batch.papers}
    for mine in made:
        for entry in mine.entries:
            entry.paper = shared.get(entry.paper.id, entry.paper)
    return made


# what a profile has learned ----------------------------------------------------------------


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
    ranking = rank(model, DayOrder.of(batch.day, batch.papers, order), size)
    return Explanation(
        terms_up=up,
        terms_down=down,
        weighty=weighty,
        day=batch.day,
        top=ranking.top(size),
        unsure=[batch.papers[i] for i in model.unsure(fit, batch.papers, size)],
    )


def profile(store: Store, reader_id: str, ctx: Context | None, suggest: bool = False) -> Profile:
    """A reader's profile: settings, standing votes, seeds and authors, and (with a context)
    what their model has learned; with `suggest`, the papers to vote on to help it."""
    reader = store.reader(reader_id) or Reader(id=reader_id)
    events = store.votes(reader_id)
    learned = explain_reader(ctx, reader_id) if ctx else Explanation()
    return Profile(
        user=reader.id,
        email=reader.email,
        email_enabled=reader.email_enabled,
        share_votes=reader.share_votes,
        digest_size=reader.digest_size,
        cadence=reader.cadence,
        hour=reader.hour,
        tz=reader.tz or reader.slack_tz,
        votes=[
            ProfileVote(paper=v.paper, value=v.value, at=v.at, source=v.source)
            for v in standing_votes(events)
        ],
        events=len(events),
        seed_papers=reader.seed_papers,
        authors=reader.authors,
        terms=Terms(up=learned.terms_up, down=learned.terms_down),
        weighty_papers=learned.weighty,
        day=learned.day if suggest else None,
        suggest=[
            Suggestion(paper=p.id, title=p.title, authors=p.authors, url=p.url)
            for p in learned.unsure
        ]
        if suggest
        else None,
    )
