"""The archive: papers kept beyond the retention period, and where each was posted.

A stored paper expires RETENTION_DAYS after it is stored, unless it was posted in the channel,
voted on or saved to a reading list: those are kept for good (their record loses its expiry),
with their votes, so that search finds them however old. A kept paper's id joins the archive's
set once, and then a set of papers waiting for the search index (`paperboy.index` drains it);
the vote, save and post that keep a paper do it in the same atomic step (the Lua snippet `KEEP`
inside their scripts). A posted paper's place in Slack (channel and `ts`) is kept with it, and
its permalink once looked up. Nothing here names a reader.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import redis
from redis.commands.core import Script

from paperboy.models import Paper

KEEP = """
local function keep(paper_key, kept_key, pending_key, paper)
  redis.call("PERSIST", paper_key)
  if redis.call("SADD", kept_key, paper) == 1 then redis.call("SADD", pending_key, paper) end
end
"""
"""Lua: keep a paper for good (its record loses its expiry) and, the first time, queue it for
the search index's kept part. Scripts that keep a paper begin with it."""

STORE_PAPERS = """
-- KEYS: the archive's set, its queue for the index, then each paper's key
-- ARGV: seconds a paper is kept unless archived, then each paper's id and JSON
for i = 3, #KEYS do
  local id, body = ARGV[2 * (i - 3) + 2], ARGV[2 * (i - 3) + 3]
  if redis.call("SISMEMBER", KEYS[1], id) == 1 then
    redis.call("SET", KEYS[i], body)
    redis.call("SADD", KEYS[2], id)
  else
    redis.call("SET", KEYS[i], body, "EX", ARGV[1])
  end
end
return #KEYS - 2
"""

KEEP_PAPERS = (
    KEEP
    + """
-- KEYS: the archive's set, its queue for the index, then each paper's key; ARGV: their ids
for i = 3, #KEYS do keep(KEYS[i], KEYS[1], KEYS[2], ARGV[i - 2]) end
return #KEYS - 2
"""
)

BATCH = 500
"""Papers stored or kept per script call: a big day is a couple of calls."""


