"""Votes that teach, measured as a reader lives them: day by day, through the pipeline and a store.

Run: .venv/bin/python -m bench.feedback [--seeds N]
The judged days (bench/data/labeled) are ingested in order into an in-process store, as
`paperboy run` would, and ranked by the local scorer; in half the runs a noisy stand-in judge
grades every paper first (not the answer key: about a third of the picked papers get 4 to 6,
and some unpicked papers 7 or more). On each day a simulated reader is shown their top 15 not
yet voted on and votes on the first 10: 👍 on the papers the reference system picked, 👎 on the
rest, with a fifth of the votes flipped in the noisy runs (a reader who misclicks or changes
their mind); they are ranked again between rounds, until the day's budget (10, 30 or 90 votes
a day) is spent, and what they were shown is recorded as their email digest records it. The
next day is then ranked for them, before any vote on it: 02-17 with the votes of 02-14, 02-19
with those of 02-14 and 02-17. Only what the CLI has: the store, the votes, what was shown.
Each figure is the reader's mean AP beside the group order's in the same run (seeds averaged,
with the worst seed's difference). Then, the cold start: 10 votes on the papers Home and
`profile --suggest` offer (least sure) against 10 on the top of the ranking.

Last, colleagues: another reader votes on each day's top 30 of the group order before the
reader's digest is made (the ranked days too): of the same taste (👍 on the picked papers), of
the same taste with a fifth of the votes flipped, or of the opposite taste. Each figure is the
reader's mean AP over the ranked days, seeds averaged, beside the no-colleague figure and its
spread over seeds (the best seed's less the worst's). The goals: the same taste raises it; the
noisy and the opposite taste do not lower it by more than that spread.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bench import LABELED, PROFILE, average_precision
from paperboy import pipeline, readers
from paperboy.arxiv import Fetched, read_saved
from paperboy.days import Batch, save_order
from paperboy.feed import Feed, parse_feed
from paperboy.local import LocalScorer
from paperboy.models import Paper, Score, Vote, VoteValue
from paperboy.pipeline import Context
from paperboy.prior import load_prior
from paperboy.store import Store, in_process

DAYS = ("2025-02-14", "2025-02-17", "2025-02-19")
BUDGETS = (10, 30, 90)
ROUND = 10
SHOWN = 15
FLIPPED = 0.2
READER = "UREADER"
COLLEAGUE = "UCOLLEAGUE"
COLLEAGUE_VOTES = 30
TASTES = ("same", "noisy", "opposite")


@dataclass
class Day:
    """A judged day: its feed, its papers and the ids the reference system picked."""

    date: date
    feed: Feed
    labels: set[str]


def load_days() -> list[Day]:
    days = []
    for name in DAYS:
        feed = parse_feed(name, read_saved(LABELED / f"pool-{name}.xml.gz"))
        labels = set(json.loads((LABELED / f"labels-{name}.json").read_text()))
        days.append(Day(date.fromisoformat(name), feed, labels & {p.id for p in feed.papers}))
    return days


class NoisyJudge:
    """Grades like a noisy LLM judge that knows roughly what the reference system picked."""

    name = "claude"
    max_usd = 0.0

    def __init__(self, labels: dict[date, set[str]], seed: int) -> None:
        self.labels = labels
        self.rng = random.Random(seed)
        self.graded: list[tuple[bool, int]] = []  # (picked, relevance), to report the noise

    def judge(self, day: date, papers: list[Paper], local: dict[str, Score]) -> dict[str, Score]:
        out = {}
        for paper in sorted(papers, key=lambda p: p.id):
            picked, r = paper.id in self.labels[day], self.rng.random()
            if picked:
                relevance = self.rng.randint(4, 6) if r < 1 / 3 else self.rng.randint(7, 10)
            elif r < 0.05:
                relevance = self.rng.randint(7, 8)
            else:
                relevance = self.rng.randint(4, 6) if r < 0.30 else self.rng.randint(1, 3)
            novelty = self.rng.randint(3, 9)
            self.graded.append((picked, relevance))
            out[paper.id] = Score(
                paper=paper.id,
                scorer="claude",
                score=relevance + novelty / 10,
                relevance=relevance,
                novelty=novelty,
                reasons=["graded by the stand-in judge"],
            )
        return out

    def cost(self, day: date) -> float:
        return 0.0

    def ran_out(self, day: date) -> int:
        return 0


Chooser = Callable[[Context, Batch, list[Score], set[str]], list[str]]


def top_of_ranking(ctx: Context, batch: Batch, order: list[Score], voted: set[str]) -> list[str]:
    """The reader's top papers not yet voted on, as their digest shows them."""
    mine = readers.rank_for(ctx, READER, batch, order)
    return [s.paper for s in mine if s.paper not in voted][:SHOWN]


