"""Time from a new vote to the reader's new ranking of the 834-paper day, and a warm ranking.

Run: .venv/bin/python -m bench.profile_update
A reader with 90, then 2,000 votes (papers of the other real days, 👍 on a seeded random third)
ranks the biggest day (1,506 entries, 834 new or cross-listed). Each figure is the reader's
whole order with reasons for the top three digests' worth and its first 15 entries built
(`readers.rank`, as `/paperboy top` and Home rank a reader):
- first: the reader's first ranking of the day in this process: every voted paper is
  vectorised in the day's vocabulary and the liked ones' cosines with the day computed;
- after a vote (cold): a new vote, so no model is cached for this vote count; the voted papers'
  rows and cosines are the day's, computed once, as in the running worker;
- warm: the model for the day and vote count is cached: one order and a sort.
Goals: after a vote, under 300 ms with 90 votes and under 1 s with 2,000; warm under 50 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from datetime import date

from bench import BIG_DAY, DAYS, PROFILE
from paperboy.arxiv import read_saved
from paperboy.feed import parse_feed
from paperboy.local import LocalScorer
from paperboy.models import Paper
from paperboy.order import DayOrder, group_order
from paperboy.prior import load_prior
from paperboy.reader import ReaderModel, Taught
from paperboy.readers import EXPLAIN_TOP, rank

COUNTS = (90, 2000)
GOALS = {90: 300.0, 2000: 1000.0}
WARM_GOAL = 50.0
UPDATES = 9
EXPLAIN = EXPLAIN_TOP * 15


def ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    rng = random.Random(0)
    today = parse_feed(BIG_DAY.name, read_saved(BIG_DAY)).kept(["new", "cross"])
    pool: dict[str, Paper] = {}
    for path in sorted(DAYS.glob("cs.CL+*.xml.gz")):
        if path != BIG_DAY:
            pool.update({p.id: p for p in parse_feed(path.name, read_saved(path)).kept(["new"])})
    today_ids = {p.id for p in today}
    history = [p for pid, p in sorted(pool.items()) if pid not in today_ids]
    prior = load_prior(None, None, None, PROFILE)
    scorer = LocalScorer(prior)
    started = time.perf_counter()
    day = DayOrder.of(date(2025, 6, 3), today, group_order(scorer.score(today)))
    print(
        f"group order of {len(today)} papers (cold, builds the day's corpus): {ms(started):.0f} ms"
    )
    met = True
    for count in COUNTS:
        votes = history[:count]
        liked = [p for p in votes if rng.random() < 1 / 3]
        disliked = [p for p in votes if p not in liked]
        up = len(liked)
        started = time.perf_counter()
        rank(ReaderModel(scorer, Taught(liked, disliked)), day, EXPLAIN).top(15)
        first = ms(started)
        after, warm = [], []
        for _ in range(UPDATES):
            liked = [*liked, today[rng.randrange(len(today))]]  # a 👍 on one of today's
            model = ReaderModel(scorer, Taught(liked, disliked))
            started = time.perf_counter()
            rank(model, day, EXPLAIN).top(15)
            after.append(ms(started))
            started = time.perf_counter()
            rank(model, day, EXPLAIN).top(15)
            warm.append(ms(started))
        cold, hot = statistics.median(after), statistics.median(warm)
        ok = cold < GOALS[count] and hot < WARM_GOAL
        met = met and ok
        print(
            f"{count:>5} votes ({up} 👍): first ranking {first:.0f} ms; after a vote "
            f"median {cold:.0f} ms (max {max(after):.0f}); warm median {hot:.1f} ms  "
            f"[{'ok' if ok else 'MISSED'}: < {GOALS[count]:.0f} ms, warm < {WARM_GOAL:.0f} ms]"
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average while measuring: {load:.2f} on {os.cpu_count()} cores")
    raise SystemExit(0 if met else 1)


if __name__ == "__main__":
    main()
