"""The day's steps in-process on a real Redis: dedupe across days, missing feeds, empty days."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from paperboy import days, pipeline, readers
from paperboy.arxiv import Fetched
from paperboy.local import LocalScorer
from paperboy.models import Delivery, Digest, Reader, SlackThread, Vote
from paperboy.pipeline import Context, NoFeedError
from paperboy.prior import load_prior
from paperboy.render import digest_html, summary, trim
from paperboy.resources import example_profile_dir
from paperboy.store import Store
from tests.conftest import FIXTURES, parsed

DAYS = FIXTURES / "days"
RSS = FIXTURES / "rss"


@dataclass
class Recorder:
    """A deliverer that keeps what it was given."""

    name: str = "recorder"
    got: list[Digest] = field(default_factory=list)

    def readers(self, day: date) -> list[Reader]:
        return []

    def deliver(self, delivery: Delivery) -> str:
        self.got.append(delivery.digest)
        return "recorded"


def make_ctx(store: Store, recorder: Recorder | None = None) -> Context:
    prior = load_prior(None, None, None, example_profile_dir())
    return Context(
        store=store,
        prior=prior,
        local=LocalScorer(prior),
        deliverers=[recorder] if recorder else [],
    )


def day_file(stem: str, day: str) -> str:
    name = f"{stem}-{day}.xml"
    return str(DAYS / name if (DAYS / name).exists() else DAYS / f"{name}.gz")


def wanted(path: str) -> dict[str, str]:
    feed = parsed(Path(path))
    return {p.id: p.announce_type for p in feed.kept(["new", "cross"])}


@pytest.mark.parametrize(
    "first, second", [("2025-05-29", "2025-05-30"), ("2025-06-05", "2025-06-06")]
)
def test_a_paper_considered_on_an_earlier_day_is_not_considered_again(
    store: Store, first: str, second: str
) -> None:
    stem = "cs.CL+cs.CV+cs.MM+cs.LG+cs.SI"
    overlap = set(wanted(day_file(stem, first))) & set(wanted(day_file(stem, second)))
    assert overlap  # the fixtures README promises real repeats on these days
    ctx = make_ctx(store)
    one = pipeline.fetch(ctx, [day_file(stem, first)], None)
    two = pipeline.fetch(ctx, [day_file(stem, second)], None)
    assert overlap <= {p.id for p in one.papers}
    assert not overlap & {p.id for p in two.papers}
    assert set(two.repeats) == overlap
    assert len(two.papers) == len(wanted(day_file(stem, second))) - len(overlap)
    # the same day fetched again (a re-run) keeps its papers
    again = pipeline.fetch(ctx, [day_file(stem, second)], None)
    assert {p.id for p in again.papers} == {p.id for p in two.papers}


def test_the_whole_day_runs_and_delivers_the_top_of_the_group_order(store: Store) -> None:
    recorder = Recorder()
    ctx = make_ctx(store, recorder)
    batch, digest, _ = pipeline.run_day(ctx, [day_file("cs.SD+eess.AS", "2025-06-04")], None)
    assert digest.day == date(2025, 6, 4) and digest.read == len(batch.papers) == 49
    assert len(digest.entries) == 15 and recorder.got == [digest]
    scores = [e.score.score for e in digest.entries]
    assert scores == sorted(scores, reverse=True)
    assert all(e.score.scorer == "local" for e in digest.entries)
    assert "local scorer" in digest.notes[0]
    # the steps' results are in the store for the jobs
    assert [s.paper for s in days.load_order(ctx, digest.day)][:15] == [
        e.paper.id for e in digest.entries
    ]


def test_dry_run_marks_nothing(store: Store) -> None:
    recorder = Recorder()
    ctx = make_ctx(store, recorder)
    batch, _, _ = pipeline.run_day(
        ctx, [day_file("cs.SD+eess.AS", "2025-06-04")], None, dry_run=True
    )
    assert store.first_seen([p.id for p in batch.papers]) == {}
    assert store.day(batch.day) is None


def test_a_failed_feed_is_named_and_the_day_goes_out_from_the_others(store: Store) -> None:
    recorder = Recorder()
    ctx = make_ctx(store, recorder)
    sources = [
        day_file("cs.SD+eess.AS", "2025-06-04"),
        str(RSS / "cs.AI-2025-08-20-atom-TRUNCATED.xml"),
    ]
    _, digest, _ = pipeline.run_day(ctx, sources, None)
    assert recorder.got and digest.entries
    assert digest.missing_feeds == ["cs.AI-2025-08-20-atom-TRUNCATED.xml"]  # a file: its name
    assert digest.feeds == ["cs.SD", "eess.AS"]  # from the feed's own link
    assert summary(digest) == (
        f"{digest.read} papers read in cs.SD, eess.AS, {len(digest.entries)} picked. "
        "Missing today: cs.AI-2025-08-20-atom-TRUNCATED.xml."
    )
    assert "Missing today" in digest_html(digest)


def test_an_empty_feed_delivers_nothing(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    ctx = make_ctx(store, recorder)
    caplog.set_level("INFO", logger="paperboy.pipeline")
    batch, digest, _ = pipeline.run_day(
        ctx, [str(RSS / "cs.LG-2026-04-25-empty-weekend.xml")], None
    )
    assert batch.papers == [] and digest.entries == [] and recorder.got == []
    assert "no announcement" in caplog.text


def test_no_feed_at_all_is_an_error(store: Store) -> None:
    with pytest.raises(NoFeedError):
        pipeline.ingest(make_ctx(store), Fetched(feeds=[], missing={"x": OSError("gone")}))


def test_date_option_overrides_the_feed_date(store: Store) -> None:
    ctx = make_ctx(store)
    batch = pipeline.fetch(ctx, [day_file("cs.SD+eess.AS", "2025-06-04")], None, date(2025, 6, 9))
    assert batch.day == date(2025, 6, 9)
    assert {p.day for p in batch.papers} == {date(2025, 6, 9)}


@pytest.mark.parametrize(
    "text, limit, expected",
    [
        ("short enough", 20, "short enough"),
        ("one two three four five six", 16, "one two three …"),
        ("x" * 50, 10, "xxxxxxxxx …"),
        ("spaces   \n  fold", 40, "spaces fold"),
    ],
)
def test_trim_cuts_at_a_word_or_mid_word(text: str, limit: int, expected: str) -> None:
    assert trim(text, limit) == expected


def test_a_paper_the_reader_voted_down_goes_last_for_them(store: Store) -> None:
    ctx = make_ctx(store)
    batch = pipeline.fetch(ctx, [day_file("cs.SD+eess.AS", "2025-06-04")], None)
    order = pipeline.score(ctx, batch)
    top = order[0].paper
    store.append_vote(Vote(reader="U1", paper=top, value=-1, at=ctx.now(), source="slack"))
    mine = readers.rank_for(ctx, "U1", batch, order)
    assert mine[-1].paper == top and "you voted 👎 on it" in mine[-1].reasons
    assert readers.rank_for(ctx, "U2", batch, order) == order  # nobody else's order moves


def test_what_a_reader_let_pass_is_only_what_they_were_shown(store: Store) -> None:
    ctx = make_ctx(store)
    ctx.digest_size = 3
    first, second = date(2025, 6, 4), date(2025, 6, 5)
    pipeline.run_day(ctx, [day_file("cs.SD+eess.AS", "2025-06-04")], None)
    pipeline.run_day(ctx, [day_file("cs.SD+eess.AS", "2025-06-05")], None)
    batch = days.load_batch(ctx, first)
    order = days.load_order(ctx, first)
    thread = pipeline.digest(ctx, batch, order)
    store.update_day(
        first,
        digest=thread,
        slack=SlackThread(channel="C1", parent="1.0", picked=3, read=len(batch.papers)),
    )
    threaded = [e.paper.id for e in thread.entries]
    mailed = [s.paper for s in order[5:8]]
    store.mark_shown("UMAIL", first, mailed)
    voted = threaded[0]
    store.append_vote(Vote(reader="UVOTER", paper=voted, value=1, at=ctx.now(), source="slack"))

    def passed(reader: str, day: date) -> list[str]:
        votes = {voted: 1} if reader == "UVOTER" else {}
        return sorted(p.id for p in readers.passed_papers(store, reader, day, votes))

    assert passed("UMAIL", second) == sorted(mailed)  # their email, not the thread
    assert passed("UVOTER", second) == sorted(threaded[1:])  # the thread they voted in
    assert passed("UQUIET", second) == []  # never the day's unshown papers
    assert passed("UMAIL", first) == []  # a day's own papers are its negatives anyway
