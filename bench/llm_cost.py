"""What a day of Claude scoring costs and how long it takes, through the Messages API stand-in.

Scores the 1,506-entry day in bench/data (cs.CL+cs.CV+cs.MM+cs.LG+cs.SI, 2025-06-03) with the
default budget (LLM_MAX_PAPERS=200, LLM_MAX_USD_PER_DAY=0.05), bench/data's reader, and the
stand-in answering every call after 2 s. Prints calls, papers judged, tokens and dollars at
Claude Haiku 5.5's list price, and wall time; then checks the goals: at least 200 papers judged,
under $0.02 for the day, wall time under 3 times one call's latency.

    .venv/bin/python -m bench.llm_cost [--latency 2.0]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date

import anthropic

from bench import BIG_DAY, PROFILE
from paperboy.arxiv import read_saved
from paperboy.costs import DEFAULT_MODEL, Usage, dollars, price_for
from paperboy.feed import parse_feed
from paperboy.llm import ClaudeJudge
from paperboy.local import LocalScorer
from paperboy.prior import load_prior
from paperboy.settings import Settings
from paperboy.store import Store, in_process
from tests.standins.anthropic_api import API_KEY, AnthropicStandIn, serve


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--latency", type=float, default=2.0, help="seconds per call (2.0)")
    opts = args.parse_args()

    defaults = Settings(_env_file=None)  # type: ignore[call-arg]  # the defaults, not .env
    prior = load_prior(
        PROFILE / "criteria.md", PROFILE / "seed_papers.json", PROFILE / "authors.txt", PROFILE
    )
    feed = parse_feed(BIG_DAY.name, read_saved(BIG_DAY))
    papers = [
        p.model_copy(update={"day": date(2025, 6, 3)})
        for p in feed.kept(defaults.arxiv_announce_types)
    ]
    local = LocalScorer(prior).score(papers)
    price = price_for(DEFAULT_MODEL)
    day = date(2025, 6, 3)

    with serve(AnthropicStandIn(model=DEFAULT_MODEL, latency=opts.latency)) as standin:
        client = anthropic.Anthropic(
            api_key=API_KEY, base_url=standin.url, max_retries=3, timeout=60.0
        )
        store = Store(in_process(), persistent=False)
        judge = ClaudeJudge(
            client,
            store,
            prior,
            model=DEFAULT_MODEL,
            price=price,
            max_papers=defaults.llm_max_papers,
            max_usd_per_day=defaults.llm_max_usd_per_day,
        )
        started = time.monotonic()
        judged = judge.judge(day, papers, local)
        wall = time.monotonic() - started
        served = standin.totals()
        calls_before, again = len(standin.calls), time.monotonic()
        judge.judge(day, papers, local)
        rerun_wall, rerun_calls = time.monotonic() - again, len(standin.calls) - calls_before

    usage = Usage(
        served["input_tokens"],
        served["output_tokens"],
        served["cache_creation_input_tokens"],
        served["cache_read_input_tokens"],
    )
    by_claude = sum(1 for s in judged.values() if s.scorer == "claude")
    ledger = store.day_cost(day)
    # priced call by call, as the API bills them (the long-prompt tier is per request)
    cost = sum(
        dollars(
            Usage(
                c.usage["input_tokens"],
                c.usage["output_tokens"],
                c.usage["cache_creation_input_tokens"],
                c.usage["cache_read_input_tokens"],
            ),
            price,
        )
        for c in standin.answered
    )
    calls = len(standin.answered)

    print(
        f"day {day}: {len(feed.papers):,} entries in the feed, {len(papers):,} new or "
        f"cross-listed, {len(judged)} candidates"
    )
    print(
        f"model {DEFAULT_MODEL} at ${price.input:.2f} in / ${price.output:.2f} out per MTok "
        f"(cache write ${price.cache_write:.3f}, read ${price.cache_read:.3f}); "
        f"{opts.latency:.1f} s per call"
    )
    print(f"calls              {calls}")
    print(f"papers judged      {by_claude}")
    print(f"tokens in          {usage.input:,}")
    print(f"tokens out         {usage.output:,}")
    print(f"cache write        {usage.cache_write:,}")
    print(f"cache read         {usage.cache_read:,}")
    print(f"dollars            ${cost:.4f}  (ledger ${ledger['usd']:.4f})")
    print(f"wall time          {wall:.2f} s  ({wall / opts.latency:.2f} x one call)")
    print(
        f"re-run             {rerun_calls} new calls, "
        f"{rerun_wall:.2f} s, ${judge.cost(day) - ledger['usd']:.4f} more"
    )
    goals = [
        (by_claude >= 200, f"at least 200 papers judged ({by_claude})"),
        (cost < 0.02, f"under $0.02 for the day (${cost:.4f})"),
        (
            wall < 3 * opts.latency,
            f"wall under 3 x one call ({wall:.2f} s < {3 * opts.latency:.1f} s)",
        ),
    ]
    for ok, text in goals:
        print(f"[{'ok' if ok else 'MISS'}] {text}")
    return 0 if all(ok for ok, _ in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
