"""Each reader's reading list in Redis: papers saved for later, each save kept atomically.

A press of 📌 Save toggles: the same button again removes the paper. A save is stamped by Redis
and kept with its time, as a vote is (`paperboy.vote_log`): two presses racing each other are a
save and its removal, a press delivered twice counts once (the same record of deliveries), and
a removal is kept too (as "not saved"), so a restored older save never stands over it. Saving
a paper keeps it in the archive (`paperboy.archive`) in the same step. A save teaches the
reader's model like a 👍 where they have no vote on the paper (`paperboy.votes.teaching`).
Reading lists are exported, imported (an older save never stands over a newer one) and
forgotten with the reader's other data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import redis
from redis.commands.core import Script

from paperboy.archive import KEEP
from paperboy.vote_log import DELIVERY_TTL_SECONDS, EPOCH, micros

SAVE = (
    KEEP
    + """
-- KEYS: the reader's list, the paper, the readers, the delivery (or ""), the archive's set,
--       its queue for the index
-- ARGV: reader, paper, what ("toggle", "1": save, "0": remove), the paper must be stored ("1"),
--       how long a delivery is remembered
if ARGV[4] == "1" and redis.call("EXISTS", KEYS[2]) == 0 then return {"no-paper"} end
local previous, since = 0, 0
local standing = redis.call("HGET", KEYS[1], ARGV[2])
if standing then
  local sep = string.find(standing, ":")
  since = tonumber(string.sub(standing, 1, sep - 1))
  previous = tonumber(string.sub(standing, sep + 1))
end
if KEYS[4] ~= "" and not redis.call("SET", KEYS[4], "1", "NX", "EX", ARGV[5]) then
  return {"seen", string.format("%d", previous), string.format("%d", previous)}
end
local saved = 1 - previous
if ARGV[3] ~= "toggle" then saved = tonumber(ARGV[3]) end
if saved == previous then
  return {"same", string.format("%d", previous), string.format("%d", saved)}
end
local now = redis.call("TIME")
local at = tonumber(now[1]) * 1000000 + tonumber(now[2])
if at <= since then at = since + 1 end
redis.call("HSET", KEYS[1], ARGV[2], string.format("%d:%d", at, saved))
redis.call("SADD", KEYS[3], ARGV[1])
if saved == 1 then keep(KEYS[2], KEYS[5], KEYS[6], ARGV[2]) end
return {"ok", string.format("%d", previous), string.format("%d", saved), string.format("%d", at)}
"""
)

RESTORE = (
    KEEP
    + """
-- KEYS: the reader's list, the paper, the readers, the archive's set, its queue for the index
-- ARGV: reader, paper, "at:saved", at (microseconds), saved ("1" or "0")
local standing = redis.call("HGET", KEYS[1], ARGV[2])
if standing then
  local since = tonumber(string.sub(standing, 1, string.find(standing, ":") - 1))
  if tonumber(ARGV[4]) <= since then return 0 end
