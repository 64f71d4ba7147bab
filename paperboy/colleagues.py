"""What colleagues' votes teach a reader's model, worked out over arrays.

A group's standing votes become two sparse matrices, one row per sharing reader and one column
per paper voted on: every vote (+1 or -1), which says how far each colleague is trusted, and the
week's votes on papers the models can read, which are the evidence. A reader's evidence is then
two products: their votes against every colleague's (`trust`), and the trusted colleagues' week
summed per paper. Built once per day's digests, before the ranking workers fork: the workers
read the arrays without writing to them, so they share one copy, where walking a dict of every
vote would copy it into each of them.

The rule itself is `paperboy.group`'s: a colleague weighs how much better than a coin they agree
with the reader, and colleagues together never count more than the reader's own vote would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from paperboy.group import WEEK, Group
from paperboy.vectors import Rows, Vector, row_sums
from paperboy.vote_log import micros


def trust(net: Vector, shared: Vector) -> Vector:
    """How far each colleague's vote predicts the reader's, from their agreements minus
    disagreements (`net`) over the papers both voted on (`shared`): net / (shared + 2), and
    never below nothing.

    That is 2a - 1 for their agreement rate a with Laplace's rule of succession ((agreements
    + 1) / (shared + 2), a coin's 1/2 before anything is shared): 1 for a colleague who has
    always agreed, 0 for one who agrees as often as a coin would, or less."""
    return np.maximum(0.0, net / (shared + 2))


@dataclass(frozen=True)
class Colleagues:
    """A group's votes as arrays, for the readers' models (see the module's docstring)."""

    group: Group
    rows: dict[str, int]  # reader -> row
    columns: dict[str, int]  # paper -> column
    papers: list[str]  # column -> paper
    votes: Rows  # every standing vote
    recent: Rows  # the week's votes on papers in `group.papers`: the evidence

    @classmethod
    def of(cls, group: Group) -> Colleagues:
        since = micros(group.until - WEEK)
        columns: dict[str, int] = {}
        every: tuple[list[int], list[int], list[int]] = ([0], [], [])  # indptr, columns, votes
        week: tuple[list[int], list[int], list[int]] = ([0], [], [])
        for theirs in group.votes.values():
            for paper, (value, at) in theirs.items():
                column = columns.setdefault(paper, len(columns))
                every[1].append(column)
                every[2].append(value)
                if at >= since and paper in group.papers:
                    week[1].append(column)
                    week[2].append(value)
            every[0].append(len(every[1]))
            week[0].append(len(week[1]))
        return cls(
            group,
            {who: n for n, who in enumerate(group.votes)},
            columns,
            list(columns),
            _rows(*every, len(columns)),
            _rows(*week, len(columns)),
        )

    def trusted(self, reader: str, mine: Mapping[str, int]) -> dict[str, float]:
        """How far the reader trusts each colleague (see `trust`); the reader themselves, 0."""
        return dict(zip(self.rows, self._weights(reader, self._own(mine)).tolist(), strict=True))

    def evidence(self, reader: str, mine: Mapping[str, int]) -> dict[str, float]:
        """What colleagues' votes of the week say about papers the reader has not voted on:
        each colleague's vote weighs their `trust`, and the sum on a paper is held within one
        vote either way. Positive: evidence for 👍. Papers with no evidence are absent."""
        own = self._own(mine)
        found = self.recent.tdot(self._weights(reader, own))
        found[np.flatnonzero(own)] = 0.0  # the papers the reader voted on are theirs to say
        return {self.papers[c]: float(np.clip(found[c], -1.0, 1.0)) for c in np.flatnonzero(found)}

    def _own(self, mine: Mapping[str, int]) -> Vector:
        """The reader's votes over the columns (0 where they did not vote)."""
        own = np.zeros(len(self.papers))
        for paper, value in mine.items():
            if paper in self.columns:
                own[self.columns[paper]] = value
        return own

    def _weights(self, reader: str, own: Vector) -> Vector:
        net = self.votes.dot(own)  # agreements minus disagreements, colleague by colleague
        shared = row_sums(self.votes.indptr, np.abs(own)[self.votes.indices])
        weight = trust(net, shared)
        if reader in self.rows:
            weight[self.rows[reader]] = 0.0  # a reader's own votes are not evidence
        return weight


def _rows(indptr: list[int], columns: list[int], votes: list[int], n_cols: int) -> Rows:
    return Rows(
        np.array(indptr, dtype=np.int64),
        np.array(columns, dtype=np.int64),
        np.array(votes, dtype=np.float64),
        n_cols,
    )
