"""Redis persistence: papers and scores (kept for a retention period), readers, the vote log.

Every key lives under one prefix. Votes are an append-only list per reader and never expire;
a reader's current vote on a paper is their latest event. Tallies per paper are derived from
the log and kept beside it so that Slack can show them without replaying every reader's log.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date, timedelta
from typing import Any

import redis

from paperboy.models import DAY_FIELDS, DayRecord, Paper, Reader, SeedPaper, Vote
from paperboy.polls import PollBook, PollRecord
from paperboy.settings import Settings
from paperboy.vote_log import VoteLog

log = logging.getLogger(__name__)

RETENTION_DAYS = 45
"""How long papers, scores and per-day records are kept, in days. Votes are kept forever."""

COST_RETENTION_DAYS = 400
"""How long the Claude cost ledger is kept, in days: long enough for a year's accounts."""

LOCAL_REDIS = "redis://127.0.0.1:6379/0"
"""The Redis used when REDIS_URL is unset, if one answers there."""

HOME_WANTED_TTL = 600
"""Seconds a request for a reader's Home refresh waits for a worker before it may be asked
again (should the job be lost)."""

GUARD_TTL_SECONDS = 6 * 3600
"""How long a claimed (running) day step holds its lock, in seconds, should its worker die."""

RESERVE_TURN = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local spacing = tonumber(ARGV[1])
local slot = now
local last = redis.call('GET', KEYS[1])
if last then slot = math.max(now, tonumber(last) + spacing) end
local keep = math.max(1, slot - now + spacing)
redis.call('SET', KEYS[1], string.format('%d', slot), 'PX', string.format('%d', keep))
return slot - now
"""
"""Reserve the next turn at a name (KEYS[1]) spaced ARGV[1] ms after the last one; return the
milliseconds until it. The key holds the last reserved slot (ms on Redis's clock) and expires
once a new turn could not be held up by it."""


def connect(url: str) -> redis.Redis:
    """A Redis client for `url` that answers within a few seconds or raises."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=10, health_check_interval=30
    )


def in_process() -> redis.Redis:
    """An in-process Redis for a machine without one: the same commands, nothing persists."""
    import fakeredis

    return fakeredis.FakeRedis()


