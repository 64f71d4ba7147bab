"""Redis persistence: papers and scores (kept for a retention period), readers, the vote log.

Every key lives under one prefix. Votes are an append-only list per reader and never expire;
a reader's current vote on a paper is their latest event. Tallies per paper are derived from
the log and kept beside it so that Slack can show them without replaying every reader's log.
Papers that were posted, voted on or saved are kept for good (`paperboy.archive`); reading
lists are in `paperboy.reading_list`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date, timedelta
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.lock import Lock
from redis.retry import Retry

from paperboy.archive import Archive
from paperboy.leases import lease
from paperboy.models import DAY_FIELDS, DayRecord, Paper, Reader, SeedPaper, Vote
from paperboy.polls import PollBook, PollRecord
from paperboy.reading_list import ReadingList, SavedRecord
from paperboy.settings import Settings
from paperboy.vote_log import VoteLog

log = logging.getLogger(__name__)

RETENTION_DAYS = 45
"""How long papers, scores and per-day records are kept, in days. Votes and reading lists are
kept forever, and so are the papers that were posted, voted on or saved (the archive)."""

COST_RETENTION_DAYS = 400
"""How long the Claude cost ledger is kept, in days: long enough for a year's accounts."""

LOCAL_REDIS = "redis://127.0.0.1:6379/0"
"""The Redis used when REDIS_URL is unset, if one answers there."""

HOME_WANTED_TTL = 600
"""Seconds a request for a reader's Home refresh waits for a worker before it may be asked
again (should the job be lost)."""


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


RESTART_SECONDS = 20.0
"""How long a client waits for Redis to come back (a restart) before a call fails."""


def steady_retry(patience: float = RESTART_SECONDS) -> Retry:
    """Retries of a refused or dropped connection, 0.2 s apart at first and 2 s at most, for
    about `patience` seconds in all (redis-py's own default may give up within a second)."""
    backoff = ExponentialBackoff(cap=2.0, base=0.1)
    tries, waited = 0, 0.0
    while waited < patience:
        tries += 1
        waited += backoff.compute(tries)
    # OSError too: a refused connection reaches the retry as the socket's own error.
    return Retry(backoff, tries, (redis.ConnectionError, redis.TimeoutError, OSError))


