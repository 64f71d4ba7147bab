"""The day's Claude budget in Redis, shared by every worker: reservations, their settlement and
expiry, and the ledger of what each call and each paper cost.

Before a call, its worst case is reserved (`reserve`); the reservation holds budget until it is
settled to what the call really cost (`settle`), which also writes the call to the ledger, in one
atomic step. A reservation has a lease that its process renews while the call is in flight
(`Keeper`); a process that dies stops renewing, and within `LEASE_SECONDS` the reservation
expires: the hold is freed and the call is charged at what it most likely cost (it may have been
billed although nobody read the reply), which the ledger counts as unsettled. Every reservation
is checked against the day's spend plus every hold, atomically on Redis, so spend never passes
the limit however many workers run.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from paperboy.store import COST_RETENTION_DAYS, RETENTION_DAYS, Store

LEASE_SECONDS = 30.0
"""How long a reservation outlives the last sign of life of the process that holds it, in
seconds: a crashed process's reservations are freed this long after it died."""

RENEW_SECONDS = 10.0
"""How often a process renews the leases of its calls in flight, in seconds."""

EXPIRE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
for _, rid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do
  local likely = tonumber(redis.call('HGET', KEYS[4], rid) or '0')
  redis.call('HINCRBYFLOAT', KEYS[1], 'spent', likely)
  redis.call('HINCRBYFLOAT', KEYS[1], 'unsettled', likely)
  redis.call('HINCRBY', KEYS[1], 'unsettled_calls', 1)
  redis.call('HSET', KEYS[5], rid, likely)
  redis.call('HDEL', KEYS[2], rid)
  redis.call('HDEL', KEYS[4], rid)
  redis.call('ZREM', KEYS[3], rid)
end
local held = 0
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do held = held + tonumber(v) end
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
"""
"""Expire the reservations whose lease ended (KEYS: budget, holds, leases, likely costs,
expired), charging each its likely cost; leaves `now`, `held` and `spent` for what follows."""

RESERVE = (
    EXPIRE
    + """
local usd = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'limit', ARGV[4])
if spent + held + usd > tonumber(ARGV[4]) + 1e-12 then
  return {0, tostring(spent), tostring(held)}
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[5]), ARGV[1])
for i = 1, 5 do redis.call('EXPIRE', KEYS[i], tonumber(ARGV[6])) end
return {1, tostring(spent), tostring(held + usd)}
"""
)
"""Reserve ARGV[2] dollars (likely cost ARGV[3]) as hold ARGV[1] against limit ARGV[4], with a
lease of ARGV[5] ms; keys kept ARGV[6] s. Returns {1 if reserved, spent, held}."""

STATE = (
    EXPIRE
    + """
local function field(name, default) return redis.call('HGET', KEYS[1], name) or default end
return {tostring(spent), tostring(held), field('limit', ''), field('unsettled', '0'),
        field('ran_out', '0')}
"""
)

RENEW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i])
  end
end
return 1
"""
"""Push back the leases of the holds ARGV[2..] by ARGV[1] ms from now, if not expired yet."""

SETTLE = """
local rid, usd = ARGV[1], tonumber(ARGV[2])
if redis.call('HEXISTS', KEYS[2], rid) == 1 then
  redis.call('HDEL', KEYS[2], rid)
  redis.call('HDEL', KEYS[4], rid)
  redis.call('ZREM', KEYS[3], rid)
  redis.call('HINCRBYFLOAT', KEYS[1], 'spent', usd)
else
  local charged = redis.call('HGET', KEYS[5], rid)
  if not charged then return 0 end
  redis.call('HINCRBYFLOAT', KEYS[1], 'spent', usd - tonumber(charged))
  redis.call('HINCRBYFLOAT', KEYS[1], 'unsettled', -tonumber(charged))
  redis.call('HINCRBY', KEYS[1], 'unsettled_calls', -1)
  redis.call('HDEL', KEYS[5], rid)
end
local i = 7
local n = tonumber(ARGV[i])
for k = 1, n do redis.call('RPUSH', KEYS[7], ARGV[i + k]) end
i = i + n + 1
n = tonumber(ARGV[i])
for k = 1, n do
  local name, value = ARGV[i + 2 * k - 1], ARGV[i + 2 * k]
  if name == 'usd' then redis.call('HINCRBYFLOAT', KEYS[6], name, value)
  else redis.call('HINCRBY', KEYS[6], name, value) end
end
i = i + 2 * n + 1
n = tonumber(ARGV[i])
for k = 1, n do redis.call('HSET', KEYS[8], ARGV[i + 2 * k - 1], ARGV[i + 2 * k]) end
if n > 0 then redis.call('EXPIRE', KEYS[8], tonumber(ARGV[6])) end
if redis.call('EXISTS', KEYS[6]) == 1 then
  redis.call('EXPIRE', KEYS[6], tonumber(ARGV[5]))
  redis.call('EXPIRE', KEYS[7], tonumber(ARGV[5]))
  redis.call('ZADD', KEYS[9], tonumber(ARGV[3]), ARGV[4])
  local oldest = tonumber(ARGV[3]) - math.floor(tonumber(ARGV[5]) / 86400)
  redis.call('ZREMRANGEBYSCORE', KEYS[9], '-inf', '(' .. tostring(oldest))
end
return 1
"""
"""Settle hold ARGV[1] at ARGV[2] dollars and write its calls to the ledger (KEYS[6..9]:
totals, calls, papers, the index of days); a hold already settled is left alone (returns 0)."""

