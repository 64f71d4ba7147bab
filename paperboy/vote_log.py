"""The vote log in Redis: every event appended, never rewritten; the standing vote kept beside it.

The rule (`paperboy.votes`): a reader's standing vote on a paper is their newest event on it by
time. A live vote is stamped with Redis's own clock and appended in one atomic script that reads
the standing vote, appends the next event and updates the paper's tally, so two presses racing
each other are a vote and its undo, append order and time order agree, and the click's
acknowledgement costs one round trip. An imported event is appended as it was; it stands only
if it is newer than the one standing. Per reader, a hash keeps each paper's standing vote and
its time; per paper, a hash keeps the readers' standing non-zero votes (the tally). The paper
voted on is kept in the archive for good (`paperboy.archive`) by the same step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import redis
from redis.commands.core import Script

from paperboy.archive import KEEP
from paperboy.models import Vote, VoteSource, VoteValue
from paperboy.votes import latest_events

DELIVERY_TTL_SECONDS = 24 * 3600
"""How long a delivered click or event is remembered, so that a redelivery counts once."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_ISO = """
local function iso(us)
  local sec = math.floor(us / 1000000)
  local days = math.floor(sec / 86400)
  local rem = sec - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  return string.format("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", y, m, d,
    math.floor(rem / 3600), math.floor(rem % 3600 / 60), rem % 60, us % 1000000)
end
"""

CAST = (
    _ISO
    + KEEP
    + """
-- KEYS: the reader's log, their standing votes, the paper's tally, the paper, the readers,
--       the delivery (or "" when none), the archive's set, its queue for the index
-- ARGV: reader, paper, value, toggle ("1": the same value again undoes), source,
--       the paper must be stored ("1"), how long a delivery is remembered
if ARGV[6] == "1" and redis.call("EXISTS", KEYS[4]) == 0 then return {"no-paper"} end
if redis.call("EXISTS", KEYS[2]) == 0 and redis.call("LLEN", KEYS[1]) > 0 then
  return {"rebuild"}
end
local previous, since = 0, 0
local standing = redis.call("HGET", KEYS[2], ARGV[2])
if standing then
  local sep = string.find(standing, ":")
  since = tonumber(string.sub(standing, 1, sep - 1))
  previous = tonumber(string.sub(standing, sep + 1))
end
if KEYS[6] ~= "" and not redis.call("SET", KEYS[6], "1", "NX", "EX", ARGV[7]) then
  return {"seen", string.format("%d", previous), string.format("%d", previous)}
end
local value = tonumber(ARGV[3])
if ARGV[4] == "1" and previous == value then value = 0 end
if value == previous and ARGV[4] ~= "1" then
  return {"same", string.format("%d", previous), string.format("%d", value)}
end
local now = redis.call("TIME")
local at = tonumber(now[1]) * 1000000 + tonumber(now[2])
if at <= since then at = since + 1 end
redis.call("RPUSH", KEYS[1], cjson.encode({reader = ARGV[1], paper = ARGV[2], value = value,
  at = iso(at), source = ARGV[5]}))
redis.call("HSET", KEYS[2], ARGV[2], string.format("%d:%d", at, value))
if value == 0 then redis.call("HDEL", KEYS[3], ARGV[1])
else redis.call("HSET", KEYS[3], ARGV[1], value) end
redis.call("SADD", KEYS[5], ARGV[1])
keep(KEYS[4], KEYS[7], KEYS[8], ARGV[2])
return {"ok", string.format("%d", previous), string.format("%d", value), string.format("%d", at)}
"""
)

APPEND = (
    KEEP
    + """
-- KEYS: the reader's log, their standing votes, the paper's tally, the paper, the readers,
--       the archive's set, its queue for the index
-- ARGV: reader, paper, value, at (microseconds), the event as JSON
if redis.call("EXISTS", KEYS[2]) == 0 and redis.call("LLEN", KEYS[1]) > 0 then
  return "rebuild"
