"""The local scorer's quality on the judged days (bench/data/labeled), with no votes.

Run: .venv/bin/python -m bench.quality
The local scorer with the example prior; its knobs are chosen on two days and reported on the
third (leave-one-day-out), next to two baselines and the fixed defaults. What votes add is
measured by `bench.feedback`, chronologically.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench import LABELED, PROFILE, average_precision
from paperboy.arxiv import read_saved
from paperboy.features import cosines, day_corpus
from paperboy.feed import parse_feed
from paperboy.local import LocalScorer, PriorModel, Recipe, fit_group
from paperboy.models import Paper, Prior
from paperboy.prior import load_prior

DAYS = ("2025-02-14", "2025-02-17", "2025-02-19")
GRID = [
    Recipe(c=c, title_weight=t, irrelevant_penalty=p, similarity_weight=s)
    for c, t, p, s in itertools.product((0.01, 0.1, 1.0), (1, 2), (0.0, 0.5, 1.0), (0.0, 0.25, 0.5))
]


@dataclass
class Day:
    """A judged day: its pool of papers and the ids the reference system picked."""

    date: str
    papers: list[Paper]
    labels: set[str]


def load_days() -> list[Day]:
    """The three judged days."""
    days = []
    for date in DAYS:
        body = read_saved(LABELED / f"pool-{date}.xml.gz")
        papers = parse_feed(date, body).kept(["new", "cross"])
        labels = set(json.loads((LABELED / f"labels-{date}.json").read_text()))
        days.append(Day(date, papers, labels & {p.id for p in papers}))
    return days


def precision_at_k(ranking: list[str], labels: set[str]) -> float:
    """Precision in the top k, k = the number of labels."""
    k = len(labels)
    return len(set(ranking[:k]) & labels) / k if k else 0.0


def ranked(scores: dict[str, float]) -> list[str]:
    """Ids by score, best first; ties by id for determinism."""
    return sorted(scores, key=lambda pid: (-scores[pid], pid))


Ranker = Callable[[Day], list[str]]


def recipe_ranker(prior: Prior, recipe: Recipe) -> Ranker:
    """Rank a day with the local scorer."""
    scorer = LocalScorer(prior, recipe)
    return lambda day: ranked({k: s.score for k, s in scorer.score(day.papers).items()})


def baseline_similarity(prior: Prior) -> Ranker:
    """Plain tf-idf: each paper's best cosine to a seed paper or the criteria text."""
    texts = [f"{s.title}. {s.abstract}" for s in prior.seeds] + [prior.criteria]

    def rank(day: Day) -> list[str]:
        corpus = day_corpus(day.papers, texts, 1)
        best = cosines(corpus.papers, corpus.positives).max(axis=1)
        return ranked({p.id: float(v) for p, v in zip(day.papers, best, strict=True)})

    return rank


def baseline_svm(prior: Prior) -> Ranker:
    """arxiv-sanity-lite: an SVM with the seed papers positive and the day's papers negative."""
    texts = [f"{s.title}. {s.abstract}" for s in prior.seeds]

    model = PriorModel(Prior(seeds=prior.seeds))
    recipe = Recipe(c=0.01)

    def rank(day: Day) -> list[str]:
        fit = fit_group(day_corpus(day.papers, texts, 1), model, recipe, day.papers)
        values = fit.corpus.papers.dot(fit.w) + fit.b
        return ranked({p.id: float(v) for p, v in zip(day.papers, values, strict=True)})

    return rank


def evaluate(rank: Ranker, days: list[Day]) -> list[tuple[float, float]]:
    """(AP, P@k) per day."""
    out = []
    for day in days:
        order = rank(day)
        out.append((average_precision(order, day.labels), precision_at_k(order, day.labels)))
    return out


def show(name: str, figures: list[tuple[float, float]], days: list[Day]) -> None:
    """One line: AP and P@k per day and their means."""
    cells = "  ".join(
        f"{d.date[5:]} AP {ap:.3f} P@{len(d.labels)} {pk:.3f}"
        for d, (ap, pk) in zip(days, figures, strict=True)
    )
    aps, pks = zip(*figures, strict=True)
    print(f"{name:<34} {cells}  | mean AP {np.mean(aps):.3f} P@k {np.mean(pks):.3f}")


def leave_one_day_out(
    prior: Prior, days: list[Day]
) -> tuple[list[tuple[float, float]], dict[str, Recipe]]:
    """For each day: pick the recipe best on the other two (mean AP), report it on this day.

    Returns the figures and, by held-out date, the recipe chosen without seeing that day.
    """
    table = {recipe: evaluate(recipe_ranker(prior, recipe), days) for recipe in GRID}
    held, chosen = [], {}
    for i, day in enumerate(days):

        def train_ap(recipe: Recipe, i: int = i) -> float:
            return float(np.mean([ap for j, (ap, _) in enumerate(table[recipe]) if j != i]))

        best = max(GRID, key=lambda r: (train_ap(r), -GRID.index(r)))
        ap, pk = table[best][i]
        print(
            f"  held out {day.date}: chose c={best.c} title_weight={best.title_weight} "
            f"irrelevant_penalty={best.irrelevant_penalty} similarity_weight="
            f"{best.similarity_weight} (train AP {train_ap(best):.3f}) -> held-out AP {ap:.3f}"
        )
        held.append((ap, pk))
        chosen[day.date] = best
    return held, chosen


def main() -> None:
    """Print every figure."""
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    days = load_days()
    prior = load_prior(None, None, None, PROFILE)
    listed = ", ".join(f"{d.date} ({len(d.papers)} papers, {len(d.labels)} picked)" for d in days)
    print(f"days: {listed}")
    print("zero-shot (no votes), example prior")
    show(
        "random (expected AP ~ base rate)",
        [(len(d.labels) / len(d.papers),) * 2 for d in days],
        days,
    )
    show("baseline: tf-idf max similarity", evaluate(baseline_similarity(prior), days), days)
    show("baseline: seeds-vs-day SVM", evaluate(baseline_svm(prior), days), days)
    show("local, default recipe*", evaluate(recipe_ranker(prior, Recipe()), days), days)
    print(f"leave-one-day-out over {len(GRID)} recipes:")
    held, _ = leave_one_day_out(prior, days)
    show("local, leave-one-day-out", held, days)
    print("* defaults picked by hand while looking at all three days: not a held-out figure")


if __name__ == "__main__":
    main()
