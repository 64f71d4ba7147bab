"""The half-price path: the day through the Message Batches API stand-in, early and late."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import anthropic
import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler
from rq.registry import ScheduledJobRegistry

from paperboy.batches import DayBatch
from paperboy.costs import price_for
from paperboy.llm import ClaudeJudge
from paperboy.models import Paper, Prior, Score
from paperboy.store import Store
from workers import batches as batch_jobs
from workers import jobs

from .conftest import FIXTURES, ROOT, JudgedDay
from .standins import anthropic_batches
from .standins.anthropic_api import API_KEY, AnthropicStandIn, serve
from .standins.feeds import FeedServer
from .standins.feeds import serve as feeds_serve

DAY = date(2025, 6, 3)
MODEL = "claude-haiku-5-5"


@pytest.fixture
def prior(judged_day: JudgedDay) -> Prior:
    return judged_day.prior


@pytest.fixture
def papers(judged_day: JudgedDay) -> list[Paper]:
    return judged_day.papers[:30]


@pytest.fixture
def local(judged_day: JudgedDay, papers: list[Paper]) -> dict[str, Score]:
    return {p.id: judged_day.local[p.id] for p in papers}


@pytest.fixture
def standin() -> Iterator[AnthropicStandIn]:
    with serve(AnthropicStandIn(model=MODEL)) as state:
        yield state


def judge_for(
    standin: AnthropicStandIn, store: Store, prior: Prior, limit: float = 0.10
) -> ClaudeJudge:
    client = anthropic.Anthropic(api_key=API_KEY, base_url=standin.url, max_retries=1)
    price = price_for(MODEL)
    batches = DayBatch(client, store, model=MODEL, price=price, limit=limit, sleep=lambda _: None)
    return ClaudeJudge(
        client,
        store,
        prior,
        model=MODEL,
        price=price,
        batch_size=10,
        max_usd_per_day=limit,
        batches=batches,
    )


def test_a_day_submitted_early_is_judged_by_batch_at_half_price(
    standin: AnthropicStandIn,
    store: Store,
    prior: Prior,
    papers: list[Paper],
    local: dict[str, Score],
) -> None:
    judge = judge_for(standin, store, prior)
    batch_id = judge.submit(DAY, papers, local)
    assert batch_id is not None and judge.submit(DAY, papers, local) == batch_id  # once
    (batch,) = standin.batches.values()
    assert len(batch.requests) == 3
    for request in batch.requests:  # the 1-hour cache, as documented for batches
        control = request["params"]["system"][-1]["cache_control"]
        assert control == {"type": "ephemeral", "ttl": "1h"}
    held = judge.budget.spend(DAY).held
    assert held > 0  # the batch's worst case, reserved at submission
    judged = judge.judge(DAY, papers, local)
    assert {s.scorer for s in judged.values()} == {"claude"}
    assert standin.calls == []  # no synchronous call: every paper came back from the batch
    ways = judge.budget.judged_by(DAY)
    assert len(ways) == 30 and {w["via"] for w in ways.values()} == {"batch"}
    spend = judge.budget.spend(DAY)
    assert spend.held == 0 and spend.spent == pytest.approx(standin.billed(batch=True), abs=1e-7)
    assert spend.spent < held
    writes = [
        r["message"]["usage"]["cache_creation"]["ephemeral_1h_input_tokens"]
        for r in batch.results.values()
    ]
    assert writes.count(0) == 2  # written once, read by the others within the hour
    retrieved = batch.retrieved
    assert judge.judge(DAY, papers, local) == judged and batch.retrieved == retrieved


def test_a_batch_still_open_at_delivery_is_cancelled_and_the_rest_judged_at_once(
    standin: AnthropicStandIn,
    store: Store,
    prior: Prior,
    papers: list[Paper],
    local: dict[str, Score],
) -> None:
    standin.batch_auto = False  # the batch takes its time
    judge = judge_for(standin, store, prior)
    batch_id = judge.submit(DAY, papers, local)
    assert batch_id is not None
    anthropic_batches.process(standin, batch_id, 1)  # one request of three done by delivery
    judged = judge.judge(DAY, papers, local)
    batch = standin.batches[batch_id]
    assert batch.cancel_initiated_at is not None and batch.status == "ended"
    assert {s.scorer for s in judged.values()} == {"claude"}
    ways = judge.budget.judged_by(DAY)
    assert sorted(w["via"] for w in ways.values()).count("batch") == 10
    asked = [pid for call in standin.calls for pid in call.asked]
    assert len(asked) == len(set(asked)) == 20  # only the papers with no result, each once
    assert not set(asked) & set(anthropic_batches.asked(batch.requests[0]))
    spend = judge.budget.spend(DAY)
    assert spend.held == 0
    assert spend.spent == pytest.approx(judge.budget.day_cost(DAY)["usd"], abs=1e-7)


def test_a_batch_that_ends_after_delivery_is_settled_later_and_gives_no_second_verdict(
    standin: AnthropicStandIn,
    store: Store,
    prior: Prior,
    papers: list[Paper],
    local: dict[str, Score],
) -> None:
    standin.batch_auto, standin.cancel_polls = False, 1000  # cancelling takes long
    judge = judge_for(standin, store, prior)
    assert judge.batches is not None
    judge.batches.wait_seconds = 0
    batch_id = judge.submit(DAY, papers, local)
    assert batch_id is not None
    judged = judge.judge(DAY, papers, local)  # the batch has not ended: all judged at once
    assert {s.scorer for s in judged.values()} == {"claude"} and len(standin.answered) == 3
    assert judge.budget.spend(DAY).held > 0  # the batch's reservation waits for its end
    # the batch ends later, with verdicts of its own for papers judged already
    anthropic_batches.script_batch(standin, "out_of_range", "out_of_range")
    anthropic_batches.process(standin, batch_id, 2)
    standin.batches[batch_id].polls_left = 0
    judge.save(judge.batches.collect(DAY, wait=False))
    assert judge.judge(DAY, papers, local) == judged  # the first verdicts stand
    spend = judge.budget.spend(DAY)
    assert spend.held == 0 and judge.batches.open_days() == []
    calls = judge.budget.calls(DAY)
    assert [c["via"] for c in calls].count("batch") == 2  # billed, so in the ledger
    assert spend.spent == pytest.approx(sum(c["usd"] for c in calls), abs=1e-7)


def test_a_batch_the_budget_cannot_cover_leaves_the_least_likely_papers_out(
    standin: AnthropicStandIn,
    store: Store,
    prior: Prior,
    papers: list[Paper],
    local: dict[str, Score],
) -> None:
    judge = judge_for(standin, store, prior, limit=0.004)
    batch_id = judge.submit(DAY, papers, local)
    assert batch_id is not None
    (batch,) = standin.batches.values()
    sent = [pid for r in batch.requests for pid in anthropic_batches.asked(r)]
    order = [p.id for p in judge.candidates(papers, local)]
    assert 0 < len(sent) < 30 and sent == order[: len(sent)]
    assert judge.budget.spend(DAY).held <= 0.004


# the jobs ----------------------------------------------------------------------------------

FEED = FIXTURES / "days" / "cs.SD+eess.AS-2025-06-04.xml"


@pytest.fixture
def configured(
    monkeypatch: pytest.MonkeyPatch, unconfigured: Path, standin: AnthropicStandIn
) -> Iterator[FeedServer]:
    """arXiv's RSS served locally, Claude at the stand-in, LLM_BATCH on."""
    with feeds_serve(FeedServer(routes={"/rss/cs.SD+eess.AS": FEED.read_bytes()})) as server:
        for name, value in {
            "ARXIV_FEED_URL": server.url + "/rss/",
            "ARXIV_CATEGORIES": "cs.SD,eess.AS",
            "ANTHROPIC_API_KEY": API_KEY,
            "ANTHROPIC_BASE_URL": standin.url,
            "LLM_BATCH": "true",
        }.items():
            monkeypatch.setenv(name, value)
        yield server


