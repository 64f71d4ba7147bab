"""The week's post and its reading-group poll in Redis: one choice per member, kept atomically.

A week is named by its last day (the weekly post's day). Its record holds where the post is in
Slack and the poll's choices (papers, in the post's order). Each member's choice is stamped by
Redis and kept with its time: the same choice again withdraws it (kept as an empty choice,
so a restored older choice never stands over a withdrawal), another one replaces it, and two
presses racing each other are a choice and its withdrawal. Choices are exported, imported
(an older one never stands over a newer one) and forgotten with the reader's other data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import redis
from redis.commands.core import Script

from paperboy.vote_log import DELIVERY_TTL_SECONDS, EPOCH, micros

POLL_RETENTION_DAYS = 45
"""How long a week's post and its poll are kept, in days: as long as the days it reports."""

CHOOSE = """
-- KEYS: the week's record, the week's choices, the delivery (or "" when none)
-- ARGV: reader, paper, how long a delivery is remembered, how long the week is kept
local listed = redis.call("HGET", KEYS[1], "choices")
if not listed then return {"no-poll"} end
local known = false
for _, paper in ipairs(cjson.decode(listed)) do
  if paper == ARGV[2] then known = true end
end
if not known then return {"no-choice"} end
local previous = ""
local standing = redis.call("HGET", KEYS[2], ARGV[1])
if standing then previous = string.sub(standing, string.find(standing, ":") + 1) end
if KEYS[3] ~= "" and not redis.call("SET", KEYS[3], "1", "NX", "EX", ARGV[3]) then
  return {"seen", previous, previous}
end
local chosen = ARGV[2]
if previous == chosen then chosen = "" end
local now = redis.call("TIME")
redis.call("HSET", KEYS[2], ARGV[1], string.format("%d%06d:%s", now[1], now[2], chosen))
redis.call("EXPIRE", KEYS[2], ARGV[4])
return {"ok", previous, chosen}
"""

RESTORE = """
-- KEYS: the week's choices; ARGV: reader, "at:paper", at (microseconds), how long it is kept
local standing = redis.call("HGET", KEYS[1], ARGV[1])
if standing then
  local since = tonumber(string.sub(standing, 1, string.find(standing, ":") - 1))
  if tonumber(ARGV[3]) < since then return 0 end
end
redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
redis.call("EXPIRE", KEYS[1], ARGV[4])
return 1
"""

Outcome = Literal["ok", "seen", "no-poll", "no-choice"]


@dataclass(frozen=True)
class Choice:
    """What pressing a choice did: `ok` recorded, `seen` a delivery counted before, `no-poll`
    the week has no poll (or it expired), `no-choice` the paper is not one of its choices; the
    member's choice before and after ("" for none)."""

    outcome: Outcome
    previous: str = ""
    chosen: str = ""


