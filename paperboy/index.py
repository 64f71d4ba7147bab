"""The search index: BM25 over an inverted index of packed postings, kept in plain Redis.

The Redis Paperboy requires has no search module, so the index is hashes of bytes, in segments.
Each ingested day is one segment: a hash from each term to its postings, stored when the day is
ingested and expiring with the day's papers, so the index forgets what the store forgets. The
archive's papers (posted, voted on or saved: `paperboy.archive`) are one more segment that never
expires; a kept paper joins it when its queue is drained (at each ingest and before each
search), while its day's segment still finds it.

A posting is 7 bytes: the paper's number in its segment (u32), how often the term occurs in it
(title words count TITLE_WEIGHT times, as BM25F would weigh a field) and the paper's length in
words, weighed the same (u16). Terms are the local scorer's words (lower-case, stemmed, stop
words out); authors are terms too, by name: the surname (`a:lecun`) and the first initial with
it (`a:y.lecun`). A query's words are scored with BM25 over every live segment; each author term
it names adds that term's idf times AUTHOR_WEIGHT. A paper found in its day's segment and in the
kept one counts once.
"""

from __future__ import annotations

import logging
import math
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

import numpy as np
from redis.commands.core import Script

from paperboy.authors import fold, parse_name
from paperboy.models import Paper
from paperboy.store import RETENTION_DAYS, Store
from paperboy.vectors import STOP_WORDS, words

log = logging.getLogger(__name__)

POSTING = np.dtype([("doc", "<u4"), ("tf", "u1"), ("len", "<u2")])
"""One posting: the paper's number in its segment, the term's weighted count, the paper's
weighted length (7 bytes, unaligned)."""
TITLE_WEIGHT = 3
"""A title word counts as this many abstract words: the title says what a paper is about."""
K1 = 1.2
B = 0.75
"""BM25's usual constants: how soon a term's count saturates, how much length normalises."""
AUTHOR_WEIGHT = 1.0
"""An author term named by the query adds its idf times this (a rare surname outweighs words)."""
MAX_TERMS = 16
"""Query words beyond this many are ignored: a query is a few words, not an abstract."""
KEEP_BATCH = 200
"""Kept papers moved into the kept segment per script call."""

IDS, COUNT, LENGTH = "#ids", "#n", "#len"
"""A segment's own fields (terms never start with #): its papers' ids (a day's, space-joined),
how many papers, their summed length."""

KEEP_INDEX = """
-- KEYS: the kept segment (term -> postings), paper -> number, the numbers' papers (a list),
--       the archive's queue for the index
-- ARGV: k, then k paper ids, then each one's length ("0": not stored, only taken off the queue),
--       then pairs of a term and its records (5 bytes each: the paper's place among the k
--       (u16), the term's count (u8) and the paper's length (u16), little-endian)
local k = tonumber(ARGV[1])
local prefix = {}
local added, length = 0, 0
for i = 1, k do
  local id, size = ARGV[1 + i], tonumber(ARGV[1 + k + i])
  redis.call("SREM", KEYS[4], id)
  if size > 0 and redis.call("HEXISTS", KEYS[2], id) == 0 then
    local n = redis.call("RPUSH", KEYS[3], id) - 1
    redis.call("HSET", KEYS[2], id, n)
    prefix[i] = string.char(n % 256, math.floor(n / 256) % 256, math.floor(n / 65536) % 256,
      math.floor(n / 16777216) % 256)
    added = added + 1
    length = length + size
  end
end
for j = 2 + 2 * k, #ARGV, 2 do
  local records, out = ARGV[j + 1], {}
  for r = 1, #records, 5 do
    local i = string.byte(records, r) + 256 * string.byte(records, r + 1) + 1
    if prefix[i] then out[#out + 1] = prefix[i] .. string.sub(records, r + 2, r + 4) end
  end
  if #out > 0 then
    local old = redis.call("HGET", KEYS[1], ARGV[j]) or ""
    redis.call("HSET", KEYS[1], ARGV[j], old .. table.concat(out))
  end
end
redis.call("HINCRBY", KEYS[1], "#n", added)
redis.call("HINCRBY", KEYS[1], "#len", length)
return added
"""


@dataclass(frozen=True)
class Hit:
    """A paper a query found, with its score (higher is better)."""

    paper: str
    score: float