RAISE = """
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > old then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
"""

TOTALS = ("calls", "papers", "judged", "input", "output", "cache_write", "cache_write_1h")
"""The ledger's integer totals per day (with `cache_read` and `usd`)."""


@dataclass(frozen=True)
class Hold:
    """A reservation: its id, its day, what it holds (the worst case), and what the call most
    likely costs (charged if the reservation expires unsettled)."""

    id: str
    day: date
    usd: float
    likely: float


@dataclass(frozen=True)
class Spend:
    """The day's budget: spent (settled calls, and expired reservations at their likely cost),
    held by reservations in flight, the limit of its last reservation, the part of `spent` that
    was never settled, and how many papers kept their local score because it ran out."""

    spent: float = 0.0
    held: float = 0.0
    limit: float | None = None
    unsettled: float = 0.0
    ran_out: int = 0

    def free(self, limit: float) -> float:
        return max(0.0, limit - self.spent - self.held)


@dataclass
class Call:
    """One call for the ledger: how it was made, what it used and cost, which papers it judged."""

    at: str
    model: str
    via: str  # "sync" (the Messages API) or "batch" (the Message Batches API)
    papers: int
    judged: list[str] = field(default_factory=list)
    input: int = 0
    output: int = 0
    cache_write: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    usd: float = 0.0
    problem: str = ""

    def record(self) -> dict[str, Any]:
        body = {k: v for k, v in self.__dict__.items() if k != "judged"}
        return {**body, "judged": len(self.judged), "usd": round(self.usd, 8)}


