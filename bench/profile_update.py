"""Time from a new vote to the reader's updated ranking of the 1,506-paper day.

Run: .venv/bin/python -m bench.profile_update
A reader with 2,000 votes (papers of other real days, 👍 on a seeded random third); the day's
tf-idf corpus is cached after the first ranking, as in the running service, and so are the
voted papers' cosines with the day's papers: each update computes the new vote's cosines, the
nearest-neighbour scores of the 1,506 papers, their reasons and the blend. The first update
also imports scipy.sparse (about a second, once per process) and vectorises the 2,000 voted
papers. Goal: < 200 ms.
"""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime, timedelta

from bench import BIG_DAY, DAYS, PROFILE
from paperboy.arxiv import read_saved
from paperboy.feed import parse_feed
from paperboy.local import LocalScorer
from paperboy.models import Paper, Vote
from paperboy.prior import load_prior
from paperboy.profiles import ReaderModel, blend
from paperboy.votes import current_votes

N_VOTES = 2000


def main() -> None:
    """Print the cold and warm update times."""
    rng = random.Random(0)
    today = parse_feed(BIG_DAY.name, read_saved(BIG_DAY)).papers
    pool: dict[str, Paper] = {}
    for path in sorted(DAYS.glob("cs.CL+*.xml.gz")):
        if path != BIG_DAY:
            pool.update({p.id: p for p in parse_feed(path.name, read_saved(path)).papers})
    today_ids = {p.id for p in today}
    history = [p for pid, p in sorted(pool.items()) if pid not in today_ids][:N_VOTES]
    start = datetime(2025, 6, 1, tzinfo=UTC)
    events = [
        Vote(
            reader="U1",
            paper=p.id,
            value=1 if rng.random() < 0.33 else -1,
            at=start + timedelta(seconds=i),
        )
        for i, p in enumerate(history)
    ]
    voted = {p.id: p for p in history}
    prior = load_prior(None, None, None, PROFILE)
    t0 = time.perf_counter()
    group = LocalScorer(prior).score(today)
    print(
        f"group ranking of {len(today)} papers (cold, builds the day's corpus): "
        f"{(time.perf_counter() - t0) * 1000:.0f} ms"
    )
    timings = []
    for k in range(11):
        target = today[rng.randrange(len(today))]
        events.append(
            Vote(reader="U1", paper=target.id, value=1, at=start + timedelta(days=3, seconds=k))
        )
        voted[target.id] = target
        t0 = time.perf_counter()
        votes = current_votes(events)
        model = ReaderModel(prior, votes, voted)
        ranking = blend(group, model.score(today), len(votes))
        timings.append((time.perf_counter() - t0) * 1000)
        assert ranking
    print(
        f"vote -> updated ranking with {len(votes)} votes: first {timings[0]:.0f} ms "
        f"(imports scipy.sparse, caches the voted papers' cosines), "
        f"then {', '.join(f'{t:.0f}' for t in timings[1:])} ms"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"load average while measuring: {load:.2f} on {os.cpu_count()} cores; "
        f"median of the warm updates: {sorted(timings[1:])[len(timings[1:]) // 2]:.0f} ms "
        f"(goal < 200 ms)"
    )


if __name__ == "__main__":
    main()