def _plain(text: str) -> str:
    """Text without diacritics, so that "Schrödinger" and "Schrodinger" are one word."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def author_terms(authors: Iterable[str]) -> set[str]:
    """A paper's author terms: each surname, and the first initial with it."""
    found = set()
    for raw in authors:
        name = parse_name(raw)
        if name is None or len(name.surname) < 2:
            continue
        found.add(f"a:{name.surname}")
        if name.given:
            found.add(f"a:{name.given[0][0]}.{name.surname}")
    return found


def paper_terms(paper: Paper) -> tuple[Counter[str], int]:
    """A paper's terms with their weighted counts, and its weighted length in words."""
    title, abstract = words(_plain(paper.title)), words(_plain(paper.abstract))
    counts = Counter(abstract)
    for word in title:
        counts[word] += TITLE_WEIGHT
    for term in author_terms(paper.authors):
        counts[term] = 1
    return counts, len(abstract) + TITLE_WEIGHT * len(title)


def query_terms(text: str) -> tuple[list[str], list[str]]:
    """A query's words (as papers' words are made) and the author terms it may name."""
    found = list(dict.fromkeys(words(_plain(text))))[:MAX_TERMS]
    names = fold(text.replace("-", " ")).replace(".", " ").split()
    authors = [f"a:{n}" for n in names if len(n) >= 2 and n not in STOP_WORDS]
    authors += [f"a:{a[0]}.{b}" for a, b in pairwise(names) if len(b) >= 2]
    return found, list(dict.fromkeys(authors))[: 2 * MAX_TERMS]


def _pack(rows: Sequence[tuple[int, int, int]], dtype: np.dtype) -> bytes:
    return np.array(rows, dtype=dtype).tobytes()