class Archive:
    """The archive's part of the store (see the module's docstring)."""

    redis: redis.Redis

    def key(self, *parts: object) -> str:
        raise NotImplementedError

    def _archive_scripts(self) -> None:
        self._store_papers: Script = self.redis.register_script(STORE_PAPERS)
        self._keep_papers: Script = self.redis.register_script(KEEP_PAPERS)

    def archive_keys(self) -> list[str]:
        """The archive's set and its queue for the index: the last two KEYS of a script that
        keeps a paper (see `KEEP`)."""
        return [self.key("kept"), self.key("ix", "pending")]

    def store_papers(self, papers: Iterable[Paper], seconds: int) -> None:
        """Store papers by id: for `seconds`, or for good when the archive keeps them (a paper
        voted on before it was fetched, a kept paper fetched again)."""
        papers = list(papers)
        for start in range(0, len(papers), BATCH):
            batch = papers[start : start + BATCH]
            args: list[Any] = [seconds]
            for paper in batch:
                args += [paper.id, paper.model_dump_json()]
            keys = [self.key("paper", paper.id) for paper in batch]
            self._store_papers(keys=[*self.archive_keys(), *keys], args=args)

    def keep_papers(self, ids: Iterable[str]) -> None:
        """Keep these papers for good (posted, imported) and queue the new ones for the index."""
        ids = list(dict.fromkeys(ids))
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            keys = [self.key("paper", pid) for pid in batch]
            self._keep_papers(keys=[*self.archive_keys(), *keys], args=batch)

    def is_kept(self, ids: list[str]) -> dict[str, bool]:
        """Whether the archive keeps each of these papers."""
        if not ids:
            return {}
        found = self.redis.smismember(self.key("kept"), ids)
        return {pid: bool(hit) for pid, hit in zip(ids, found, strict=True)}

    def kept_ids(self) -> list[str]:
        """Every paper the archive keeps, sorted."""
        return sorted(member.decode() for member in self.redis.smembers(self.key("kept")))

    # where a kept paper was posted -------------------------------------------------------

    def keep_thread(self, paper: str, channel: str, ts: str) -> None:
        """Keep where a paper's reply is in Slack (its first post stands) and the paper."""
        self.redis.hsetnx(self.key("threads"), paper, json.dumps({"channel": channel, "ts": ts}))
        self.keep_papers([paper])

    def threads(self, ids: list[str]) -> dict[str, dict[str, str]]:
        """Paper id -> {"channel", "ts", and "link" once its permalink was looked up}."""
        if not ids:
            return {}
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self.key("threads"), ids)
            pipe.hmget(self.key("permalinks"), ids)
            places, links = pipe.execute()
        out: dict[str, dict[str, str]] = {}
        for pid, place, link in zip(ids, places, links, strict=True):
            if place:
                out[pid] = json.loads(place)
                if link:
                    out[pid]["link"] = link.decode()
        return out

    def save_permalink(self, paper: str, link: str) -> None:
        """Remember a posted paper's permalink (it never changes)."""
        self.redis.hset(self.key("permalinks"), paper, link)

    def thread_records(self, ids: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """Where kept papers were posted, as export records (all of them, or these papers')."""
        if ids is None:
            found = {k.decode(): v for k, v in self.redis.hgetall(self.key("threads")).items()}
        else:
            wanted = list(dict.fromkeys(ids))
            raw = self.redis.hmget(self.key("threads"), wanted) if wanted else []
            found = {pid: v for pid, v in zip(wanted, raw, strict=True) if v}
        for pid in sorted(found):
            place = json.loads(found[pid])
            yield {"type": "thread", "paper": pid, "channel": place["channel"], "ts": place["ts"]}

    def import_threads(self, records: Iterable[dict[str, Any]]) -> int:
        """Restore where papers were posted (a place already known stands); how many."""
        count = 0
        for record in records:
            try:
                paper, channel, ts = str(record["paper"]), str(record["channel"]), str(record["ts"])
            except KeyError as exc:
                raise ValueError(f"a thread record without {exc}") from None
            place = json.dumps({"channel": channel, "ts": ts})
            count += int(self.redis.hsetnx(self.key("threads"), paper, place))
        return count

    # the index's queue -------------------------------------------------------------------

    def pending_kept(self, limit: int) -> list[str]:
        """Kept papers not yet in the search index's kept part (at most `limit`)."""
        found = self.redis.srandmember(self.key("ix", "pending"), limit)
        return sorted(member.decode() for member in found or [])  # type: ignore[union-attr]

    def kept_before(self) -> bool:
        """Whether the archive was ever filled: a store kept by an earlier version (votes kept
        papers, nothing queued them) is filled once from its vote logs and Slack replies."""
        return bool(self.redis.exists(self.key("kept", "ready")))

    def fill_archive(self) -> int:
        """Keep what an earlier version kept or posted: every paper in a vote log, and every
        paper with a reply in Slack (and where). Returns how many papers were queued."""
        ids: dict[str, None] = {}
        for member in self.redis.smembers(self.key("readers")):
            raw = self.redis.lrange(self.key("votes", member.decode()), 0, -1)
            ids.update(dict.fromkeys(json.loads(line)["paper"] for line in raw))
        prefix = self.key("slack", "message", "")
        for found in self.redis.scan_iter(match=prefix + "*", count=1000):
            paper = found.decode()[len(prefix) :]
            posted = self.redis.hgetall(found)
            for channel, body in sorted(posted.items())[:1]:
                ts = json.loads(body)["ts"]
                place = json.dumps({"channel": channel.decode(), "ts": ts})
                self.redis.hsetnx(self.key("threads"), paper, place)
            ids[paper] = None
        before = self.redis.scard(self.key("ix", "pending"))
        self.keep_papers(ids)
        self.redis.set(self.key("kept", "ready"), "1")
        return int(self.redis.scard(self.key("ix", "pending"))) - int(before)