end
redis.call("HSET", KEYS[1], ARGV[2], ARGV[3])
redis.call("SADD", KEYS[3], ARGV[1])
if ARGV[5] == "1" then keep(KEYS[2], KEYS[4], KEYS[5], ARGV[2]) end
return 1
"""
)

Outcome = Literal["ok", "same", "seen", "no-paper"]
Change = Literal["toggle", "save", "remove"]


@dataclass(frozen=True)
class Saving:
    """What a press on 📌 Save (or Remove) did: `ok` changed, `same` nothing to change, `seen` a
    delivery counted before, `no-paper` the paper is not stored; saved before and after."""

    outcome: Outcome
    previous: bool = False
    saved: bool = False
    at: datetime | None = None


@dataclass(frozen=True)
class Saved:
    """A paper on a reading list, and when it was saved."""

    paper: str
    at: datetime


@dataclass(frozen=True)
class SavedRecord:
    """A save (or a removal) as an export carries it."""

    reader: str
    paper: str
    saved: bool
    at: datetime

    @classmethod
    def of(cls, record: dict[str, Any]) -> SavedRecord:
        """A reading-list record of an export, or ValueError saying what is wrong with it."""
        saved = record.get("saved", True)
        if not isinstance(saved, bool):
            raise ValueError(f"a saved record's `saved` is true or false, not {saved!r}")
        try:
            found = cls(
                reader=str(record["reader"]),
                paper=str(record["paper"]),
                saved=saved,
                at=datetime.fromisoformat(str(record["at"])),
            )
        except KeyError as exc:
            raise ValueError(f"a saved record without {exc}") from None
        except ValueError as exc:
            raise ValueError(f"a saved record with a bad time ({exc})") from None
        if found.at.tzinfo is None:
            raise ValueError(f"a saved record's time has no time zone: {record['at']}")
        return found

    def as_record(self) -> dict[str, Any]:
        return {
            "type": "saved",
            "reader": self.reader,
            "paper": self.paper,
            "saved": self.saved,
            "at": self.at.isoformat(),
        }


class ReadingList:
    """The reading lists' part of the store (see the module's docstring)."""

    redis: redis.Redis

    def key(self, *parts: object) -> str:
        raise NotImplementedError

    def archive_keys(self) -> list[str]:
        raise NotImplementedError

    def reader_ids(self) -> list[str]:
        raise NotImplementedError

    def _reading_scripts(self) -> None:
        self._save: Script = self.redis.register_script(SAVE)
        self._restore_saved: Script = self.redis.register_script(RESTORE)

    def save(
        self,
        reader: str,
        paper: str,
        change: Change = "toggle",
        *,
        stored_only: bool = False,
        delivery: str | None = None,
    ) -> Saving:
        """Save a paper to the reader's list, or remove it, in one atomic step: `toggle` (the
        button) saves it, or removes it when it is saved; `stored_only` refuses a paper the
        store does not hold; `delivery` names the request, so that a redelivery counts once."""
        keys = [
            self.key("saved", reader),
            self.key("paper", paper),
            self.key("readers"),
            self.key("delivery", delivery) if delivery else "",
            *self.archive_keys(),
        ]
        what = {"toggle": "toggle", "save": "1", "remove": "0"}[change]
        found = self._save(
            keys=keys, args=[reader, paper, what, int(stored_only), DELIVERY_TTL_SECONDS]
        )
        outcome = found[0].decode()
        if outcome == "no-paper":
            return Saving("no-paper")
        at = EPOCH + timedelta(microseconds=int(found[3])) if outcome == "ok" else None
        return Saving(outcome, found[1] == b"1", found[2] == b"1", at)

    def _list(self, reader: str) -> dict[str, tuple[int, bool]]:
        raw = self.redis.hgetall(self.key("saved", reader))
        out = {}
        for paper, value in raw.items():
            at, _, saved = value.partition(b":")
            out[paper.decode()] = (int(at), saved == b"1")
        return out

    def saved(self, reader: str) -> list[Saved]:
        """The reader's reading list, newest first."""
        found = [(at, pid) for pid, (at, saved) in self._list(reader).items() if saved]
        return [Saved(pid, EPOCH + timedelta(microseconds=at)) for at, pid in sorted(found)[::-1]]

    def is_saved(self, reader: str, paper: str) -> bool:
        value = self.redis.hget(self.key("saved", reader), paper)
        return bool(value and value.endswith(b":1"))

    # export, import, forget -------------------------------------------------------------

    def saved_records(self, reader_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Reading lists as export records (removals too: they outrank older saves)."""
        for reader in [reader_id] if reader_id else self.reader_ids():
            for pid, (at, saved) in sorted(self._list(reader).items()):
                when = EPOCH + timedelta(microseconds=at)
                yield SavedRecord(reader, pid, saved, when).as_record()

    def import_saved(self, records: Iterable[SavedRecord]) -> int:
        """Restore exported saves and removals; one not newer than the reader's standing one
        does not stand. Returns how many stood."""
        stood = 0
        for record in records:
            when = micros(record.at)
            keys = [
                self.key("saved", record.reader),
                self.key("paper", record.paper),
                self.key("readers"),
                *self.archive_keys(),
            ]
            args = [record.reader, record.paper, f"{when}:{int(record.saved)}", when]
            stood += int(self._restore_saved(keys=keys, args=[*args, int(record.saved)]))
        return stood

    def forget_reading_list(self, reader_id: str) -> None:
        """Remove a reader's reading list."""
        self.redis.delete(self.key("saved", reader_id))