class SearchIndex:
    """The search index of a store (see the module's docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.redis = store.redis
        self._keep_index: Script = self.redis.register_script(KEEP_INDEX)

    def _day(self, day: date | str) -> str:
        return self.store.key("ix", "day", str(day))

    @property
    def _days(self) -> str:
        return self.store.key("ix", "days")

    @property
    def _kept(self) -> str:
        return self.store.key("ix", "kept")

    # building ---------------------------------------------------------------------------

    def add_day(self, day: date, papers: Sequence[Paper]) -> int:
        """Index a day's papers as its segment (replacing one indexed before), kept as long as
        the day's papers are. Returns how many terms it holds."""
        if not papers:
            return 0
        postings: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
        total = 0
        for doc, paper in enumerate(papers):
            counts, length = paper_terms(paper)
            total += length
            size = min(length, 0xFFFF)
            for term, tf in counts.items():
                postings[term].append((doc, min(tf, 0xFF), size))
        fields: dict[str, bytes | str | int] = {t: _pack(r, POSTING) for t, r in postings.items()}
        fields[IDS] = " ".join(p.id for p in papers)
        fields[COUNT] = len(papers)
        fields[LENGTH] = total
        keep = timedelta(days=RETENTION_DAYS)
        expires = time.time() + keep.total_seconds()
        key = self._day(day)
        with self.redis.pipeline() as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
            pipe.expire(key, keep)
            # The live segments, by when they expire, so listing them never scans keys.
            pipe.zadd(self._days, {day.isoformat(): expires})
            pipe.zremrangebyscore(self._days, "-inf", time.time())
            pipe.execute()
        log.info("day %s: %d papers indexed for search (%d terms)", day, len(papers), len(postings))
        return len(postings)

    def keep_pending(self) -> int:
        """Move the archive's newly kept papers into the kept segment; how many joined it. A
        store an earlier version kept is first filled from its vote logs and Slack replies."""
        if not self.store.kept_before():
            filled = self.store.fill_archive()
            if filled:
                log.info("the archive kept %d papers voted on or posted before", filled)
        added = 0
        while ids := self.store.pending_kept(KEEP_BATCH):
            added += self._keep(ids)
        return added

    def _keep(self, ids: list[str]) -> int:
        papers = self.store.papers(ids)
        sizes: list[int] = []
        postings: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
        for place, pid in enumerate(ids):
            paper = papers.get(pid)
            if paper is None:  # not stored (yet): stored later, it is queued again
                sizes.append(0)
                continue
            counts, length = paper_terms(paper)
            sizes.append(max(1, length))
            size = min(length, 0xFFFF)
            for term, tf in counts.items():
                postings[term].append((place, min(tf, 0xFF), size))
        record = np.dtype([("place", "<u2"), ("tf", "u1"), ("len", "<u2")])
        args: list[str | int | bytes] = [len(ids), *ids, *sizes]
        for term, rows in postings.items():
            args += [term, _pack(rows, record)]
        keys = [
            self._kept,
            self.store.key("ix", "kept", "ids"),
            self.store.key("ix", "kept", "docs"),
            self.store.key("ix", "pending"),
        ]
        return int(self._keep_index(keys=keys, args=args))

    # searching --------------------------------------------------------------------------

    def segments(self) -> list[str]:
        """The live segments' keys: each day's still kept, oldest first, then the kept one."""
        days = self.redis.zrangebyscore(self._days, time.time(), "+inf")
        return [*(self._day(d.decode()) for d in days), self._kept]

    def search(self, text: str, limit: int = 10) -> list[Hit]:
        """The papers that best match a query, best first (at most `limit`)."""
        found, authors = query_terms(text)
        terms = [*found, *authors]
        if not terms or limit < 1:
            return []
        segments = self.segments()
        with self.redis.pipeline(transaction=False) as pipe:
            for key in segments:
                pipe.hmget(key, [*terms, COUNT, LENGTH])
            rows: list[list[bytes | None]] = pipe.execute()
        papers = sum(int(row[-2] or 0) for row in rows)
        length = sum(int(row[-1] or 0) for row in rows)
        if not papers:
            return []
        average = max(length / papers, 1.0)
        lists = [[np.frombuffer(blob or b"", POSTING) for blob in row[:-2]] for row in rows]
        df = [sum(len(mine[t]) for mine in lists) for t in range(len(terms))]
        idf = [math.log(1 + (papers - n + 0.5) / (n + 0.5)) for n in df]
        candidates: list[tuple[float, int, int]] = []  # (score, segment, paper's number)
        for s, mine in enumerate(lists):
            docs, gains = [], []
            for t, hits in enumerate(mine):
                if not len(hits):
                    continue
                if t < len(found):
                    tf = hits["tf"].astype(np.float64)
                    norm = K1 * (1 - B + B * hits["len"] / average)
                    gains.append(idf[t] * tf * (K1 + 1) / (tf + norm))
                else:
                    gains.append(np.full(len(hits), AUTHOR_WEIGHT * idf[t]))
                docs.append(hits["doc"])
            if not docs:
                continue
            numbers, where = np.unique(np.concatenate(docs), return_inverse=True)
            scores = np.bincount(where, weights=np.concatenate(gains))
            best = np.argsort(-scores, kind="stable")[: 2 * limit]
            candidates += [(float(scores[i]), s, int(numbers[i])) for i in best]
        # A kept paper may be in its day's segment too: twice the room, then each paper once.
        candidates.sort(key=lambda c: (-c[0], -c[1]))
        top = candidates[: 2 * limit]
        ids = self._ids(segments, [(s, n) for _, s, n in top])
        out: dict[str, Hit] = {}
        for (score, _, _), pid in zip(top, ids, strict=True):
            if pid and pid not in out:
                out[pid] = Hit(pid, round(score, 4))
        return list(out.values())[:limit]

    def _ids(self, segments: list[str], wanted: list[tuple[int, int]]) -> list[str | None]:
        """The paper ids of (segment, number) pairs."""
        days = sorted({s for s, _ in wanted if segments[s] != self._kept})
        docs = self.store.key("ix", "kept", "docs")
        with self.redis.pipeline(transaction=False) as pipe:
            for s in days:
                pipe.hget(segments[s], IDS)
            for s, n in wanted:
                if segments[s] == self._kept:
                    pipe.lindex(docs, n)
            found = pipe.execute()
        listed = {s: (raw or b"").decode().split() for s, raw in zip(days, found, strict=False)}
        kept = iter(found[len(days) :])
        out: list[str | None] = []
        for s, n in wanted:
            if segments[s] == self._kept:
                raw = next(kept)
                out.append(raw.decode() if raw else None)
            else:
                mine = listed.get(s, [])
                out.append(mine[n] if n < len(mine) else None)
        return out