class Budget:
    """The day's budget and ledger on the store's Redis, under its prefix."""

    def __init__(self, store: Store, lease_seconds: float = LEASE_SECONDS) -> None:
        self.store = store
        self.redis = store.redis
        self.lease_seconds = lease_seconds
        self._reserve = self.redis.register_script(RESERVE)
        self._state = self.redis.register_script(STATE)
        self._renew = self.redis.register_script(RENEW)
        self._settle = self.redis.register_script(SETTLE)
        self._raise = self.redis.register_script(RAISE)

    def _keys(self, day: date) -> list[str]:
        d = day.isoformat()
        k = self.store.key
        return [
            k("spend", d),
            k("spend", d, "holds"),
            k("spend", d, "leases"),
            k("spend", d, "likely"),
            k("spend", d, "expired"),
            k("cost", d),
            k("calls", d),
            k("judged-by", d),
            k("cost-days"),
        ]

    # reservations ---------------------------------------------------------------------------

    def reserve(
        self,
        day: date,
        usd: float,
        limit: float,
        likely: float | None = None,
        lease_seconds: float | None = None,
    ) -> Hold | None:
        """Hold `usd` of the day's budget; None (nothing held) if spend and holds would pass
        `limit`. `likely` is charged should the hold expire unsettled (default: `usd`)."""
        hold = Hold(uuid.uuid4().hex, day, usd, usd if likely is None else min(likely, usd))
        lease = self.lease_seconds if lease_seconds is None else lease_seconds
        ok, _, _ = self._reserve(
            keys=self._keys(day)[:5],
            args=[
                hold.id,
                repr(usd),
                repr(hold.likely),
                repr(limit),
                max(1, round(lease * 1000)),
                int(timedelta(days=RETENTION_DAYS).total_seconds()),
            ],
        )
        return hold if int(ok) else None

    def renew(self, holds: list[Hold], lease_seconds: float | None = None) -> None:
        """Push back the leases of holds still in flight."""
        lease = self.lease_seconds if lease_seconds is None else lease_seconds
        for day in {h.day for h in holds}:
            ids = [h.id for h in holds if h.day == day]
            self._renew(keys=[self._keys(day)[2]], args=[max(1, round(lease * 1000)), *ids])

    def settle(self, hold: Hold, usd: float, calls: list[Call] | None = None) -> bool:
        """Replace a hold by what it really cost, and write its calls to the ledger, at once.
        False (and nothing written) when the hold was settled already."""
        calls = calls or []
        totals: dict[str, float] = {name: 0 for name in TOTALS}
        totals["calls"] = len(calls)
        totals["cache_read"] = 0
        per_paper: list[str] = []
        for call in calls:
            totals["papers"] += call.papers
            totals["judged"] += len(call.judged)
            for name in ("input", "output", "cache_write", "cache_write_1h", "cache_read"):
                totals[name] += getattr(call, name)
            share = round(call.usd / len(call.judged), 10) if call.judged else 0.0
            for pid in call.judged:
                per_paper += [pid, json.dumps({"via": call.via, "usd": share, "at": call.at})]
        pairs = [str(x) for name, value in totals.items() for x in (name, int(value))]
        if calls:
            pairs += ["usd", repr(sum(c.usd for c in calls))]
        entries = [json.dumps(c.record()) for c in calls]
        keys = self._keys(hold.day)
        done = self._settle(
            keys=keys,
            args=[
                hold.id,
                repr(usd),
                hold.day.toordinal(),
                hold.day.isoformat(),
                int(timedelta(days=COST_RETENTION_DAYS).total_seconds()),
                int(timedelta(days=RETENTION_DAYS).total_seconds()),
                len(entries),
                *entries,
                len(pairs) // 2,
                *pairs,
                len(per_paper) // 2,
                *per_paper,
            ],
        )
        return bool(int(done))

    def spend(self, day: date) -> Spend:
        """The day's budget now (reservations whose lease ended are expired first)."""
        spent, held, limit, unsettled, ran_out = self._state(keys=self._keys(day)[:5], args=[])
        return Spend(
            spent=float(spent),
            held=float(held),
            limit=float(limit) if limit else None,
            unsettled=float(unsettled),
            ran_out=int(float(ran_out)),
        )

    def ran_out(self, day: date, papers: int) -> None:
        """Note that the budget ran out with `papers` left unjudged (the largest count stays)."""
        self._raise(keys=[self._keys(day)[0]], args=["ran_out", papers])

    # the ledger -------------------------------------------------------------------------------

    def day_cost(self, day: date) -> dict[str, float]:
        """The day's ledger totals: calls, papers, judged, input, output, cache_write,
        cache_write_1h, cache_read, usd."""
        raw = self.redis.hgetall(self.store.key("cost", day.isoformat()))
        out = {k.decode(): float(v) for k, v in raw.items()}
        for name in (*TOTALS, "cache_read", "usd"):
            out.setdefault(name, 0.0)
        return out

    def calls(self, day: date) -> list[dict[str, Any]]:
        """The day's Claude calls, in the order they were settled."""
        raw = self.redis.lrange(self.store.key("calls", day.isoformat()), 0, -1)
        return [json.loads(item) for item in raw]

    def judged_by(self, day: date) -> dict[str, dict[str, Any]]:
        """Each paper judged on `day`: which way ("sync" or "batch") and its share of the cost."""
        raw = self.redis.hgetall(self.store.key("judged-by", day.isoformat()))
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def cost_days(self) -> list[date]:
        """Every day with a ledger, oldest first."""
        found = self.redis.zrange(self.store.key("cost-days"), 0, -1)
        return [date.fromisoformat(d.decode()) for d in found]

    def report(self, day: date, limit: float | None = None) -> dict[str, Any]:
        """The day in one row: the ledger's totals, papers judged (and how many by batch) of
        the papers kept, and spend against the budget's limit (the day's own, else `limit`)."""
        record = self.store.day(day, "papers")
        kept = len(record.papers or []) if record else 0
        ways = [entry.get("via") for entry in self.judged_by(day).values()]
        spend = self.spend(day)
        totals = self.day_cost(day)
        return {
            "day": day.isoformat(),
            **totals,
            "kept": kept,
            "judged": len(ways) or int(totals["judged"]),
            "by_batch": ways.count("batch"),
            "spent": spend.spent if spend.limit is not None else totals["usd"],
            "limit": spend.limit if spend.limit is not None else limit,
            "unsettled": spend.unsettled,
            "ran_out": spend.ran_out,
        }


class Keeper:
    """Renews the leases of a process's holds in flight, every RENEW_SECONDS, from a thread."""

    def __init__(self, budget: Budget, every: float = RENEW_SECONDS) -> None:
        self.budget = budget
        self.every = every
        self.holds: dict[str, Hold] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def add(self, hold: Hold) -> None:
        with self.lock:
            self.holds[hold.id] = hold

    def remove(self, hold: Hold) -> None:
        with self.lock:
            self.holds.pop(hold.id, None)

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            with self.lock:
                holds = list(self.holds.values())
            if holds:
                self.budget.renew(holds)

    @contextmanager
    def running(self) -> Iterator[Keeper]:
        thread = threading.Thread(target=self._run, name="budget-keeper", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            thread.join()
