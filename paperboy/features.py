"""A day's features: its papers and the prior's texts as tf-idf rows, and what is derived once.

A `DayCorpus` is the shareable, expensive part of ranking a day: the vocabulary fitted on the
day's papers and the group's positive texts, their rows, the cosines between them, and the
rows of other papers (voted on, shown earlier) in the same vocabulary. The local scorer and
every reader's model of the day use one corpus; it is cached by content, so ranking the same
day again, for another reader or after a vote, starts from it. Pure.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from paperboy.models import Paper
from paperboy.vectors import Rows, Vector, Vocabulary, cross, grams, terms, words

CORPUS_CACHE_SIZE = 8
"""Days kept vectorised per process: today's, the days a reader's email or Home looks at."""
ROWS_CACHE_SIZE = 20_000
"""Rows of papers not of the day (voted on, shown) kept per day's corpus: a reader's refit after
a vote reuses theirs; a kilobyte or two each, so memory stays bounded on a big group's day."""
ROWS_BATCH = 1000
"""Papers vectorised together: one by one costs three times as much, and a batch's word lists
take about 13 KB a paper while it is made, so a week of a big group's votes is made in parts."""


def standardise(values: Vector) -> Vector:
    """Centre and scale to unit deviation over the day, so weights mean the same every day."""
    if len(values) == 0:
        return values
    sd = float(values.std())
    return (values - values.mean()) / sd if sd > 1e-12 else values - values.mean()


PaperKey = tuple[str, str, str]
"""A paper by its id and text: the same key, the same words."""


def paper_key(paper: Paper) -> PaperKey:
    return (paper.id, paper.title, paper.abstract)


def paper_words(paper: Paper) -> tuple[list[str], list[str]]:
    """A paper's title words and abstract words, stemmed."""
    return words(paper.title), words(paper.abstract)


def doc_terms(title: list[str], abstract: list[str], title_weight: int = 2) -> list[str]:
    """A paper's features from its words, with its title counted `title_weight` times."""
    return grams(title) * title_weight + grams(abstract)


def padded(stems: list[str]) -> str:
    """Stemmed words joined for phrase search."""
    return f" {' '.join(stems)} "


def found(phrases: dict[str, str], text: str) -> list[str]:
    """The phrases that occur in a padded stemmed text (" w1 w2 … "), as the criteria wrote them."""
    return [label for stem, label in phrases.items() if stem in text]


def stack(parts: Sequence[Rows]) -> Rows:
    """Rows of several matrices with the same columns, one under the other."""
    offsets = np.cumsum([0] + [p.indptr[-1] for p in parts[:-1]])
    indptr = np.concatenate([[0]] + [p.indptr[1:] + o for p, o in zip(parts, offsets, strict=True)])
    return Rows(
        indptr.astype(np.int64),
        np.concatenate([p.indices for p in parts]),
        np.concatenate([p.data for p in parts]),
        parts[0].n_cols,
    )


def cosines(rows: Rows, others: Rows) -> Vector:
    """Cosine of every row with every row of a few `others` (both L2-normalised)."""
    out = np.zeros((rows.n_rows, others.n_rows))
    if others.n_rows == 0 or rows.n_rows == 0:
        return out
    # Only columns the few `others` use matter: gather those entries once.
    dense = others.dense()
    used = np.flatnonzero(dense.any(axis=0))
    column = np.full(rows.n_cols, -1)
    column[used] = np.arange(len(used))
    keep = column[rows.indices] >= 0
    rids, cols, vals = rows.row_ids[keep], column[rows.indices[keep]], rows.data[keep]
    compact = dense[:, used]
    for j in range(others.n_rows):
        out[:, j] = np.bincount(rids, vals * compact[j, cols], minlength=rows.n_rows)
    return out


Row = tuple[NDArray[np.int64], Vector]
"""One paper's row: its columns and values."""


