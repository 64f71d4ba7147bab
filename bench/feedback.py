"""Part (b) of bench/quality.py: a simulated reader's votes, then the held-out day.

For each judged day as the test day, a reader starts with no votes and, on each of the other
judged days in turn, is shown the top 10 of their current ranking not yet voted on, votes 👍
on the papers the reference system picked and 👎 on the rest, three rounds a day, re-ranked
after each round. The test day is then ranked by the blend of group and personal scores.
Knobs are chosen leave-one-day-out: with day T held out, a recipe is scored on each other day
D with votes cast on the remaining day only (never on T), and the best is reported on T. The
group order under the votes is the local scorer with the recipe part (a) chose without T.
A last line, not a held-out figure, shows the ceiling: every paper of the other two days voted.
"""

from __future__ import annotations

import itertools

import numpy as np
from quality import Day, average_precision, precision_at_k, show

from paperboy.local import LocalScorer, Recipe
from paperboy.models import Paper, Prior, Score
from paperboy.profiles import ProfileRecipe, ReaderModel, blend

ROUNDS = 3
SHOWN = 10
GRID = [
    ProfileRecipe(c=c, vote_weight=v, blend_half=h, neighbour_weight=n)
    for c, v, h, n in itertools.product((0.1, 1.0), (3.0, 10.0), (5.0, 20.0), (0.0, 0.5))
]


def reader_ranking(
    prior: Prior,
    group: dict[str, Score],
    day: list[Paper],
    votes: dict[str, int],
    voted: dict[str, Paper],
    recipe: ProfileRecipe,
) -> list[str]:
    """The reader's order of a day: group scores blended with their personal model."""
    model = ReaderModel(prior, votes, voted, recipe=recipe)
    personal = model.score(day) if votes else {}
    return [s.paper for s in blend(group, personal, len(votes), recipe.blend_half)]


def simulate(
    prior: Prior, groups: dict[str, dict[str, Score]], vote_days: list[Day], recipe: ProfileRecipe
) -> tuple[dict[str, int], dict[str, Paper]]:
    """The votes a reader casts over `vote_days`, three rounds of ten a day."""
    votes: dict[str, int] = {}
    voted: dict[str, Paper] = {}
    for day in vote_days:
        for _ in range(ROUNDS):
            order = reader_ranking(prior, groups[day.date], day.papers, votes, voted, recipe)
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
) -> tuple[float, float, int]:
    """(AP, P@k, votes cast) on the test day after voting on `vote_days`."""
    votes, voted = simulate(prior, groups, vote_days, recipe)
    order = reader_ranking(prior, groups[test.date], test.papers, votes, voted, recipe)
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
    print(f"leave-one-day-out over {len(GRID)} recipes:")
    held = []
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
            f"  held out {test.date}: chose c={best.c} vote_weight={best.vote_weight} "
            f"blend_half={best.blend_half} neighbour_weight={best.neighbour_weight} "
            f"(train AP {trained[best]:.3f}) -> held-out AP {ap:.3f} after {n} votes"
        )
        held.append((ap, pk))
    show("feedback, leave-one-day-out", held, days)
    ceiling = []
    for test in days:
        votes = {
            p.id: 1 if p.id in d.labels else -1 for d in days if d is not test for p in d.papers
        }
        voted = {p.id: p for d in days if d is not test for p in d.papers}
        group = folds[test.date][test.date]
        order = reader_ranking(prior, group, test.papers, votes, voted, ProfileRecipe())
        ceiling.append((average_precision(order, test.labels), precision_at_k(order, test.labels)))
    show("ceiling: all other days' labels*", ceiling, days)
    print("* not held-out figures: the default recipe was picked looking at all days")