end
redis.call("RPUSH", KEYS[1], ARGV[5])
redis.call("SADD", KEYS[5], ARGV[1])
keep(KEYS[4], KEYS[6], KEYS[7], ARGV[2])
local standing = redis.call("HGET", KEYS[2], ARGV[2])
if standing then
  local since = tonumber(string.sub(standing, 1, string.find(standing, ":") - 1))
  if tonumber(ARGV[4]) < since then return "kept" end
end
redis.call("HSET", KEYS[2], ARGV[2], ARGV[4] .. ":" .. ARGV[3])
if ARGV[3] == "0" then redis.call("HDEL", KEYS[3], ARGV[1])
else redis.call("HSET", KEYS[3], ARGV[1], ARGV[3]) end
return "stands"
"""
)

Outcome = Literal["ok", "same", "seen", "no-paper"]


@dataclass(frozen=True)
class Cast:
    """What casting a vote did: `ok` appended, `same` nothing to change, `seen` a delivery
    counted before, `no-paper` the paper is not stored; the standing vote before and after."""

    outcome: Outcome
    previous: int = 0
    value: int = 0
    at: datetime | None = None


def micros(at: datetime) -> int:
    """A time as whole microseconds since the epoch."""
    return (at - EPOCH) // timedelta(microseconds=1)


class VoteLog:
    """The vote log's part of the store (see the module's docstring)."""

    redis: redis.Redis

    def key(self, *parts: object) -> str:
        raise NotImplementedError

    def archive_keys(self) -> list[str]:
        raise NotImplementedError

    def _scripts(self) -> None:
        self._cast: Script = self.redis.register_script(CAST)
        self._append: Script = self.redis.register_script(APPEND)

    def _vote_keys(self, reader: str, paper: str) -> list[str]:
        return [
            self.key("votes", reader),
            self.key("standing", reader),
            self.key("tally", paper),
            self.key("paper", paper),
            self.key("readers"),
        ]

    def cast(
        self,
        reader: str,
        paper: str,
        value: VoteValue,
        source: VoteSource,
        *,
        toggle: bool = False,
        stored_only: bool = False,
        delivery: str | None = None,
    ) -> Cast:
        """A live vote, stamped by Redis and appended in one atomic step: `toggle` makes the
        same value again an undo (a button), otherwise the value is set (an email link, the
        CLI) and an unchanged one appends nothing; `stored_only` refuses a paper the store
        does not hold; `delivery` names the request, so that a redelivery counts once."""
        delivered = self.key("delivery", delivery) if delivery else ""
        keys = [*self._vote_keys(reader, paper), delivered, *self.archive_keys()]
        args = [reader, paper, value, int(toggle), source, int(stored_only), DELIVERY_TTL_SECONDS]
        found = self._cast(keys=keys, args=args)
        if found[0] == b"rebuild":
            self.rebuild_standing(reader)
            found = self._cast(keys=keys, args=args)
        outcome = found[0].decode()
        if outcome == "no-paper":
            return Cast("no-paper")
        at = EPOCH + timedelta(microseconds=int(found[3])) if outcome == "ok" else None
        return Cast(outcome, int(found[1]), int(found[2]), at)

    def append_vote(self, vote: Vote) -> bool:
        """Append an event as it was (an import, a backfill); it stands if it is newer than
        the standing one on its paper. True when it stands."""
        keys = [*self._vote_keys(vote.reader, vote.paper), *self.archive_keys()]
        args = [vote.reader, vote.paper, vote.value, micros(vote.at), vote.model_dump_json()]
        found = self._append(keys=keys, args=args)
        if found == b"rebuild":
            self.rebuild_standing(vote.reader)
            found = self._append(keys=keys, args=args)
        return bool(found == b"stands")

    def rebuild_standing(self, reader: str) -> None:
        """Work out a reader's standing votes from their whole log (a log kept before standing
        votes were, or after a restore), and their share of the tallies."""
        log_key, standing_key = self.key("votes", reader), self.key("standing", reader)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(log_key)
                    logged: list[bytes] = pipe.lrange(log_key, 0, -1)  # type: ignore[assignment]
                    events = [Vote.model_validate_json(raw) for raw in logged]
                    pipe.multi()
                    pipe.delete(standing_key)
                    for vote in latest_events(events):
                        pipe.hset(standing_key, vote.paper, f"{micros(vote.at)}:{vote.value}")
                        if vote.value:
                            pipe.hset(self.key("tally", vote.paper), reader, vote.value)
                        else:
                            pipe.hdel(self.key("tally", vote.paper), reader)
                    pipe.execute()
                    return
                except redis.WatchError:
                    continue

    def votes(self, reader_id: str) -> list[Vote]:
        """A reader's whole log, in the order it was appended."""
        raw = self.redis.lrange(self.key("votes", reader_id), 0, -1)
        return [Vote.model_validate_json(item) for item in raw]

    def current_vote(self, reader_id: str, paper_id: str) -> int:
        """The reader's standing vote on a paper: +1, -1, or 0 for none."""
        standing = self.redis.hget(self.key("standing", reader_id), paper_id)
        if (
            standing is None
            and self.redis.exists(self.key("votes", reader_id))
            and not (self.redis.exists(self.key("standing", reader_id)))
        ):
            self.rebuild_standing(reader_id)  # a log kept before standing votes were
            standing = self.redis.hget(self.key("standing", reader_id), paper_id)
        return int(standing.split(b":")[1]) if standing else 0

    def standings(self, reader_ids: list[str]) -> dict[str, dict[str, tuple[int, int]]]:
        """Each reader's standing non-zero votes, paper -> (value, microseconds since the epoch
        it was cast), read in one round trip (the group's votes, for `paperboy.group`)."""
        keys = [self.key("standing", rid) for rid in reader_ids]
        with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(key)
            found: list[dict[bytes, bytes]] = pipe.execute()
        missing = [rid for rid, raw in zip(reader_ids, found, strict=True) if not raw]
        for rid in missing:  # a log kept before standing votes were (rebuilt once)
            if self.redis.exists(self.key("votes", rid)):
                self.rebuild_standing(rid)
                found[reader_ids.index(rid)] = self.redis.hgetall(self.key("standing", rid))
        out: dict[str, dict[str, tuple[int, int]]] = {}
        for rid, raw in zip(reader_ids, found, strict=True):
            mine: dict[str, tuple[int, int]] = {}
            for paper, standing in raw.items():
                at, _, value = standing.partition(b":")
                if value != b"0":
                    mine[paper.decode()] = (int(value), int(at))
            out[rid] = mine
        return out

    def tally(self, paper_id: str) -> tuple[int, int]:
        """(👍, 👎) counts of the standing votes on a paper."""
        values = [int(v) for v in self.redis.hvals(self.key("tally", paper_id))]
        return values.count(1), values.count(-1)

    def tallies(self, ids: list[str]) -> dict[str, tuple[int, int]]:
        """(👍, 👎) of each paper, read in one round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            for pid in ids:
                pipe.hvals(self.key("tally", pid))
            found: list[list[bytes]] = pipe.execute()
        out = {}
        for pid, values in zip(ids, found, strict=True):
            counted = [int(v) for v in values]
            out[pid] = (counted.count(1), counted.count(-1))
        return out

    def first_delivery(self, kind: str, key: str) -> bool:
        """True the first time a delivery (an event id) is seen; False for a redelivery."""
        return bool(
            self.redis.set(self.key("delivery", kind, key), "1", nx=True, ex=DELIVERY_TTL_SECONDS)
        )

    def forget_votes(self, reader_id: str) -> None:
        """Remove a reader's log, standing votes and share of the tallies."""
        papers = {vote.paper for vote in self.votes(reader_id)}
        with self.redis.pipeline() as pipe:
            for paper in papers:
                pipe.hdel(self.key("tally", paper), reader_id)
            pipe.delete(self.key("votes", reader_id), self.key("standing", reader_id))
            pipe.execute()

    def import_votes(self, votes: Iterable[Vote]) -> int:
        """Append the votes not already in their readers' logs; how many were new."""
        known: dict[str, set[str]] = {}
        added = 0
        for vote in votes:
            if vote.reader not in known:
                known[vote.reader] = {v.model_dump_json() for v in self.votes(vote.reader)}
            line = vote.model_dump_json()
            if line not in known[vote.reader]:
                self.append_vote(vote)
                known[vote.reader].add(line)
                added += 1
        return added
