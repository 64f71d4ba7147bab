"""Part (b) of bench/quality.py: a simulated reader's votes, then the held-out day.

For each judged day as the test day, a reader starts with no votes and, on each of the other
judged days in turn, is shown the top 10 of their current ranking not yet voted on, votes 👍
on the papers the reference system picked and 👎 on the rest, three rounds a day, re-ranked
after each round. The test day is then ranked by the blend of group and personal scores.
Knobs are chosen leave-one-day-out: with day T held out, a recipe is scored on each other day
D with votes cast on the remaining day only (never on T), and the best is reported on T. The
group order under the votes is the local scorer with the recipe part (a) chose without T.
Lines marked * are not held-out figures: the default recipe; the same with no recent papers
(what a reader gets before any recent digest exists); the previous learner (the nearest
neighbours without the criteria model); and the ceiling, every paper of the
other two days voted.
"""

from __future__ import annotations

import itertools

import numpy as np

from bench.quality import Day, average_precision, precision_at_k, show
from paperboy.local import LocalScorer, Recipe
from paperboy.models import Paper, Prior, Score
from paperboy.profiles import ProfileRecipe, ReaderModel, blend

ROUNDS = 3
SHOWN = 10
# The learner: nearest neighbours among the votes, the recent days' papers that were let pass
# counting as weak negatives, plus the criteria model (see paperboy/profiles.py). Its knobs:
# how many liked and disliked neighbours, how fast the personal share grows with votes, and
# whether the criteria model takes part.
GRID = [
    ProfileRecipe(neighbour_k=k, disliked_k=dk, blend_half=h, criteria_weight=cw)
    for k, dk, h, cw in itertools.product((3, 5), (10, 20), (15.0, 30.0), (0.0, 0.5))
]
# The previous learner, for comparison: the nearest neighbours alone.
KNN = ProfileRecipe(criteria_weight=0.0, blend_half=15.0)


def describe(r: ProfileRecipe) -> str:
    """A recipe's knobs that the grid varies, in a few words."""
    return (
        f"knn liked_k={r.neighbour_k} disliked_k={r.disliked_k} blend_half={r.blend_half} "
        f"criteria_weight={r.criteria_weight}"
    )


def reader_ranking(
    prior: Prior,
    group: dict[str, Score],
    day: list[Paper],
    votes: dict[str, int],
    voted: dict[str, Paper],
    recipe: ProfileRecipe,
    recent: list[Paper] | None = None,
) -> list[str]:
    """The reader's order of a day: group scores blended with their personal model."""
    model = ReaderModel(prior, votes, voted, recipe=recipe, recent=recent or [])
    personal = model.score(day) if votes else {}
    return [s.paper for s in blend(group, personal, len(votes), recipe.blend_half)]


def simulate(
    prior: Prior,
    groups: dict[str, dict[str, Score]],
    vote_days: list[Day],
    recipe: ProfileRecipe,
    pass_recent: bool = True,
) -> tuple[dict[str, int], dict[str, Paper]]:
    """The votes a reader casts over `vote_days`, three rounds of ten a day."""
    votes: dict[str, int] = {}
    voted: dict[str, Paper] = {}
    for n, day in enumerate(vote_days):
        # The days already seen: their papers that got no vote are weak negatives.
        recent = [p for d in vote_days[:n] for p in d.papers] if pass_recent else []
        for _ in range(ROUNDS):
            order = reader_ranking(
                prior, groups[day.date], day.papers, votes, voted, recipe, recent
            )
            byid = {p.id: p for p in day.papers}
            for pid in [pid for pid in order if pid not in votes][:SHOWN]:
                votes[pid] = 1 if pid in day.labels else -1
                voted[pid] = byid[pid]
    return votes, voted


def test_figures(
    prior: Prior,
    groups: dict[str, dict[str, Score]],
    test: Day,
    vote_days: list[Day],
    recipe: ProfileRecipe,
    pass_recent: bool = True,
) -> tuple[float, float, int]:
    """(AP, P@k, votes cast) on the test day after voting on `vote_days`.

    The reader's recent papers (weak negatives) are the days voted on; `pass_recent=False`
    gives the model none, so it falls back to the test day's other papers.
    """
    votes, voted = simulate(prior, groups, vote_days, recipe, pass_recent)
    recent = [p for d in vote_days for p in d.papers] if pass_recent else []
    order = reader_ranking(prior, groups[test.date], test.papers, votes, voted, recipe, recent)
    return average_precision(order, test.labels), precision_at_k(order, test.labels), len(votes)