class Store(VoteLog, PollBook):
    """The one place that knows Redis keys (the vote log's are in `paperboy.vote_log`, the
    week's post and poll's in `paperboy.polls`)."""

    def __init__(self, client: redis.Redis, prefix: str = "pb", persistent: bool = True) -> None:
        self.redis = client
        self.prefix = prefix
        self.persistent = persistent
        self._reserve_turn = client.register_script(RESERVE_TURN)
        self._scripts()
        self._poll_scripts()

    def key(self, *parts: object) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    # papers ---------------------------------------------------------------------------

    def save_papers(self, papers: Iterable[Paper]) -> None:
        """Store papers by id, each kept for the retention period."""
        ttl = timedelta(days=RETENTION_DAYS)
        with self.redis.pipeline(transaction=False) as pipe:
            for paper in papers:
                pipe.set(self.key("paper", paper.id), paper.model_dump_json(), ex=ttl)
            pipe.execute()

    def papers(self, ids: list[str]) -> dict[str, Paper]:
        """The stored papers among `ids`; unknown or expired ones are absent."""
        if not ids:
            return {}
        raw = self.redis.mget([self.key("paper", pid) for pid in ids])
        return {
            pid: Paper.model_validate_json(blob)
            for pid, blob in zip(ids, raw, strict=True)
            if blob is not None
        }

    def first_seen(self, ids: list[str]) -> dict[str, date]:
        """The day each of `ids` was first considered, for those considered before."""
        if not ids:
            return {}
        raw = self.redis.mget([self.key("seen", pid) for pid in ids])
        return {
            pid: date.fromisoformat(value.decode())
            for pid, value in zip(ids, raw, strict=True)
            if value is not None
        }

    def mark_seen(self, ids: Iterable[str], day: date) -> None:
        """Record that these papers were considered on `day` (the first day wins)."""
        ttl = timedelta(days=RETENTION_DAYS)
        with self.redis.pipeline(transaction=False) as pipe:
            for pid in ids:
                pipe.set(self.key("seen", pid), day.isoformat(), ex=ttl, nx=True)
            pipe.execute()

    # the day ----------------------------------------------------------------------------

    def update_day(self, day: date, **fields: Any) -> None:
        """Set fields of the day's record (see DayRecord), kept for the retention period.

        The record is a hash with one entry per field, each written whole in one transaction:
        two steps writing different fields at once never drop each other's.
        """
        unknown = set(fields) - DAY_FIELDS
        if unknown:
            raise TypeError(f"a day's record has no field {', '.join(sorted(unknown))}")
        checked = DayRecord.model_validate({"day": day, **fields})
        values = checked.model_dump(mode="json", include=set(fields))
        key = self.key("record", day.isoformat())
        oldest = (day - timedelta(days=RETENTION_DAYS)).toordinal()
        with self.redis.pipeline() as pipe:
            pipe.hset(key, mapping={name: json.dumps(value) for name, value in values.items()})
            pipe.expire(key, timedelta(days=RETENTION_DAYS))
            # An index of the days, so listing them never scans the keyspace.
            pipe.zadd(self.key("days"), {day.isoformat(): day.toordinal()})
            pipe.zremrangebyscore(self.key("days"), "-inf", f"({oldest}")
            pipe.execute()

    def day(self, day: date, *fields: str) -> DayRecord | None:
        """The day's record, None when no step stored anything; with `fields`, only those
        are read (the order of a big day is large), the others keep their defaults."""
        key = self.key("record", day.isoformat())
        if fields:
            names = [name for name in fields if name in DAY_FIELDS]
            raw = dict(zip(names, self.redis.hmget(key, names), strict=True))
        else:
            raw = {k.decode(): v for k, v in self.redis.hgetall(key).items()}
        found = {name: json.loads(value) for name, value in raw.items() if value is not None}
        if not found and not self.redis.exists(key):
            return None
        return DayRecord.model_validate({"day": day, **found})

    def days(self) -> list[date]:
        """Every day with a record, oldest first."""
        return [date.fromisoformat(d.decode()) for d in self.redis.zrange(self.key("days"), 0, -1)]

    def last_day(self) -> date | None:
        """The latest announcement day the clock started, if any."""
        raw = self.redis.get(self.key("last-day"))
        return date.fromisoformat(raw.decode()) if raw else None

    def set_last_day(self, day: date) -> None:
        self.redis.set(self.key("last-day"), day.isoformat())

    def claim_catch_up(self, day: date, ttl_seconds: int) -> bool:
        """Take the right to catch up a missed run of `day`; False if one did within the TTL."""
        return bool(
            self.redis.set(self.key("catch-up", day.isoformat()), "1", nx=True, ex=ttl_seconds)
        )

    def mark_shown(self, reader_id: str, day: date, papers: list[str]) -> None:
        """Record the papers a reader's own digest of `day` showed them (their email)."""
        key = self.key("shown", reader_id)
        with self.redis.pipeline() as pipe:
            pipe.hset(key, day.isoformat(), json.dumps(papers))
            pipe.expire(key, timedelta(days=RETENTION_DAYS))
            pipe.execute()

    def shown(self, reader_id: str, day: date) -> list[str]:
        """The papers a reader's own digest of `day` showed them, if one was sent."""
        raw = self.redis.hget(self.key("shown", reader_id), day.isoformat())
        return json.loads(raw) if raw else []

    # guards: a step of a day runs once ----------------------------------------------------

    def is_done(self, day: date, step: str) -> bool:
        return bool(self.redis.exists(self.key("done", day.isoformat(), step)))

    def claim(self, day: date, step: str, ttl_seconds: int = GUARD_TTL_SECONDS) -> bool:
        """Take the lock on a day's step; False when it is done or another worker holds it."""
        if self.is_done(day, step):
            return False
        return bool(
            self.redis.set(self.key("lock", day.isoformat(), step), "1", nx=True, ex=ttl_seconds)
        )

    def finish(self, day: date, step: str) -> None:
        """Mark a day's step done and free its lock."""
        with self.redis.pipeline() as pipe:
            pipe.set(
                self.key("done", day.isoformat(), step), "1", ex=timedelta(days=RETENTION_DAYS)
            )
            pipe.delete(self.key("lock", day.isoformat(), step))
            pipe.execute()

    def release(self, day: date, step: str) -> None:
        """Free a day's step after a failure, so that a retry can take it."""
        self.redis.delete(self.key("lock", day.isoformat(), step))

    # polite spacing shared by every worker ------------------------------------------------

    def wait_turn(
        self, name: str, spacing_seconds: float, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        """Take the next turn at `name`, `spacing_seconds` after anyone's last; wait for it.

        The turn is reserved in one atomic step on Redis's own clock, so every process and
        machine sharing the Redis keeps the spacing, and a turn is never lost to a race. The wait
        goes through `sleep`, once (0 s for a turn that is free).
        """
        waited_ms = self._reserve_turn(
            keys=[self.key("turn", name)], args=[max(0, round(spacing_seconds * 1000))]
        )
        sleep(int(waited_ms) / 1000)

    # readers ------------------------------------------------------------------------------

    def reader(self, reader_id: str) -> Reader | None:
        raw = self.redis.get(self.key("reader", reader_id))
        return Reader.model_validate_json(raw) if raw else None

    def save_reader(self, reader: Reader) -> None:
        with self.redis.pipeline() as pipe:
            pipe.set(self.key("reader", reader.id), reader.model_dump_json())
            pipe.sadd(self.key("readers"), reader.id)
            pipe.execute()

    def reader_ids(self) -> list[str]:
        """Everyone with settings or votes, sorted."""
        return sorted(member.decode() for member in self.redis.smembers(self.key("readers")))

    def readers(self) -> list[Reader]:
        return [self.reader(rid) or Reader(id=rid) for rid in self.reader_ids()]

    # export, import, forget ------------------------------------------------------------

    def export(self, reader_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Readers, their vote logs and poll choices as JSON-ready records, one per line."""
        ids = [reader_id] if reader_id else self.reader_ids()
        for rid in ids:
            reader = self.reader(rid)
            if reader is not None:
                yield {"type": "reader", **reader.model_dump(mode="json")}
            for vote in self.votes(rid):
                yield {"type": "vote", **vote.model_dump(mode="json")}
        yield from self.poll_records(reader_id)

    def import_records(self, records: Iterable[dict[str, Any]]) -> tuple[int, int]:
        """Load exported records; votes already in the log are not added twice, and an event
        older than the standing one on its paper is kept in the log but does not stand."""
        readers: list[Reader] = []
        votes: list[Vote] = []
        polls: list[PollRecord] = []
        for record in records:
            kind = record.get("type")
            body = {k: v for k, v in record.items() if k != "type"}
            if kind == "reader":
                readers.append(Reader.model_validate(body))
            elif kind == "vote":
                votes.append(Vote.model_validate(body))
            elif kind == "poll":
                polls.append(PollRecord.of(body))
            else:
                raise ValueError(
                    f"unknown record type {kind!r}: expected 'reader', 'vote' or 'poll'"
                )
        for reader in readers:
            self.save_reader(reader)
        added = self.import_votes(votes)
        self.import_poll_records(polls)
        return len(readers), added

    def forget(self, reader_id: str) -> None:
        """Remove a reader's settings, seeds, votes (and their share of the tallies) and poll
        choices."""
        self.forget_votes(reader_id)
        self.forget_poll_choices(reader_id)
        with self.redis.pipeline() as pipe:
            pipe.delete(self.key("reader", reader_id), self.key("shown", reader_id))
            pipe.srem(self.key("readers"), reader_id)
            pipe.execute()

    # email: one message per reader and day --------------------------------------------------

    def claim_email(self, day: date, reader_id: str, ttl_seconds: int = GUARD_TTL_SECONDS) -> bool:
        """Take the right to mail a reader their digest of `day`; False if sent or being sent."""
        lock = self.key("mailing", day.isoformat(), reader_id)
        if not self.redis.set(lock, "1", nx=True, ex=ttl_seconds):
            return False
        # Checked after locking: a sender that finished in between has recorded it by now.
        if self.redis.hexists(self.key("mailed", day.isoformat()), reader_id):
            self.redis.delete(lock)
            return False
        return True

    def mark_emailed(self, day: date, reader_id: str, message_id: str) -> None:
        """Record that the reader's digest of `day` was accepted by the mail server."""
        mailed = self.key("mailed", day.isoformat())
        with self.redis.pipeline() as pipe:
            pipe.hset(mailed, reader_id, message_id)
            pipe.expire(mailed, timedelta(days=RETENTION_DAYS))
            pipe.delete(self.key("mailing", day.isoformat(), reader_id))
            pipe.execute()

    def release_email(self, day: date, reader_id: str) -> None:
        """Give up a claim after a failure, so that a later run may try again."""
        self.redis.delete(self.key("mailing", day.isoformat(), reader_id))

    def emailed(self, day: date) -> dict[str, str]:
        """Reader id to Message-ID of every digest of `day` that was sent."""
        raw = self.redis.hgetall(self.key("mailed", day.isoformat()))
        return {k.decode(): v.decode() for k, v in raw.items()}

    # Claude: cached judgments, the day's budget, the cost ledger ---------------------------

    def judgments(self, model: str, prompt_key: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Cached judgments of these papers by this model under this prompt (criteria hash)."""
        if not ids:
            return {}
        raw = self.redis.mget([self.key("judgment", model, prompt_key, pid) for pid in ids])
        return {pid: json.loads(blob) for pid, blob in zip(ids, raw, strict=True) if blob}

    def save_judgments(
        self, model: str, prompt_key: str, judged: dict[str, dict[str, Any]]
    ) -> None:
        """Cache judgments for the retention period, so that a re-run pays nothing."""
        ttl = timedelta(days=RETENTION_DAYS)
        with self.redis.pipeline(transaction=False) as pipe:
            for pid, judgment in judged.items():
                pipe.set(self.key("judgment", model, prompt_key, pid), json.dumps(judgment), ex=ttl)
            pipe.execute()

    def reserve_budget(self, day: date, usd: float, limit: float) -> bool:
        """Reserve `usd` of the day's budget; False (and nothing reserved) if it would pass `limit`.

        INCRBYFLOAT is atomic, so workers racing for the last dollars may both be refused (each
        refunds), but together they never pass the limit.
        """
        key = self.key("budget", day.isoformat())
        total = float(self.redis.incrbyfloat(key, usd))
        self.redis.expire(key, timedelta(days=RETENTION_DAYS))
        if total > limit + 1e-12:
            self.redis.incrbyfloat(key, -usd)
            return False
        return True

    def settle_budget(self, day: date, reserved: float, spent: float) -> None:
        """Replace a reservation by what the call actually cost."""
        if abs(spent - reserved) > 0:
            self.redis.incrbyfloat(self.key("budget", day.isoformat()), spent - reserved)

    def budget_used(self, day: date) -> float:
        """Dollars of the day's budget spent or reserved."""
        raw = self.redis.get(self.key("budget", day.isoformat()))
        return float(raw) if raw else 0.0

    def record_call(self, day: date, call: dict[str, Any]) -> None:
        """Add one Claude call to the day's ledger: its tokens and dollars, and the day's totals."""
        totals = self.key("cost", day.isoformat())
        calls = self.key("calls", day.isoformat())
        ttl = timedelta(days=COST_RETENTION_DAYS)
        oldest = (day - ttl).toordinal()
        with self.redis.pipeline() as pipe:
            pipe.rpush(calls, json.dumps(call, default=str))
            pipe.hincrby(totals, "calls", 1)
            for field in ("input", "output", "cache_write", "cache_read", "papers"):
                pipe.hincrby(totals, field, int(call.get(field, 0)))
            pipe.hincrbyfloat(totals, "usd", float(call.get("usd", 0.0)))
            pipe.expire(totals, ttl)
            pipe.expire(calls, ttl)
            # An index of the days with a ledger, so listing them never scans the keyspace.
            pipe.zadd(self.key("cost-days"), {day.isoformat(): day.toordinal()})
            pipe.zremrangebyscore(self.key("cost-days"), "-inf", f"({oldest}")
            pipe.execute()

    def day_cost(self, day: date) -> dict[str, float]:
        """The day's totals: calls, papers, input, output, cache_write, cache_read, usd."""
        raw = self.redis.hgetall(self.key("cost", day.isoformat()))
        out = {k.decode(): float(v) for k, v in raw.items()}
        for field in ("calls", "papers", "input", "output", "cache_write", "cache_read", "usd"):
            out.setdefault(field, 0.0)
        return out

    def calls(self, day: date) -> list[dict[str, Any]]:
        """The day's Claude calls, in the order they finished."""
        return [
            json.loads(item)
            for item in self.redis.lrange(self.key("calls", day.isoformat()), 0, -1)
        ]

    def cost_days(self) -> list[date]:
        """Every day with a cost ledger, oldest first."""
        found = self.redis.zrange(self.key("cost-days"), 0, -1)
        return [date.fromisoformat(d.decode()) for d in found]

    # slack: the day's thread, reply slots, coalesced updates -------------------------------

    def slack_posts(self, channel: str, day: date) -> dict[str, str]:
        """The day's posts in a channel: slot (parent, channel, a paper) -> ts, "" if unsure."""
        raw = self.redis.hgetall(self.key("slack", "posts", channel, day.isoformat()))
        return {k.decode(): v.decode() for k, v in raw.items()}

    def mark_slack_post(self, channel: str, day: date, slot: str) -> None:
        """Mark a slot before posting it, so that a re-run knows to look for it in the thread."""
        key = self.key("slack", "posts", channel, day.isoformat())
        with self.redis.pipeline() as pipe:
            pipe.hsetnx(key, slot, "")
            pipe.expire(key, timedelta(days=RETENTION_DAYS))
            pipe.execute()

    def save_slack_post(self, channel: str, day: date, slot: str, ts: str) -> None:
        """Store the `ts` Slack returned for a slot."""
        key = self.key("slack", "posts", channel, day.isoformat())
        with self.redis.pipeline() as pipe:
            pipe.hset(key, slot, ts)
            pipe.expire(key, timedelta(days=RETENTION_DAYS))
            pipe.execute()

    def save_slack_message(
        self, paper: str, channel: str, ts: str, blocks: list[dict[str, Any]]
    ) -> None:
        """Where a paper's reply is (channel id, `ts`) and its blocks, so that a vote cast
        elsewhere (an email link) can refresh the tallies it shows."""
        key = self.key("slack", "message", paper)
        with self.redis.pipeline() as pipe:
            pipe.hset(key, channel, json.dumps({"ts": ts, "blocks": blocks}))
            pipe.expire(key, timedelta(days=RETENTION_DAYS))
            pipe.execute()

    def slack_messages(self, paper: str) -> dict[str, dict[str, Any]]:
        """Channel id -> {"ts", "blocks"} of each reply that shows the paper."""
        raw = self.redis.hgetall(self.key("slack", "message", paper))
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def mark_pending_update(self, kind: str, key: str, payload: str) -> None:
        """Note that a Slack surface (a paper's message, a user's Home) needs refreshing."""
        self.redis.set(self.key("slack", "pending", kind, key), payload, ex=3600)

    def take_pending_update(self, kind: str, key: str) -> str | None:
        """The latest pending refresh, removed; None when there is none."""
        raw = self.redis.getdel(self.key("slack", "pending", kind, key))
        return raw.decode() if isinstance(raw, bytes) else raw

    def has_pending_update(self, kind: str, key: str) -> bool:
        return bool(self.redis.exists(self.key("slack", "pending", kind, key)))

    def lead_updates(self, kind: str, key: str, lease_seconds: float) -> bool:
        """Become the one refresher of a surface for a while; False when another one is."""
        return bool(
            self.redis.set(
                self.key("slack", "leader", kind, key),
                "1",
                nx=True,
                px=max(1, int(lease_seconds * 1000)),
            )
        )

    def release_updates(self, kind: str, key: str) -> None:
        self.redis.delete(self.key("slack", "leader", kind, key))

    def want_home_refresh(self, user: str) -> bool:
        """Ask for a refresh of the reader's Home; False when one is asked for already and has
        not started (so one job serves every request that came meanwhile)."""
        return bool(self.redis.set(self.key("home-wanted", user), "1", nx=True, ex=HOME_WANTED_TTL))

    def home_refresh_started(self, user: str) -> None:
        """A refresh of the reader's Home started: requests from now on ask for another."""
        self.redis.delete(self.key("home-wanted", user))

    # seed papers' metadata from the arXiv API, kept for good ----------------------------

    def seed_metadata(self, ids: list[str]) -> dict[str, SeedPaper]:
        """Cached titles and abstracts of seed papers named by arXiv id, by id."""
        if not ids:
            return {}
        raw = self.redis.mget([self.key("seed", pid) for pid in ids])
        return {
            pid: SeedPaper.model_validate_json(blob)
            for pid, blob in zip(ids, raw, strict=True)
            if blob
        }

    def save_seed_metadata(self, seeds: list[SeedPaper]) -> None:
        """Cache seed papers' metadata; no expiry: a group's seed file names them every day."""
        with self.redis.pipeline(transaction=False) as pipe:
            for seed in seeds:
                if seed.id:
                    pipe.set(self.key("seed", seed.id), seed.model_dump_json())
            pipe.execute()

    # export with the voted papers' text, so that an import elsewhere ranks the same ---------

    def export_with_papers(self, reader_id: str | None = None) -> Iterator[dict[str, Any]]:
        """`export`'s records, then every voted paper: profiles learn from the papers' text."""
        voted: dict[str, None] = {}
        for record in self.export(reader_id):
            if record["type"] == "vote":
                voted[record["paper"]] = None
            yield record
        for paper in self.papers(list(voted)).values():
            yield {"type": "paper", **paper.model_dump(mode="json")}

    def import_with_papers(self, records: Iterable[dict[str, Any]]) -> tuple[int, int, int]:
        """Load an export: papers (kept for good, as voted papers are), readers, votes and poll
        choices.

        Returns (readers, new votes, papers).
        """
        records = list(records)
        papers = [
            Paper.model_validate({k: v for k, v in r.items() if k != "type"})
            for r in records
            if r.get("type") == "paper"
        ]
        with self.redis.pipeline(transaction=False) as pipe:
            for paper in papers:
                pipe.set(self.key("paper", paper.id), paper.model_dump_json())
            pipe.execute()
        readers, votes = self.import_records(r for r in records if r.get("type") != "paper")
        return readers, votes, len(papers)


class ServiceError(Exception):
    """A configured service that cannot be used, with how to fix it."""


def open_store(settings: Settings, *, allow_in_process: bool = True) -> Store:
    """Redis at REDIS_URL; without it, a local Redis if one answers, else an in-process store."""
    if settings.redis_url:
        client = connect(settings.redis_url)
        try:
            client.ping()
        except redis.RedisError as exc:
            raise ServiceError(
                f"Redis at REDIS_URL does not answer ({exc}): start it, or fix REDIS_URL"
            ) from exc
        return Store(client)
    client = connect(LOCAL_REDIS)
    try:
        client.ping()
        return Store(client)
    except redis.RedisError:
        if not allow_in_process:
            raise ServiceError(
                "REDIS_URL is not set and no Redis answers on 127.0.0.1:6379: set REDIS_URL"
            ) from None
    log.warning("no Redis configured or running: using an in-process store, nothing persists")
    return Store(in_process(), persistent=False)