def test_the_clock_submits_the_fresh_day_early_and_delivers_it_with_the_batch(
    configured: FeedServer, standin: AnthropicStandIn, redis_client: Redis, store: Store
) -> None:
    # 05:30 on the 5th: arXiv has not rebuilt the feed yet; look again, until 06:00
    assert batch_jobs.look_early(0, "2025-06-05T05:00:00+00:00") == "stale"
    scheduled = ScheduledJobRegistry(jobs.QUEUE, connection=redis_client).get_job_ids()
    assert scheduled == ["paperboy-early-2025-06-05-1"]
    assert batch_jobs.look_early(1, "2025-06-05T05:30:00+00:00") == "stale"  # 06:00 takes over
    # on the 4th the feed is fresh at 05:30: ingested and submitted at once
    batch_id = batch_jobs.look_early(0, "2025-06-04T05:30:00+00:00")
    assert batch_id in standin.batches
    day = date(2025, 6, 4)
    assert store.is_done(day, "fetch") and store.is_done(day, "batch")
    # 06:00: the scheduled run scores with what came back and delivers
    assert jobs.start_day(0, "2025-06-04T06:00:00+00:00") == "2025-06-04"
    queue = Queue(jobs.QUEUE, connection=redis_client)
    SimpleWorker([queue], connection=redis_client).work(burst=True)
    record = store.day(day)
    assert record is not None and record.digest is not None
    assert record.digest.judged == record.digest.read == 49
    assert standin.calls == []  # all by batch
    assert len(configured.requests) == 4  # two stale looks, early, 06:00; ingested once


@pytest.mark.parametrize("batch", [True, False])
def test_the_clock_looks_early_only_with_llm_batch(
    batch: bool, monkeypatch: pytest.MonkeyPatch, unconfigured: Path, redis_client: Redis
) -> None:
    monkeypatch.setenv("LLM_BATCH", str(batch).lower())
    monkeypatch.setenv("FETCH_CRON", "15 5 * * 1-5")
    scheduler = CronScheduler(connection=redis_client)
    scheduler.load_config_from_file(str(ROOT / "workers" / "cron.py"))
    found = {job.args[0]: job.cron for job in scheduler.get_jobs()}  # the step on_the_clock runs
    assert found["start_day"] == "0 6 * * 1-5"
    assert ("look_early" in found) is batch and ("collect_batches" in found) is batch
    if batch:
        assert found["look_early"] == "15 5 * * 1-5"


def test_a_batch_endpoint_that_answers_html_leaves_the_day_to_the_calls_at_once(
    standin: AnthropicStandIn,
    store: Store,
    prior: Prior,
    papers: list[Paper],
    local: dict[str, Score],
) -> None:
    standin.batch_html = True  # a proxy's page instead of the API
    judge = judge_for(standin, store, prior)
    assert judge.submit(DAY, papers, local) is None
    assert judge.budget.spend(DAY).held == 0  # the reservation was given back
    judged = judge.judge(DAY, papers, local)
    assert {s.scorer for s in judged.values()} == {"claude"} and len(standin.answered) == 3