def feedback_section(prior: Prior, days: list[Day], chosen: dict[str, Recipe]) -> None:
    """Print part (b): default recipe, then leave-one-day-out, then the ceiling."""
    scorer = LocalScorer(prior)
    groups = {d.date: scorer.score(d.papers) for d in days}
    print(f"(b) feedback: {ROUNDS} rounds x top {SHOWN} per other day, then the test day")
    default = [
        test_figures(prior, groups, t, [d for d in days if d is not t], ProfileRecipe())
        for t in days
    ]
    show("feedback, default recipe*", [(ap, pk) for ap, pk, _ in default], days)
    cast = ", ".join(f"{t.date[5:]}: {n}" for t, (_, _, n) in zip(days, default, strict=True))
    print(f"  votes cast before each test day: {cast}")
    alone = [
        test_figures(prior, groups, t, [d for d in days if d is not t], ProfileRecipe(), False)
        for t in days
    ]
    show("default, today as weak negatives*", [(ap, pk) for ap, pk, _ in alone], days)
    print("  (what a reader gets before recent digests exist: today's papers as weak negatives)")
    knn = [test_figures(prior, groups, t, [d for d in days if d is not t], KNN) for t in days]
    show("previous learner: kNN alone*", [(ap, pk) for ap, pk, _ in knn], days)
    print(f"leave-one-day-out over {len(GRID)} recipes:")
    held = []
    spread: dict[str, list[float]] = {}
    folds: dict[str, dict[str, dict[str, Score]]] = {}
    for test in days:
        others = [d for d in days if d is not test]
        group_scorer = LocalScorer(prior, chosen[test.date])  # chosen without the test day
        groups = folds[test.date] = {d.date: group_scorer.score(d.papers) for d in days}

        def inner(
            recipe: ProfileRecipe,
            others: list[Day] = others,
            groups: dict[str, dict[str, Score]] = groups,
        ) -> float:
            # Score on each other day with votes from the remaining one only: T never seen.
            return float(
                np.mean(
                    [
                        test_figures(prior, groups, d, [e for e in others if e is not d], recipe)[0]
                        for d in others
                    ]
                )
            )

        trained = {recipe: inner(recipe) for recipe in GRID}
        best = max(GRID, key=lambda r: (trained[r], -GRID.index(r)))
        ap, pk, n = test_figures(prior, groups, test, others, best)
        print(
            f"  held out {test.date}: chose {describe(best)} "
            f"(train AP {trained[best]:.3f}) -> held-out AP {ap:.3f} after {n} votes"
        )
        held.append((ap, pk))
        # How much the choice matters: every recipe of the grid on this day.
        spread[test.date] = [test_figures(prior, groups, test, others, r)[0] for r in GRID]
    show("feedback, leave-one-day-out", held, days)
    means = np.mean([spread[d.date] for d in days], axis=0)
    print(
        f"  every recipe of the grid, mean AP over the days: min {means.min():.3f}, "
        f"median {np.median(means):.3f}, max {means.max():.3f} (the days' labels are few: "
        "one picked paper moving ten places changes a day's AP by about 0.01)"
    )
    ceiling = []
    for test in days:
        votes = {
            p.id: 1 if p.id in d.labels else -1 for d in days if d is not test for p in d.papers
        }
        voted = {p.id: p for d in days if d is not test for p in d.papers}
        group = folds[test.date][test.date]
        order = reader_ranking(prior, group, test.papers, votes, voted, ProfileRecipe())
        ceiling.append((average_precision(order, test.labels), precision_at_k(order, test.labels)))
    show("CEILING, every other-day paper voted*", ceiling, days)
    print(
        "* not held-out figures: the default recipe, and the grid above, were picked looking at "
        "all days; the CEILING line votes on all ~300 papers of the other two days (no 60 cap)"
    )
