"""The day through the Message Batches API (edge), with LLM_BATCH: half price, for a day that
can wait between its fresh feed and its delivery.

1. submit: as soon as the day's fresh feed is read (from FETCH_CRON on), its candidates not yet
   judged go into one Message Batch, in requests of the judge's batch size, best first. The
   batch's worst case is reserved at once (held until it is collected); when the budget cannot
   cover every request, the least likely papers are left for the day's synchronous calls.
2. collect: when the day is scored (SCHEDULE_CRON), a batch still open is cancelled; once it has
   ended (within END_WAIT_SECONDS), its results are read, their verdicts cached (a paper's first
   verdict stands) and the reservation settled to what the finished requests cost: they are
   billed, cancelled or not. The papers without a verdict are then judged synchronously. A batch
   that has not ended by then is collected later by the hourly `collect_batches` job, so its
   cost still reaches the ledger; its verdicts only count for papers that have none.

The cache lifetime: batch requests ask for the 1-hour prompt cache. A batch's requests are
processed over minutes to hours, in no given order, so the default 5-minute cache would usually
expire between them, and each miss would pay a write (1.25x input) again; an hour's write costs
2x input once, then each read 0.1x. The reservation assumes every request writes it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import anthropic

from paperboy.budget import Budget, Call, Hold
from paperboy.calls import Caller, Prepared, TooLong
from paperboy.costs import Price, dollars
from paperboy.judgment import PaperJudgment, ReplyError, parse_reply, read_message
from paperboy.models import Paper, utc_now
from paperboy.store import RETENTION_DAYS, Store

log = logging.getLogger(__name__)

CACHE_TTL = "1h"
"""The prompt cache's lifetime for batch requests (see above)."""

LEASE_SECONDS = 25 * 3600
"""A batch's reservation outlives the batch (which the API ends within 24 hours)."""

END_WAIT_SECONDS = 180.0
"""How long the scoring step waits for a cancelled batch to end, in seconds."""

POLL_SECONDS = 5.0
"""How often it looks, in seconds."""

SUBMIT_SECONDS = 600.0
"""How long a submission may take before a record without a batch id means it never happened."""


@dataclass
class Collected:
    """What a collected batch brought: verdicts, and the ledger's entries for its requests."""

    judged: dict[str, PaperJudgment]
    calls: list[Call]
    usd: float


