"""The group: what colleagues' votes say, as far as each reader shares theirs.

Everything colleagues see of a reader's votes is read through a `Group`: the week's post (what
the group liked, and who), "Liked by N in your group" on a reader's own digest and in `rank
--user --json`, and the colleague signal in a reader's refit model (`paperboy.reader`). A
reader who keeps their votes to themselves (Home; `Reader.share_votes`) is in none of them;
their tallies on a paper's Slack reply stay, as Slack shows the channel those anyway.

A group is read as it stood at one moment (`until`, when a digest is made): a vote cast after
it is not counted. The store keeps each reader's standing vote and its time, not the one it
replaced, so a vote changed after that moment counts as none when a day is ranked again.

A colleague's votes teach a reader's model by how much better than a coin they agree with the
reader's own (`paperboy.colleagues.trust`, worked out there over arrays for the ranking
processes); a colleague whose votes the reader has not voted on yet (nothing shared to compare)
teaches nothing, colleagues together never count more than the reader's own vote would, and a
reader with no votes of their own and none from colleagues gets exactly the group order. Pure,
apart from `read_group`; without numpy, for the web process's poll.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from paperboy.models import GroupVotes, Paper, Reader
from paperboy.store import Store
from paperboy.vote_log import micros

WEEK = timedelta(days=7)
"""Colleagues' votes teach a reader's model for a week after they are cast: the week the
weekly post reports, and a bound on the rows a reader's refit takes on."""

Standing = dict[str, tuple[int, int]]
"""One reader's standing votes: paper -> (+1 or -1, microseconds since the epoch it was cast)."""


@dataclass
class Group:
    """Every sharing reader's standing votes as they stood at `until`, and the papers voted on
    in the week before it (the ones that can teach a colleague's model)."""

    votes: dict[str, Standing]
    until: datetime
    papers: dict[str, Paper] = field(default_factory=dict)

    def counts(self, papers: Iterable[str], reader: str | None = None) -> dict[str, GroupVotes]:
        """Colleagues' 👍 and 👎 on each of `papers` (the reader's own left out); papers no
        colleague voted on are absent."""
        wanted = set(papers)
        out: dict[str, GroupVotes] = {}
        for who, theirs in self.votes.items():
            if who == reader:
                continue
            for paper in wanted & theirs.keys():
                found = out.setdefault(paper, GroupVotes())
                if theirs[paper][0] > 0:
                    found.up += 1
                else:
                    found.down += 1
        return out

    def voters(self, paper: str) -> list[tuple[str, int]]:
        """(reader, vote) of everyone whose vote on `paper` stands, earliest first."""
        found = sorted(
            (theirs[paper][1], who, theirs[paper][0])
            for who, theirs in self.votes.items()
            if paper in theirs
        )
        return [(who, value) for _, who, value in found]


def sharing(readers: Iterable[Reader], ids: Iterable[str]) -> list[str]:
    """The readers among `ids` who share their votes with the group (everyone, unless their
    settings say otherwise)."""
    private = {r.id for r in readers if not r.share_votes}
    return [rid for rid in ids if rid not in private]


def read_group(store: Store, until: datetime, *, with_papers: bool = True) -> Group:
    """The sharing readers' standing votes as they stood at `until`; with `with_papers`, the
    papers voted on in the week before it, for the readers' models."""
    ids = sharing(store.readers(), store.reader_ids())
    cutoff = micros(until)
    votes = {
        rid: {paper: vote for paper, vote in standing.items() if vote[1] <= cutoff}
        for rid, standing in store.standings(ids).items()
    }
    group = Group({rid: found for rid, found in votes.items() if found}, until)
    if with_papers:
        since = micros(until - WEEK)
        recent = {p for found in group.votes.values() for p, (_, t) in found.items() if t >= since}
        group.papers = store.papers(sorted(recent))
    return group
