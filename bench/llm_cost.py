"""What a day of Claude scoring costs, how long it takes, and how the budget holds, through the
Messages API stand-in (each call answered after --latency seconds, a token count after a tenth
of it) and a real Redis (database 7, or --redis; emptied before and after).

1. The day: the 1,506 entries of 2025-06-03 in bench/data (834 new or cross-listed), bench/data's
   reader, default settings (every kept paper, LLM_MAX_USD_PER_DAY $0.10), the stand-in counting
   4 characters a token: papers judged of kept, calls, tokens, dollars at Claude Haiku 5.5's list
   price, wall time in call latencies; then the day again: calls made.
2. The budget across workers: 4 processes judge a quarter of the day each against one budget,
   with tokenizers of 1, 2 and 4 characters a token and a limit of about two fifths of what the
   day costs at each ($0.02 x 4 / characters a token): spend against the limit, the share used,
   the papers left.
3. kill -9: a process judging the day is killed with calls in flight; another runs the day again:
   the papers it judged, those left, and how long it waited for the dead process's reservations.
4. Half price: the day submitted as a Message Batch and collected.
Then it checks the issue's goals: every paper judged, under $0.05, within 5 call latencies, a
re-run makes no call; with 4 processes at 1, 2 and 4 characters a token spend never passes the
limit and at least 90% of it is used while papers remain; after kill -9 every remaining paper is
judged.

    .venv/bin/python -m bench.llm_cost [--latency 2.0] [--redis URL] [--itpm N]

`--itpm N` adds a run of the day under an input-tokens-per-minute limit of N (it takes minutes).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import anthropic
import redis

from bench import BIG_DAY, PROFILE, ROOT
from paperboy.arxiv import read_saved
from paperboy.batches import DayBatch
from paperboy.budget import Budget
from paperboy.calls import OVER_BUDGET
from paperboy.costs import DEFAULT_MODEL, price_for
from paperboy.feed import parse_feed
from paperboy.llm import ClaudeJudge
from paperboy.local import LocalScorer
from paperboy.models import Paper, Score
from paperboy.prior import load_prior
from paperboy.settings import Settings
from paperboy.store import Store
from tests.standins.anthropic_api import API_KEY, AnthropicStandIn, serve

DAY = date(2025, 6, 3)
REDIS_URL = os.environ.get("PAPERBOY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
DEFAULTS = Settings(_env_file=None)  # type: ignore[call-arg]  # the defaults, not .env
PRICE = price_for(DEFAULT_MODEL)


@dataclass
class Goal:
    ok: bool
    text: str


def judge(url: str, store: Store, *, limit: float = DEFAULTS.llm_max_usd_per_day) -> ClaudeJudge:
    client = anthropic.Anthropic(api_key=API_KEY, base_url=url, max_retries=3, timeout=60.0)
    return ClaudeJudge(
        client, store, prior(), model=DEFAULT_MODEL, price=PRICE, max_usd_per_day=limit
    )


def prior() -> Any:
    return load_prior(
        PROFILE / "criteria.md", PROFILE / "seed_papers.json", PROFILE / "authors.txt", PROFILE
    )


def fresh_store(url: str) -> Store:
    client = redis.Redis.from_url(url)
    client.flushdb()
    return Store(client)


# a worker process ----------------------------------------------------------------------------


def worker(spec: dict[str, Any]) -> int:
    """Judge a share of the day as its own process; print what it did as one JSON line."""
    logging.basicConfig(level=logging.ERROR)  # the parent prints the figures
    data = json.loads(Path(spec["data"]).read_text())
    papers = [Paper.model_validate(p) for p in data["papers"]]
    local = {pid: Score.model_validate(s) for pid, s in data["local"].items()}
    share = papers[spec["share"] :: spec["of"]]
    store = Store(redis.Redis.from_url(spec["redis"]))
    started = time.monotonic()
    scores = judge(spec["url"], store, limit=spec["limit"]).judge(
        DAY, share, {p.id: local[p.id] for p in share}
    )
    print(
        json.dumps(
            {
                "papers": len(share),
                "judged": sum(1 for s in scores.values() if s.scorer == "claude"),
                "over": sum(1 for s in scores.values() if s.reasons[-1:] == [OVER_BUDGET]),
                "wall": time.monotonic() - started,
            }
        ),
        flush=True,
    )
    return 0


def spawn(spec: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.llm_cost", "--worker", json.dumps(spec)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def result(child: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = child.communicate()
    return json.loads(out.strip().splitlines()[-1])


# the scenarios --------------------------------------------------------------------------------


def the_day(opts: argparse.Namespace, papers: list[Paper], local: dict[str, Score]) -> list[Goal]:
    latency = opts.latency
    with serve(
        AnthropicStandIn(model=DEFAULT_MODEL, latency=latency, count_latency=latency / 10)
    ) as standin:
        store = fresh_store(opts.redis)
        claude = judge(standin.url, store)
        started = time.monotonic()
        scores = claude.judge(DAY, papers, local)
        wall = time.monotonic() - started
        calls = len(standin.answered)
        cost = standin.billed()
        totals = Budget(store).day_cost(DAY)
        again = time.monotonic()
        claude.judge(DAY, papers, local)
        rerun_wall, rerun_calls = time.monotonic() - again, len(standin.answered) - calls
    judged = sum(1 for s in scores.values() if s.scorer == "claude")
    print(f"1. the day {DAY}: {len(papers):,} papers kept (new or cross-listed) of 1,506 entries")
    print(
        f"   model {DEFAULT_MODEL} at ${PRICE.input:.2f} in / ${PRICE.output:.2f} out per MTok "
        f"(cache write ${PRICE.cache_write:.3f}, read ${PRICE.cache_read:.3f}); {latency:.1f} s "
        f"a call, {latency / 10:.2f} s a token count; 4 characters a token"
    )
    print(f"   papers judged      {judged:,} of {len(papers):,}")
    print(f"   calls              {calls}")
    print(
        f"   tokens             {int(totals['input']):,} in, {int(totals['output']):,} out, "
        f"{int(totals['cache_write']):,} cache write, {int(totals['cache_read']):,} cache read"
    )
    print(f"   dollars            ${cost:.4f} at list price (ledger ${totals['usd']:.4f})")
    print(f"   wall time          {wall:.2f} s = {wall / latency:.2f} call latencies")
    print(f"   re-run             {rerun_calls} calls, {rerun_wall:.2f} s")
    return [
        Goal(judged == len(papers), f"every kept paper judged ({judged:,} of {len(papers):,})"),
        Goal(cost < 0.05, f"the day under $0.05 at list price (${cost:.4f})"),
        Goal(wall <= 5 * latency, f"within 5 call latencies ({wall / latency:.2f})"),
        Goal(rerun_calls == 0, f"a re-run makes no call ({rerun_calls})"),
    ]


def tokenizers(opts: argparse.Namespace, data: Path) -> list[Goal]:
    goals = []
    print("2. four processes, a quarter of the day each, one budget")
    for chars in (1, 2, 4):
        limit = 0.02 * 4 / chars
        with serve(
            AnthropicStandIn(
                model=DEFAULT_MODEL,
                latency=opts.latency,
                count_latency=opts.latency / 10,
                chars_per_token=chars,
            )
        ) as standin:
            store = fresh_store(opts.redis)
            spec = {"url": standin.url, "redis": opts.redis, "data": str(data), "of": 4}
            started = time.monotonic()
            children = [spawn({**spec, "share": i, "limit": limit}) for i in range(4)]
            done = [result(child) for child in children]
            wall = time.monotonic() - started
            cost = standin.billed()
            spend = Budget(store).spend(DAY)
        judged = sum(d["judged"] for d in done)
        left = sum(d["papers"] - d["judged"] for d in done)
        used = cost / limit
        print(
            f"   {chars} character{'s' if chars > 1 else ''} a token: spent ${cost:.4f} of "
            f"${limit:.2f} ({used:.1%}; counted ${spend.spent:.4f}), {judged:,} papers judged, "
            f"{left:,} left, {wall:.1f} s"
        )
        goals += [
            Goal(
                cost <= limit, f"{chars} c/t: spend within the limit (${cost:.4f} of ${limit:.2f})"
            ),
            Goal(
                left == 0 or used >= 0.9,
                f"{chars} c/t: at least 90% of the budget used while papers remain ({used:.1%})",
            ),
        ]
    return goals


def kill_nine(opts: argparse.Namespace, data: Path, papers: list[Paper]) -> list[Goal]:
    with serve(
        AnthropicStandIn(model=DEFAULT_MODEL, latency=opts.latency, count_latency=opts.latency / 10)
    ) as standin:
        store = fresh_store(opts.redis)
        spec = {"url": standin.url, "redis": opts.redis, "data": str(data), "of": 1, "share": 0}
        child = spawn({**spec, "limit": DEFAULTS.llm_max_usd_per_day})
        while len(standin.calls) < 6:  # the first call answered, the next round in flight
            time.sleep(0.01)
        time.sleep(opts.latency / 4)
        in_flight = len(standin.calls) - len(standin.answered)
        child.send_signal(signal.SIGKILL)
        child.wait()
        budget = Budget(store)
        before = budget.spend(DAY)
        judged_before = len(budget.judged_by(DAY))
        started = time.monotonic()
        rerun = result(spawn({**spec, "limit": DEFAULT_LIMIT}))
        wall = time.monotonic() - started
        after = budget.spend(DAY)
        cost = standin.billed()
    remaining = len(papers) - judged_before
    print("3. kill -9 with calls in flight, then the day again")
    print(
        f"   killed with {in_flight} calls in flight, {judged_before} papers judged, "
        f"${before.held:.4f} held and ${before.spent:.4f} spent"
    )
    print(
        f"   the re-run judged {rerun['judged'] - judged_before:,} of the {remaining:,} "
        f"remaining papers in {wall:.1f} s ({rerun['judged']:,} of {len(papers):,} in all); "
        f"spend ${after.spent:.4f} (of which ${after.unsettled:.4f} for the dead calls, at "
        f"their likely cost), billed by the stand-in ${cost:.4f}"
    )
    return [
        Goal(
            rerun["judged"] == len(papers),
            f"after kill -9 the re-run judges every remaining paper "
            f"({rerun['judged'] - judged_before:,} of {remaining:,})",
        )
    ]


DEFAULT_LIMIT = DEFAULTS.llm_max_usd_per_day


def half_price(opts: argparse.Namespace, papers: list[Paper], local: dict[str, Score]) -> None:
    with serve(AnthropicStandIn(model=DEFAULT_MODEL)) as standin:
        store = fresh_store(opts.redis)
        client = anthropic.Anthropic(api_key=API_KEY, base_url=standin.url)
        batches = DayBatch(client, store, model=DEFAULT_MODEL, price=PRICE, limit=DEFAULT_LIMIT)
        claude = ClaudeJudge(
            client, store, prior(), model=DEFAULT_MODEL, price=PRICE, batches=batches
        )
        claude.submit(DAY, papers, local)
        held = Budget(store).spend(DAY).held
        scores = claude.judge(DAY, papers, local)
        cost = standin.billed(batch=True)
    judged = sum(1 for s in scores.values() if s.scorer == "claude")
    print("4. half price: the day as a Message Batch")
    print(
        f"   {judged:,} papers judged for ${cost:.4f} (${held:.4f} held at submission, "
        f"{len(standin.calls)} calls at once)"
    )


def rate_limited(opts: argparse.Namespace, papers: list[Paper], local: dict[str, Score]) -> None:
    with serve(
        AnthropicStandIn(
            model=DEFAULT_MODEL,
            latency=opts.latency,
            count_latency=opts.latency / 10,
            input_tokens_per_minute=opts.itpm,
        )
    ) as standin:
        store = fresh_store(opts.redis)
        started = time.monotonic()
        scores = judge(standin.url, store).judge(DAY, papers, local)
        wall = time.monotonic() - started
    judged = sum(1 for s in scores.values() if s.scorer == "claude")
    print(f"5. under a limit of {opts.itpm:,} input tokens a minute")
    print(
        f"   {judged:,} papers judged in {wall:.1f} s ({wall / opts.latency:.1f} call latencies), "
        f"{len(standin.refused)} calls answered 429, {standin.early} sent before their retry-after"
    )


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--latency", type=float, default=2.0, help="seconds per call (2.0)")
    args.add_argument("--redis", default=REDIS_URL, help=f"Redis to use and empty ({REDIS_URL})")
    args.add_argument("--itpm", type=int, default=0, help="also run under this rate limit")
    args.add_argument("--worker", help=argparse.SUPPRESS)
    opts = args.parse_args()
    if opts.worker:
        return worker(json.loads(opts.worker))

    feed = parse_feed(BIG_DAY.name, read_saved(BIG_DAY))
    papers = [p.model_copy(update={"day": DAY}) for p in feed.kept(DEFAULTS.arxiv_announce_types)]
    local = LocalScorer(prior()).score(papers)
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "day.json"
        data.write_text(
            json.dumps(
                {
                    "papers": [p.model_dump(mode="json") for p in papers],
                    "local": {pid: s.model_dump(mode="json") for pid, s in local.items()},
                }
            )
        )
        goals = the_day(opts, papers, local)
        goals += tokenizers(opts, data)
        goals += kill_nine(opts, data, papers)
        half_price(opts, papers, local)
        if opts.itpm:
            rate_limited(opts, papers, local)
    redis.Redis.from_url(opts.redis).flushdb()  # nothing of the bench is left behind
    for goal in goals:
        print(f"[{'ok' if goal.ok else 'MISSED'}] {goal.text}")
    return 0 if all(goal.ok for goal in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