class SteadyRedis(redis.Redis):
    """A Redis client that rides out a restart of Redis: connecting, and calls cut by one, are
    retried for RESTART_SECONDS. rq's processes use it too (`--connection-class` in the
    Procfile): without it, a worker whose Redis restarts while it watches a job quits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "connection_pool" not in kwargs:
            kwargs.setdefault("retry", steady_retry())
            kwargs.setdefault("socket_connect_timeout", 2)
        super().__init__(*args, **kwargs)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> SteadyRedis:
        kwargs.setdefault("retry", steady_retry())
        kwargs.setdefault("socket_connect_timeout", 2)
        return super().from_url(url, **kwargs)  # type: ignore[return-value]


def connect(url: str, patience: float = RESTART_SECONDS) -> redis.Redis:
    """A Redis client for `url`: it waits out a restart of Redis for `patience` seconds (0: a
    check that must answer now), and a call that gets no answer within 10 s raises."""
    return SteadyRedis.from_url(
        url, retry=steady_retry(patience), socket_timeout=10, health_check_interval=30
    )


def in_process() -> redis.Redis:
    """An in-process Redis for a machine without one: the same commands, nothing persists."""
    import fakeredis

    return fakeredis.FakeRedis()


class Store(Archive, VoteLog, PollBook, ReadingList):
    """The one place that knows Redis keys (the vote log's are in `paperboy.vote_log`, the
    week's post and poll's in `paperboy.polls`, reading lists' in `paperboy.reading_list`, the
    archive's in `paperboy.archive`; the search index's in `paperboy.index`)."""

    def __init__(self, client: redis.Redis, prefix: str = "pb", persistent: bool = True) -> None:
        self.redis = client
        self.prefix = prefix
        self.persistent = persistent
        self._reserve_turn = client.register_script(RESERVE_TURN)
        self._scripts()
        self._poll_scripts()
        self._reading_scripts()
        self._archive_scripts()

    def key(self, *parts: object) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    # papers ---------------------------------------------------------------------------

    def save_papers(self, papers: Iterable[Paper]) -> None:
        """Store papers by id, each kept for the retention period (for good when the archive
        keeps it)."""
        self.store_papers(papers, int(timedelta(days=RETENTION_DAYS).total_seconds()))

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

    def claim_status(self, channel: str, day: date) -> bool:
        """Take the right to post `day`'s one status line in `channel`; False if it was taken."""
        key = self.key("status", channel, day.isoformat())
        return bool(self.redis.set(key, "1", nx=True, ex=timedelta(days=RETENTION_DAYS)))

    def release_status(self, channel: str, day: date) -> None:
        """Give the claim back (the line did not go out), so a later try may post it."""
        self.redis.delete(self.key("status", channel, day.isoformat()))

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

    def step_lease(self, day: date, step: str, seconds: float) -> Lock:
        """The lease a worker takes to run a day's step (see `paperboy.leases`)."""
        return lease(self.redis, self.key("lock", day.isoformat(), step), seconds)

    def finish(self, day: date, step: str) -> None:
        """Mark a day's step done."""
        self.redis.set(
            self.key("done", day.isoformat(), step), "1", ex=timedelta(days=RETENTION_DAYS)
        )

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
        """Readers, their vote logs, poll choices and reading lists as JSON-ready records, one
        per line."""
        ids = [reader_id] if reader_id else self.reader_ids()
        for rid in ids:
            reader = self.reader(rid)
            if reader is not None:
                yield {"type": "reader", **reader.model_dump(mode="json")}
            for vote in self.votes(rid):
                yield {"type": "vote", **vote.model_dump(mode="json")}
        yield from self.poll_records(reader_id)
        yield from self.saved_records(reader_id)

    def import_records(self, records: Iterable[dict[str, Any]]) -> tuple[int, int]:
        """Load exported records; votes already in the log are not added twice, and an event
        older than the standing one on its paper is kept in the log but does not stand."""
        readers: list[Reader] = []
        votes: list[Vote] = []
        polls: list[PollRecord] = []
        saves: list[SavedRecord] = []
        threads: list[dict[str, Any]] = []
        for record in records:
            kind = record.get("type")
            body = {k: v for k, v in record.items() if k != "type"}
            if kind == "reader":
                readers.append(Reader.model_validate(body))
            elif kind == "vote":
                votes.append(Vote.model_validate(body))
            elif kind == "poll":
                polls.append(PollRecord.of(body))
            elif kind == "saved":
                saves.append(SavedRecord.of(body))
            elif kind == "thread":
                threads.append(body)
            else:
                raise ValueError(
                    f"unknown record type {kind!r}: expected 'reader', 'vote', 'poll', 'saved', "
                    "'thread' or 'paper'"
                )
        for reader in readers:
            self.save_reader(reader)
        added = self.import_votes(votes)
        self.import_poll_records(polls)
        self.import_saved(saves)
        self.import_threads(threads)
        return len(readers), added

    def forget(self, reader_id: str) -> None:
        """Remove a reader's settings, seeds, votes (and their share of the tallies), poll
        choices and reading list. The papers they kept stay in the archive, which names nobody."""
        self.forget_votes(reader_id)
        self.forget_poll_choices(reader_id)
        self.forget_reading_list(reader_id)
        with self.redis.pipeline() as pipe:
            pipe.delete(self.key("reader", reader_id), self.key("shown", reader_id))
            pipe.srem(self.key("readers"), reader_id)
            pipe.execute()

    # email: one message per reader and period (a day, or a week: 2025-W23) ------------------

    def claim_email(self, day: date | str, reader_id: str, seconds: float) -> Lock | None:
        """Take the right to mail a reader their digest of `day` (a day, or a week's key), for
        one attempt: a lease the sender holds while it sends (see `paperboy.leases`); None when
        it is held elsewhere. Check `was_emailed` after taking it: a sender that just finished
        has recorded it."""
        claim = lease(self.redis, self.key("mailing", str(day), reader_id), seconds)
        return claim if claim.acquire(blocking=False) else None

    def was_emailed(self, day: date | str, reader_id: str) -> bool:
        return bool(self.redis.hexists(self.key("mailed", str(day)), reader_id))

    def mark_emailed(self, day: date | str, reader_id: str, message_id: str) -> None:
        """Record that the reader's digest of `day` was accepted by the mail server."""
        mailed = self.key("mailed", str(day))
        with self.redis.pipeline() as pipe:
            pipe.hset(mailed, reader_id, message_id)
            pipe.expire(mailed, timedelta(days=RETENTION_DAYS))
            pipe.execute()

    def emailed(self, day: date | str) -> dict[str, str]:
        """Reader id to Message-ID of every digest of `day` that was sent."""
        raw = self.redis.hgetall(self.key("mailed", str(day)))
        return {k.decode(): v.decode() for k, v in raw.items()}

    def count_confirmation(self, reader_id: str) -> int:
        """Count a confirmation email asked for by the reader; how many in the last day
        (counted from the first)."""
        key = self.key("confirmations", reader_id)
        with self.redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, timedelta(days=1), nx=True)
            count, _ = pipe.execute()
        return int(count)

    def set_smtputf8(self, offered: bool) -> None:
        """Remember whether the mail server offers SMTPUTF8, as its EHLO said."""
        self.redis.set(self.key("smtp", "smtputf8"), "1" if offered else "0")

    def smtputf8(self) -> bool | None:
        """Whether the mail server offers SMTPUTF8; None until the mailer or doctor asked it."""
        raw = self.redis.get(self.key("smtp", "smtputf8"))
        return None if raw is None else raw == b"1"

    # Claude: cached judgments (the budget and the ledger are in budget.py) -----------------

    def judgments(self, model: str, prompt_key: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Cached judgments of these papers by this model under this prompt (criteria hash)."""
        if not ids:
            return {}
        raw = self.redis.mget([self.key("judgment", model, prompt_key, pid) for pid in ids])
        return {pid: json.loads(blob) for pid, blob in zip(ids, raw, strict=True) if blob}

    def save_judgments(
        self, model: str, prompt_key: str, judged: dict[str, dict[str, Any]]
    ) -> list[str]:
        """Cache judgments for the retention period, so that a re-run pays nothing. The first
        verdict on a paper stands: one already cached is kept. Returns the papers saved."""
        ttl = timedelta(days=RETENTION_DAYS)
        with self.redis.pipeline(transaction=False) as pipe:
            for pid, judgment in judged.items():
                key = self.key("judgment", model, prompt_key, pid)
                pipe.set(key, json.dumps(judgment), ex=ttl, nx=True)
            saved = pipe.execute()
        return [pid for pid, ok in zip(judged, saved, strict=True) if ok]

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
        elsewhere (an email link) can refresh the tallies it shows; a posted paper is kept in
        the archive, with where it was posted."""
        key = self.key("slack", "message", paper)
        with self.redis.pipeline() as pipe:
            pipe.hset(key, channel, json.dumps({"ts": ts, "blocks": blocks}))
            pipe.expire(key, timedelta(days=RETENTION_DAYS))
            pipe.execute()
        self.keep_thread(paper, channel, ts)

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

    # export with the kept papers' text, so that an import elsewhere ranks and finds the same -

    def export_with_papers(self, reader_id: str | None = None) -> Iterator[dict[str, Any]]:
        """`export`'s records, then the kept papers: every voted and saved paper (profiles
        learn from their text) and, for the whole store, the archive's other papers and where
        posted papers are in Slack."""
        kept: dict[str, None] = {}
        for record in self.export(reader_id):
            if record["type"] in ("vote", "saved"):
                kept[record["paper"]] = None
            yield record
        if reader_id is None:
            kept.update(dict.fromkeys(self.kept_ids()))
        ids = list(kept)
        for start in range(0, len(ids), 1000):
            for paper in self.papers(ids[start : start + 1000]).values():
                yield {"type": "paper", **paper.model_dump(mode="json")}
        yield from self.thread_records(None if reader_id is None else ids)

    def import_with_papers(self, records: Iterable[dict[str, Any]]) -> tuple[int, int, int]:
        """Load an export: papers (kept for good, in the archive), readers, votes, poll
        choices, reading lists and where posted papers are in Slack.

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
        self.keep_papers(paper.id for paper in papers)
        readers, votes = self.import_records(r for r in records if r.get("type") != "paper")
        return readers, votes, len(papers)


class ServiceError(Exception):
    """A configured service that cannot be used, with how to fix it."""


def serving_store(settings: Settings) -> Store:
    """The store of a process that serves (the web workers, the jobs): Redis at REDIS_URL or
    on this machine, given a restart's time to answer (see `open_store`)."""
    return open_store(settings, allow_in_process=False, patience=RESTART_SECONDS)


def _unanswered(url: str, patience: float = 0.0) -> redis.RedisError | None:
    """Why Redis at `url` does not answer within `patience` seconds (0: at once), or None."""
    probe = connect(url, patience=patience)
    try:
        probe.ping()
        return None
    except redis.RedisError as exc:
        return exc
    finally:
        probe.close()


def open_store(
    settings: Settings, *, allow_in_process: bool = True, patience: float = 0.0
) -> Store:
    """Redis at REDIS_URL; without it, a local Redis if one answers, else an in-process store.

    A command asks Redis once (`patience` 0): a person is waiting to hear that it is down. A
    process that serves (a web worker, a job) gives REDIS_URL's Redis `patience` seconds to
    answer, as every call of its client does during a restart: a gunicorn worker that failed
    to start while Redis restarted would take the whole web process down with it."""
    if settings.redis_url:
        silent = _unanswered(settings.redis_url, patience)
        if silent is not None:
            raise ServiceError(
                f"Redis at REDIS_URL does not answer ({silent}): start it, or fix REDIS_URL"
            ) from silent
        return Store(connect(settings.redis_url))
    if _unanswered(LOCAL_REDIS) is None:
        log.info(
            "REDIS_URL is not set: using the Redis on %s", LOCAL_REDIS.removeprefix("redis://")
        )
        return Store(connect(LOCAL_REDIS))
    if not allow_in_process:
        raise ServiceError(
            "REDIS_URL is not set and no Redis answers on 127.0.0.1:6379: set REDIS_URL"
        )
    log.warning("no Redis configured or running: using an in-process store, nothing persists")
    return Store(in_process(), persistent=False)
