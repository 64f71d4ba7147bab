"""The week in the group: what the group liked most, its reading-group poll, and the pick.

Every week (WEEKLY_CRON, Fridays by default) the channel gets one post: the week's papers (the
papers of its announcement days) that the group liked most, by 👍 minus 👎 from distinct
readers (only those who share their votes), ties by the group score, each linked to its thread
(or to arXiv when it was voted on from email only). Under them, a poll on the first few: which
one shall the reading group discuss? One choice per member; the next digest's parent message
names the pick. The week is named by its last day, the day the post goes out.

Pure apart from `gather_week` and `pick_for`, which read the store; Block Kit builders return
plain dicts that `paperboy.blocks.problems` checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from paperboy.blocks import (
    Block,
    button,
    clip,
    context,
    escape,
    one_line,
    plain,
    problems,
    section,
)
from paperboy.group import Group
from paperboy.models import Paper, ReadingPick
from paperboy.schedule import last_scheduled
from paperboy.store import Store

WEEK_DAYS = 7
"""A week's post reports the announcement days of the seven days up to its own."""
LISTED = 10
"""How many of the week's most liked papers the post lists."""
POLL_SIZE = 5
"""The poll offers the post's first this many papers..."""
POLL_MIN = 3
"""...and is held only when at least this many were liked."""
NAMES = 8
"""Voters named per paper (when WEEKLY_SHOW_VOTERS is on); the rest are counted."""
TITLE_CHARS = 200
"""A title in the post is cut to this many characters."""

WEEK_EVENT = "paperboy_week"
POLL_CHOOSE = "poll_choose"
POLL_BLOCK = "poll:"


@dataclass(frozen=True)
class Week:
    """The seven days up to `end`, the day its post goes out (the week's name)."""

    end: date

    @property
    def start(self) -> date:
        return self.end - timedelta(days=WEEK_DAYS - 1)

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end

    @property
    def label(self) -> str:
        """'Sat 31 May to Fri 06 Jun'."""
        return f"{self.start:%a %d %b} to {self.end:%a %d %b}"


def week_of(weekly_cron: str, now: datetime) -> Week:
    """The week WEEKLY_CRON's latest time at or before `now` closes: a run that comes late (a
    retry, a second clock) reports the same week."""
    return Week(last_scheduled(weekly_cron, now).date())


@dataclass
class Liked:
    """One of the week's papers, with the group's standing votes on it."""

    paper: Paper
    up: int
    down: int
    voters: list[str]  # who voted 👍, earliest first
    group_score: float
    link: str = ""  # its thread's reply (a permalink), or arXiv

    @property
    def net(self) -> int:
        return self.up - self.down


@dataclass
class WeekSummary:
    """What the week's post says: the most liked papers, best first, and how many took part."""

    week: Week
    liked: list[Liked]
    voters: int  # distinct readers who voted on the week's papers
    voted: int  # the week's papers with a vote

    @property
    def poll(self) -> list[Liked]:
        """The papers the poll offers: the first few, when enough were liked."""
        return self.liked[:POLL_SIZE] if len(self.liked) >= POLL_MIN else []


def most_liked(
    week: Week, papers: Mapping[str, Paper], scores: Mapping[str, float], group: Group
) -> WeekSummary:
    """The week's papers (`scores`: each one's group score) the group liked most: 👍 minus 👎
    from distinct readers, above nothing, ties by the group score, then the id."""
    counts = group.counts(scores)
    ranked = sorted(
        (pid for pid, found in counts.items() if found.up > found.down and pid in papers),
        key=lambda pid: (counts[pid].down - counts[pid].up, -scores[pid], pid),
    )[:LISTED]
    liked = [
        Liked(
            papers[pid],
            counts[pid].up,
            counts[pid].down,
            [who for who, value in group.voters(pid) if value > 0],
            scores[pid],
        )
        for pid in ranked
    ]
    voters = sum(1 for theirs in group.votes.values() if theirs.keys() & counts.keys())
    return WeekSummary(week, liked, voters, len(counts))


def gather_week(store: Store, week: Week, group: Group) -> WeekSummary:
    """The week's summary from the store: the papers of its days, their group scores, the
    group's votes on them."""
    scores: dict[str, float] = {}
    for day in store.days():
        if day in week:
            record = store.day(day, "papers", "order")
            if record and record.order:
                scores.update((s.paper, s.score) for s in record.order)
            elif record and record.papers:  # fetched but never scored
                scores.update(dict.fromkeys(record.papers, 0.0))
    voted = [pid for pid, found in group.counts(scores).items() if found.up > found.down]
    return most_liked(week, store.papers(voted), scores, group)