@dataclass
class DayCorpus:
    """A day's papers vectorised with the prior's positives, and what is derived from them."""

    vocab: Vocabulary
    papers: Rows
    positives: Rows
    titles: list[str]  # padded stemmed titles, for keyword search
    texts: list[str]  # padded stemmed title + abstract (a "|" between them)
    title_weight: int
    key: str = ""  # the hash of the inputs: same key, same corpus
    other_rows: OrderedDict[PaperKey, Row] = field(default_factory=OrderedDict, repr=False)
    """Rows of papers that are not the day's (voted on, shown earlier), in this vocabulary; the
    ROWS_CACHE_SIZE most recently used."""
    similar: dict[PaperKey, NDArray[np.float32]] = field(default_factory=dict, repr=False)
    """For a reader's own seed paper: its cosine with each of the day's papers."""

    @cached_property
    def sims(self) -> Vector:
        """Cosine of each paper with each positive."""
        return cosines(self.papers, self.positives)

    @cached_property
    def names(self) -> list[str]:
        """The vocabulary's terms by column."""
        return self.vocab.names()

    def rows(self, papers: Sequence[Paper]) -> Rows:
        """Papers (of other days) as rows in the day's vocabulary; each row made once."""
        missing = {paper_key(p): p for p in papers if paper_key(p) not in self.other_rows}
        keys = list(missing)
        for start in range(0, len(keys), ROWS_BATCH):
            part = keys[start : start + ROWS_BATCH]
            new = self.vocab.rows(
                doc_terms(*paper_words(missing[key]), self.title_weight) for key in part
            )
            for n, key in enumerate(part):
                lo, hi = new.indptr[n], new.indptr[n + 1]
                self.other_rows[key] = (new.indices[lo:hi].copy(), new.data[lo:hi].copy())
        picked = [self.other_rows[paper_key(p)] for p in papers]
        for p in papers:
            self.other_rows.move_to_end(paper_key(p))
        while len(self.other_rows) > ROWS_CACHE_SIZE:
            self.other_rows.popitem(last=False)
        lengths = [len(cols) for cols, _ in picked]
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        indices = np.concatenate([c for c, _ in picked]) if picked else np.zeros(0, np.int64)
        data = np.concatenate([v for _, v in picked]) if picked else np.zeros(0)
        return Rows(indptr, indices, data, self.vocab.n_cols)

    def similarity(self, papers: Sequence[Paper]) -> NDArray[np.float32]:
        """Cosines of the day's papers (rows) with `papers` (columns); a paper's column does
        not change with later votes, so each is computed once per day."""
        missing = list(
            {paper_key(p): p for p in papers if paper_key(p) not in self.similar}.values()
        )
        if missing:
            new = cross(self.papers, self.rows(missing)).astype(np.float32)
            for n, paper in enumerate(missing):
                self.similar[paper_key(paper)] = new[:, n]
        if not papers:
            return np.zeros((self.papers.n_rows, 0), dtype=np.float32)
        return np.stack([self.similar[paper_key(p)] for p in papers], axis=1)


_CORPORA: OrderedDict[str, DayCorpus] = OrderedDict()  # a cache keyed by content (hash)


def day_corpus(papers: Sequence[Paper], positives: Sequence[str], title_weight: int) -> DayCorpus:
    """Vectorise a day's papers and the positive texts, reusing the result for the same inputs."""
    digest = hashlib.sha256(str(title_weight).encode())
    for paper in papers:
        digest.update(f"\0{paper.id}\0{paper.title}\0{paper.abstract}".encode())
    for text in positives:
        digest.update(f"\1{text}".encode())
    key = digest.hexdigest()
    if key in _CORPORA:
        _CORPORA.move_to_end(key)
        return _CORPORA[key]
    split = [paper_words(p) for p in papers]
    docs = [doc_terms(t, a, title_weight) for t, a in split] + [terms(t) for t in positives]
    vocab, rows = Vocabulary.fit(docs)
    n = len(papers)
    corpus = DayCorpus(
        vocab,
        rows.take(range(n)),
        rows.take(range(n, len(docs))),
        [padded(t) for t, _ in split],
        [padded([*t, "|", *a]) for t, a in split],
        title_weight,
        key,
    )
    _CORPORA[key] = corpus
    while len(_CORPORA) > CORPUS_CACHE_SIZE:
        _CORPORA.popitem(last=False)
    return corpus