@dataclass(frozen=True)
class PollRecord:
    """A member's choice in a week's poll as an export carries it ("" for a withdrawal)."""

    reader: str
    week: date
    paper: str
    at: datetime

    @classmethod
    def of(cls, record: dict[str, Any]) -> PollRecord:
        """A poll record of an export, or ValueError saying what is wrong with it."""
        try:
            found = cls(
                reader=str(record["reader"]),
                week=date.fromisoformat(str(record["week"])),
                paper=str(record.get("paper") or ""),
                at=datetime.fromisoformat(str(record["at"])),
            )
        except KeyError as exc:
            raise ValueError(f"a poll record without {exc}") from None
        except ValueError as exc:
            raise ValueError(f"a poll record with a bad date or time ({exc})") from None
        if found.at.tzinfo is None:
            raise ValueError(f"a poll record's time has no time zone: {record['at']}")
        return found

    def as_record(self) -> dict[str, Any]:
        return {
            "type": "poll",
            "reader": self.reader,
            "week": self.week.isoformat(),
            "paper": self.paper or None,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class WeekPost:
    """Where a week's post is in Slack, and what it offered: the poll's papers and their titles
    in the post's order, and the post's blocks (refreshed with the counts)."""

    week: date
    channel: str
    ts: str
    choices: list[str]
    titles: dict[str, str]
    blocks: list[dict[str, Any]]
    text: str


class PollBook:
    """The week's post and poll's part of the store (see the module's docstring)."""

    redis: redis.Redis

    def key(self, *parts: object) -> str:
        raise NotImplementedError

    def _poll_scripts(self) -> None:
        self._choose: Script = self.redis.register_script(CHOOSE)
        self._restore: Script = self.redis.register_script(RESTORE)

    def _keep(self) -> int:
        return int(timedelta(days=POLL_RETENTION_DAYS).total_seconds())

    # the week's post ------------------------------------------------------------------------

    def mark_week_post(self, channel: str, week: date) -> bool:
        """Mark the week's post as about to go out; False when a run marked it before (then it
        may be in the channel already: look for it there)."""
        key = self.key("week", channel, week.isoformat())
        with self.redis.pipeline() as pipe:
            pipe.hsetnx(key, "ts", "")
            pipe.expire(key, self._keep())
            first, _ = pipe.execute()
        return bool(first)

    def save_week_post(self, post: WeekPost, channel: str) -> None:
        """Store where the week's post to `channel` (as configured) is and what its poll offers;
        the poll opens with it."""
        mine = self.key("week", channel, post.week.isoformat())
        record: dict[str | bytes, str | bytes | int | float] = {
            "channel": post.channel,
            "ts": post.ts,
            "choices": json.dumps(post.choices),
            "titles": json.dumps(post.titles),
            "blocks": json.dumps(post.blocks),
            "text": post.text,
        }
        with self.redis.pipeline() as pipe:
            pipe.hset(mine, mapping=record)
            pipe.expire(mine, self._keep())
            pipe.hset(self.key("poll", post.week.isoformat()), mapping=record)
            pipe.expire(self.key("poll", post.week.isoformat()), self._keep())
            pipe.zadd(self.key("polls"), {post.week.isoformat(): post.week.toordinal()})
            oldest = (post.week - timedelta(days=POLL_RETENTION_DAYS)).toordinal()
            pipe.zremrangebyscore(self.key("polls"), "-inf", f"({oldest}")
            pipe.execute()

    def week_post(self, week: date, channel: str | None = None) -> WeekPost | None:
        """The week's post (in `channel`, or the one whose poll is open), once it went out."""
        key = self.key("week", channel, week.isoformat()) if channel else self.key("poll", week)
        raw = {k.decode(): v.decode() for k, v in self.redis.hgetall(key).items()}
        if not raw.get("ts") or "choices" not in raw:
            return None
        return WeekPost(
            week=week,
            channel=raw["channel"],
            ts=raw["ts"],
            choices=json.loads(raw["choices"]),
            titles=json.loads(raw["titles"]),
            blocks=json.loads(raw["blocks"]),
            text=raw.get("text", ""),
        )

    def poll_weeks(self) -> list[date]:
        """Every week with a poll, oldest first."""
        found = self.redis.zrange(self.key("polls"), 0, -1)
        return [date.fromisoformat(w.decode()) for w in found]

    # choices ------------------------------------------------------------------------------

    def choose(self, week: date, reader: str, paper: str, delivery: str | None = None) -> Choice:
        """A member's press on one of the week's choices, in one atomic step: the same choice
        again withdraws it, another replaces it; `delivery` names the request, so that a
        redelivery counts once."""
        keys = [
            self.key("poll", week.isoformat()),
            self.key("poll-choices", week.isoformat()),
            self.key("delivery", delivery) if delivery else "",
        ]
        found = self._choose(keys=keys, args=[reader, paper, DELIVERY_TTL_SECONDS, self._keep()])
        outcome = found[0].decode()
        if outcome in ("no-poll", "no-choice"):
            return Choice(outcome)
        return Choice(outcome, found[1].decode(), found[2].decode())

    def _choices(self, week: date) -> dict[str, tuple[int, str]]:
        raw = self.redis.hgetall(self.key("poll-choices", week.isoformat()))
        out = {}
        for reader, value in raw.items():
            at, _, paper = value.decode().partition(":")
            out[reader.decode()] = (int(at), paper)
        return out

    def poll_choices(self, week: date) -> dict[str, str]:
        """Each member's standing choice in the week's poll (withdrawn ones left out)."""
        return {reader: paper for reader, (_, paper) in self._choices(week).items() if paper}

    def poll_counts(self, week: date) -> dict[str, int]:
        """How many members chose each paper of the week's poll."""
        counts: dict[str, int] = {}
        for paper in self.poll_choices(week).values():
            counts[paper] = counts.get(paper, 0) + 1
        return counts

    # export, import, forget -------------------------------------------------------------

    def poll_records(self, reader_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Poll choices as export records (withdrawals too: they outrank older choices)."""
        for week in self.poll_weeks():
            for reader, (at, paper) in sorted(self._choices(week).items()):
                if reader_id is None or reader == reader_id:
                    when = EPOCH + timedelta(microseconds=at)
                    yield PollRecord(reader, week, paper, when).as_record()

    def import_poll_records(self, records: Iterable[PollRecord]) -> int:
        """Restore exported choices; one older than a member's standing choice does not stand.
        Returns how many stood."""
        stood = 0
        for record in records:
            when, week = micros(record.at), record.week.isoformat()
            stood += int(
                self._restore(
                    keys=[self.key("poll-choices", week)],
                    args=[record.reader, f"{when}:{record.paper}", when, self._keep()],
                )
            )
            self.redis.zadd(self.key("polls"), {week: record.week.toordinal()})
        return stood

    def forget_poll_choices(self, reader_id: str) -> None:
        """Remove a member's choices from every poll."""
        with self.redis.pipeline() as pipe:
            for week in self.poll_weeks():
                pipe.hdel(self.key("poll-choices", week.isoformat()), reader_id)
            pipe.execute()