def pick_for(store: Store, day: date) -> ReadingPick | None:
    """The reading group's pick for the digest of `day` to name: the leading choice (ties by
    the post's order) of the latest poll before `day`, when no digest came out in between."""
    weeks = [w for w in store.poll_weeks() if w < day]
    if not weeks:
        return None
    week = weeks[-1]
    for between in store.days():
        if week < between < day:
            record = store.day(between, "digest")
            if record and record.digest and record.digest.entries:
                return None  # that digest named it
    post = store.week_post(week)
    counts = store.poll_counts(week)
    if post is None or not counts:
        return None
    order = {paper: n for n, paper in enumerate(post.choices)}
    best = min(counts, key=lambda p: (-counts[p], order.get(p, len(order)), p))
    return ReadingPick(
        week=week,
        paper=best,
        title=post.titles.get(best, best),
        votes=counts[best],
        voters=sum(counts.values()),
    )


# the post, as Slack blocks ---------------------------------------------------------------


def week_text(summary: WeekSummary) -> str:
    """The post's fallback text: what the week was, and its most liked paper."""
    head = f"The week in the group, {summary.week.label}"
    if not summary.liked:
        return escape(head + ": no paper got more 👍 than 👎.")
    best = summary.liked[0]
    return clip(escape(f"{head}: most liked, “{one_line(best.paper.title)}” (👍 {best.up})"), 3000)


def _names(voters: Sequence[str], names: Mapping[str, str]) -> str:
    known = [names[v] for v in voters if v in names]
    if not known:
        return ""
    shown = ", ".join(escape(one_line(n)) for n in known[:NAMES])
    more = len(voters) - len(known[:NAMES])
    return f"liked by {shown}" + (f" and {more} more" if more else "")


def poll_button(week: date, paper: str, count: int) -> dict[str, Any]:
    """A poll's choice: its count on it, the week and the paper in its value."""
    text = f"📖 Discuss · {count}" if count else "📖 Discuss"
    return button(text, POLL_CHOOSE, f"{week.isoformat()}:{paper}")


def week_blocks(
    summary: WeekSummary,
    names: Mapping[str, str] | None = None,
    counts: Mapping[str, int] | None = None,
) -> list[Block]:
    """The week's post: a heading, the most liked papers (each linked, with its 👍 and 👎 and,
    given `names`, who liked it), the poll's buttons beside its papers, and how to vote."""
    counts = counts or {}
    week = summary.week
    blocks: list[Block] = [{"type": "header", "text": plain("The week in the group", 150)}]
    if not summary.liked:
        blocks.append(section(f"*{week.label}*\nNo paper of the week got more 👍 than 👎."))
        return blocks
    people = "reader" if summary.voters == 1 else "readers"
    blocks.append(
        section(
            f"*{week.label}*: {summary.voters} {people} voted on {summary.voted} of the week's "
            "papers. The most liked:"
        )
    )
    polled = {item.paper.id for item in summary.poll}
    for n, item in enumerate(summary.liked, 1):
        title = clip(escape(one_line(item.paper.title)), TITLE_CHARS)
        line = f"*{n}.* <{item.link or item.paper.url}|{title}>\n👍 {item.up} · 👎 {item.down}"
        if said := _names(item.voters, names or {}):
            line += f" · {said}"
        block = section(line, block_id=f"{POLL_BLOCK}{item.paper.id}"[:255])
        if item.paper.id in polled:
            block["accessory"] = poll_button(week.end, item.paper.id, counts.get(item.paper.id, 0))
        blocks.append(block)
    if polled:
        blocks.append(
            context(
                "*Reading group:* which one shall we discuss? Press 📖 on one: one choice each, "
                "press another to change it, the same again to withdraw. The next digest names "
                "the pick."
            )
        )
    # Within Slack's limits whatever the titles and names: the list loses papers from its end.
    while problems(blocks, "text") and len(blocks) > 3:
        blocks.pop(-2 if polled else -1)
    return blocks


def with_poll_counts(blocks: Sequence[Block], week: date, counts: Mapping[str, int]) -> list[Block]:
    """The post's blocks with each poll button showing its current count."""
    out = []
    for block in blocks:
        accessory = block.get("accessory") or {}
        if accessory.get("action_id") == POLL_CHOOSE:
            paper = str(block.get("block_id", ""))[len(POLL_BLOCK) :]
            block = {**block, "accessory": poll_button(week, paper, counts.get(paper, 0))}
        out.append(block)
    return out


def poll_papers(blocks: Sequence[Block]) -> list[str]:
    """The papers a posted week offers in its poll, in its order."""
    return [
        str(b.get("block_id", ""))[len(POLL_BLOCK) :]
        for b in blocks
        if (b.get("accessory") or {}).get("action_id") == POLL_CHOOSE
    ]


def week_metadata(week: Week) -> dict[str, Any]:
    """Metadata naming the week of a post, so that a re-run can find what it posted."""
    return {"event_type": WEEK_EVENT, "event_payload": {"week": week.end.isoformat()}}


def is_week_post(message: dict[str, Any], week: Week) -> bool:
    meta = message.get("metadata") or {}
    return (
        meta.get("event_type") == WEEK_EVENT
        and (meta.get("event_payload") or {}).get("week") == week.end.isoformat()
    )