def least_sure(ctx: Context, batch: Batch, order: list[Score], voted: set[str]) -> list[str]:
    """The papers Home offers to vote on: those the reader's model is least sure about."""
    return [p.id for p in readers.explain_reader(ctx, READER).unsure if p.id not in voted]


@dataclass
class Run:
    """One simulated reader's history over the judged days."""

    budget: int
    flipped: float = 0.0
    seed: int = 0
    judged: bool = False
    choose: Chooser = top_of_ranking
    per_round: int = ROUND
    colleague: str | None = None  # a colleague's taste (TASTES), or no colleague

    def play(self, days: list[Day]) -> dict[date, tuple[float, float]]:
        """(group AP, reader AP) of each day after the first, ranked before its own votes."""
        store = Store(in_process(), persistent=False)
        prior = load_prior(None, None, None, PROFILE)
        judge = NoisyJudge({d.date: d.labels for d in days}, self.seed) if self.judged else None
        clock = datetime(2025, 2, 14, 12, tzinfo=UTC)
        ctx = Context(
            store=store, prior=prior, local=LocalScorer(prior), judge=judge, now=lambda: clock
        )
        rng = random.Random(1000 + self.seed)
        theirs = random.Random(2000 + self.seed)
        result = {}
        for n, day in enumerate(days):
            batch = pipeline.ingest(ctx, Fetched([day.feed], {}), day.date)
            order = pipeline.score(ctx, batch)
            save_order(ctx, day.date, order)
            if self.colleague:  # before the reader's digest of the day
                for score in order[:COLLEAGUE_VOTES]:
                    flip = self.colleague == "opposite" or (
                        self.colleague == "noisy" and theirs.random() < FLIPPED
                    )
                    vote: VoteValue = 1 if (score.paper in day.labels) != flip else -1
                    clock += timedelta(seconds=10)
                    store.append_vote(
                        Vote(reader=COLLEAGUE, paper=score.paper, value=vote, at=clock)
                    )
            if n:
                mine = [s.paper for s in readers.rank_for(ctx, READER, batch, order)]
                group = [s.paper for s in order]
                result[day.date] = (
                    average_precision(group, day.labels),
                    average_precision(mine, day.labels),
                )
            if n == len(days) - 1:
                break
            voted: set[str] = set()
            shown: list[str] = []
            while len(voted) < self.budget:
                offered = self.choose(ctx, batch, order, voted)
                if not offered:
                    break
                shown += offered
                store.mark_shown(READER, day.date, list(dict.fromkeys(shown)))
                for pid in offered[: min(self.per_round, self.budget - len(voted))]:
                    value = 1 if pid in day.labels else -1
                    if rng.random() < self.flipped:
                        value = -value
                    clock += timedelta(seconds=30)
                    store.append_vote(
                        Vote(reader=READER, paper=pid, value=value, at=clock, source="cli")
                    )
                    voted.add(pid)
            clock = datetime.combine(days[n + 1].date, datetime.min.time(), UTC)
        return result