class DayBatch:
    """The day's Message Batch: submitted once, collected once, recorded in the store."""

    def __init__(
        self,
        client: anthropic.Anthropic,
        store: Store,
        *,
        model: str,
        price: Price,
        limit: float,
        now: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        wait_seconds: float = END_WAIT_SECONDS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.client = client
        self.store = store
        self.budget = Budget(store)
        self.model, self.price, self.limit = model, price, limit
        self.now, self.sleep = now, sleep
        self.wait_seconds, self.poll_seconds = wait_seconds, poll_seconds

    # the record in the store -------------------------------------------------------------------

    def record(self, day: date) -> dict[str, Any] | None:
        raw = self.store.redis.get(self.store.key("claude-batch", day.isoformat()))
        return json.loads(raw) if raw else None

    def _save(self, day: date, record: dict[str, Any]) -> None:
        ttl = timedelta(days=RETENTION_DAYS)
        with self.store.redis.pipeline() as pipe:
            pipe.set(self.store.key("claude-batch", day.isoformat()), json.dumps(record), ex=ttl)
            if record.get("collected"):
                pipe.srem(self.store.key("claude-batches"), day.isoformat())
            else:
                pipe.sadd(self.store.key("claude-batches"), day.isoformat())
            pipe.execute()

    def open_days(self) -> list[date]:
        """Days whose batch was submitted and not collected yet."""
        found = self.store.redis.smembers(self.store.key("claude-batches"))
        return sorted(date.fromisoformat(d.decode()) for d in found)

    # submitting ------------------------------------------------------------------------------

    def submit(self, day: date, caller: Caller, batches: list[list[Paper]]) -> str | None:
        """Submit the day's requests (each a list of papers, best first); returns the batch's
        id, or None when nothing was submitted (the day is then judged synchronously)."""
        known = self.record(day)
        if known is not None:
            log.info("day %s: its Message Batch was submitted already", day)
            return str(known.get("id") or "") or None
        with ThreadPoolExecutor(8, thread_name_prefix="claude-count") as pool:
            prepared = caller.prepare_all(batches, pool, ttl=CACHE_TTL, batch=True)
            while any(isinstance(p.error, TooLong) for p in prepared):
                prepared = _split_long(prepared, caller, pool)
        ready = [p for p in prepared if p.request is not None]
        hold: Hold | None = None
        while ready and hold is None:
            worst = sum(p.request.worst for p in ready if p.request)
            likely = sum(p.request.likely_cold for p in ready if p.request)
            hold = self.budget.reserve(day, worst, self.limit, likely, LEASE_SECONDS)
            if hold is None:
                ready.pop()  # the least likely papers are left to the day's own calls
        if hold is None:
            log.warning("day %s: the budget cannot cover a Message Batch; no batch", day)
            return None
        requests = {f"r{i}": p for i, p in enumerate(ready)}
        record: dict[str, Any] = {
            "hold": {"id": hold.id, "usd": hold.usd, "likely": hold.likely},
            "requests": {cid: [paper.id for paper in p.papers] for cid, p in requests.items()},
            "likely": {cid: p.request.likely_cold for cid, p in requests.items() if p.request},
            "at": self.now().isoformat(),
        }
        self._save(day, record)  # before the call: a crash after it still knows the hold
        try:
            created = self.client.messages.batches.create(
                requests=[
                    {"custom_id": cid, "params": p.request.params}  # type: ignore[typeddict-item]
                    for cid, p in requests.items()
                    if p.request
                ]
            )
            batch_id = _field(created, "id")
        except (anthropic.APIError, ReplyError) as exc:
            log.error("day %s: the Message Batch could not be submitted: %s", day, exc)
            self.budget.settle(hold, 0.0)
            self._save(day, {**record, "collected": True, "problem": str(exc)[:200]})
            return None
        self._save(day, {**record, "id": batch_id})
        papers = sum(len(ids) for ids in record["requests"].values())
        log.info(
            "day %s: submitted %d papers in %d requests as Message Batch %s (up to $%.4f held)",
            *(day, papers, len(requests), batch_id, hold.usd),
        )
        return batch_id

    # collecting ------------------------------------------------------------------------------

    def collect(self, day: date, wait: bool = True) -> dict[str, PaperJudgment]:
        """The verdicts of the day's batch, once it has ended (a batch still open is
        cancelled first); its reservation settled and its requests in the ledger. Nothing when
        there is no batch, it was collected, or it did not end in time."""
        record = self.record(day)
        if record is None or record.get("collected"):
            return {}
        hold = Hold(record["hold"]["id"], day, record["hold"]["usd"], record["hold"]["likely"])
        if not record.get("id"):
            started = datetime.fromisoformat(record["at"])
            if (self.now() - started).total_seconds() < SUBMIT_SECONDS:
                return {}  # being submitted right now: collected later
            self.budget.settle(hold, 0.0)  # the process died before the batch was created
            self._save(day, {**record, "collected": True})
            return {}
        try:
            status = self._ended(day, record["id"], wait)
            if status != "ended":
                log.warning(
                    "day %s: Message Batch %s has not ended (%s); it is collected later",
                    *(day, record["id"], status),
                )
                return {}
            collected = self._results(day, record)
        except (anthropic.APIError, ReplyError, ValueError) as exc:
            log.error(
                "day %s: Message Batch %s could not be collected now (%s); it is tried again later",
                *(day, record["id"], exc),
            )
            return {}
        self.budget.settle(hold, collected.usd, collected.calls)
        self._save(day, {**record, "collected": True})
        log.info(
            "day %s: Message Batch %s judged %d papers for $%.4f",
            *(day, record["id"], len(collected.judged), collected.usd),
        )
        return collected.judged

    def _ended(self, day: date, batch_id: str, wait: bool) -> str:
        """The batch's status once it has ended, cancelling it if it is still processing;
        waits up to `wait_seconds` (when `wait`)."""
        status = _field(self.client.messages.batches.retrieve(batch_id), "processing_status")
        if status == "in_progress":
            log.info("day %s: Message Batch %s is still open: cancelling it", day, batch_id)
            status = _field(self.client.messages.batches.cancel(batch_id), "processing_status")
        waited = 0.0
        while status != "ended" and wait and waited < self.wait_seconds:
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds
            status = _field(self.client.messages.batches.retrieve(batch_id), "processing_status")
        return status

    def _results(self, day: date, record: dict[str, Any]) -> Collected:
        """Read every result of an ended batch (ValueError if the results cannot be read)."""
        requests: dict[str, list[str]] = record["requests"]
        judged: dict[str, PaperJudgment] = {}
        calls: list[Call] = []
        seen = set()
        for item in self.client.messages.batches.results(record["id"]):
            cid = _field(item, "custom_id")
            if cid not in requests or cid in seen:
                continue
            seen.add(cid)
            result = getattr(item, "result", None)
            kind = getattr(result, "type", None)
            ids = requests[cid]
            call = Call(at=self.now().isoformat(), model=self.model, via="batch", papers=len(ids))
            if kind == "errored":
                call.problem = "errored: " + str(getattr(result, "error", ""))[:160]
                calls.append(call)
                continue
            if kind != "succeeded":  # canceled or expired: not billed, judged synchronously
                continue
            try:
                reply = read_message(getattr(result, "message", None))
            except ReplyError as exc:
                call.usd, call.problem = record["likely"][cid], f"{exc}: charged its likely cost"
                calls.append(call)
                continue
            if reply.usage is None:
                call.usd, call.problem = record["likely"][cid], "no usage: charged its likely cost"
                calls.append(call)
                continue
            usage = reply.usage
            call.usd = dollars(usage, self.price, batch=True)
            call.input, call.output, call.cache_read = usage.input, usage.output, usage.cache_read
            call.cache_write, call.cache_write_1h = usage.cache_write, usage.cache_write_1h
            try:
                found = parse_reply(reply.text, ids)
            except ReplyError as exc:
                found, call.problem = {}, str(exc)
            call.judged = list(found)
            if not call.problem and len(found) < len(ids):
                call.problem = f"skipped {len(ids) - len(found)}"
            judged.update(found)
            calls.append(call)
        return Collected(judged, calls, sum(c.usd for c in calls))


def _field(obj: object, name: str) -> str:
    """A string field of an API object; ReplyError when the answer has none."""
    value = getattr(obj, name, None)
    if not isinstance(value, str) or not value:
        raise ReplyError(f"the answer has no {name}: {str(obj)[:80]!r}")
    return value


def _split_long(
    prepared: list[Prepared], caller: Caller, pool: ThreadPoolExecutor
) -> list[Prepared]:
    out: list[Prepared] = []
    for item in prepared:
        if isinstance(item.error, TooLong):
            half = (len(item.papers) + 1) // 2
            halves = [item.papers[:half], item.papers[half:]]
            out += caller.prepare_all(halves, pool, ttl=CACHE_TTL, batch=True)
        else:
            out.append(item)
    return out