def summarise(label: str, runs: list[dict[date, tuple[float, float]]], ranked: list[date]) -> bool:
    """Print one line: per ranked day, the group's AP, the reader's and the difference (with the
    worst seed's); True when the reader is above the group on every ranked day (on average)."""
    cells, above = [], True
    for day in ranked:
        group = statistics.mean(r[day][0] for r in runs)
        mine = statistics.mean(r[day][1] for r in runs)
        worst = min(r[day][1] - r[day][0] for r in runs)
        above = above and mine > group
        cells.append(
            f"{day:%m-%d} {group:.3f} -> {mine:.3f} ({mine - group:+.3f}, worst {worst:+.3f})"
        )
    group = statistics.mean(statistics.mean(r[d][0] for r in runs) for d in ranked)
    mine = statistics.mean(statistics.mean(r[d][1] for r in runs) for d in ranked)
    print(f"{label:<28} " + "  ".join(cells) + f"  | mean {group:.3f} -> {mine:.3f}")
    return above


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    args.add_argument("--seeds", type=int, default=5, help="seeds for flipped votes and the judge")
    opts = args.parse_args()
    days = load_days()
    ranked = [d.date for d in days[1:]]
    seeds = range(opts.seeds)
    started = time.perf_counter()
    listed = ", ".join(
        f"{d.date} ({len(d.feed.papers)} papers, {len(d.labels)} picked)" for d in days
    )
    print(f"days: {listed}")
    print("AP of the group order (no votes) -> the reader's order, per ranked day")
    goals: list[tuple[str, bool]] = []
    for judged in (False, True):
        print("with the noisy judge's grades:" if judged else "local scorer only:")
        for flipped in (0.0, FLIPPED):
            for budget in BUDGETS:
                runs = [
                    Run(budget, flipped, seed, judged).play(days)
                    for seed in (seeds if flipped or judged else [0])
                ]
                label = f"  {budget} votes/day" + (f", {flipped:.0%} flipped" if flipped else "")
                above = summarise(label, runs, ranked)
                goals.append((f"{'judge, ' if judged else ''}{label.strip()}", above))
    judge = NoisyJudge({d.date: d.labels for d in days}, 0)
    for day in days:
        judge.judge(day.date, day.feed.papers, {})
    picked = [r for p, r in judge.graded if p]
    other = [r for p, r in judge.graded if not p]
    print(
        f"the stand-in judge (seed 0): {sum(4 <= r <= 6 for r in picked) / len(picked):.0%} of "
        f"picked papers graded 4-6, {sum(r >= 7 for r in other) / len(other):.0%} of unpicked 7+"
    )
    print("cold start, 10 votes on 02-14 (and 10 on 02-17 for 02-19):")
    top = [Run(10).play(days)]
    unsure = [Run(10, choose=least_sure, per_round=5).play(days)]
    summarise("  on the top of the ranking", top, ranked)
    summarise("  on the least sure (Home)", unsure, ranked)
    print("goals: the reader above the no-vote order on 02-17 and 02-19, every budget")
    for name, above in goals:
        print(f"  [{'ok' if above else 'MISSED'}] {name}")
    colleagues(days, ranked, seeds)
    print(f"{time.perf_counter() - started:.0f} s")


def colleagues(days: list[Day], ranked: list[date], seeds: range) -> None:
    """The colleague figures: the reader's mean AP with a colleague of each taste, beside the
    no-colleague figure and its spread over seeds; the goals, each figure kept."""
    print(
        f"colleagues: another reader votes on each day's top {COLLEAGUE_VOTES} before the "
        "reader's digest; the reader's mean AP over the ranked days (seeds averaged)"
    )
    goals: list[tuple[str, bool]] = []
    for judged in (False, True):
        print("with the noisy judge's grades:" if judged else "local scorer only:")
        for flipped in (0.0, FLIPPED):
            for budget in BUDGETS:
                label = f"{budget} votes/day" + (f", {flipped:.0%} flipped" if flipped else "")
                means: dict[str | None, list[float]] = {}
                for taste in (None, *TASTES):
                    random_runs = flipped or judged or taste == "noisy"
                    means[taste] = [
                        statistics.mean(
                            ap
                            for _, ap in Run(budget, flipped, seed, judged, colleague=taste)
                            .play(days)
                            .values()
                        )
                        for seed in (seeds if random_runs else [0])
                    ]
                alone = statistics.mean(means[None])
                spread = max(means[None]) - min(means[None])
                cells = [f"none {alone:.3f} (spread {spread:.3f})"]
                for taste in TASTES:
                    found = statistics.mean(means[taste])
                    worst = min(means[taste])
                    cells.append(f"{taste} {found:.3f} ({found - alone:+.3f}, worst {worst:.3f})")
                    held = found > alone if taste == "same" else found >= alone - spread
                    goals.append((f"{'judge, ' if judged else ''}{label}: {taste}", held))
                print(f"  {label:<26} " + "  ".join(cells))
    print("goals: the same taste above none; noisy and opposite not below none by its spread")
    for taste in TASTES:
        mine = [(name, held) for name, held in goals if name.endswith(f": {taste}")]
        kept = sum(held for _, held in mine)
        print(f"  [{'ok' if kept == len(mine) else 'MISSED'}] {taste}: {kept} of {len(mine)} rows")
        for name, held in mine:
            if not held:
                print(f"    missed: {name}")


if __name__ == "__main__":
    main()
