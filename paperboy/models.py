"""The domain's data: papers, scores, votes, readers and the day's digest."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, field_serializer


def utc_now() -> datetime:
    """The time now, in UTC: the default clock wherever one can be passed in."""
    return datetime.now(UTC)


VoteValue = Literal[1, -1, 0]
Cadence = Literal["daily", "weekly"]
VoteSource = Literal["slack", "email", "cli"]


class Paper(BaseModel):
    """One arXiv paper as announced, keyed by its id without version."""

    id: str
    version: int = 1
    title: str
    abstract: str = ""
    authors: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    announce_type: str = "new"
    day: date | None = None

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def text(self) -> str:
        """The text the scorers read: title and abstract."""
        return f"{self.title}. {self.abstract}"


class SeedPaper(BaseModel):
    """A paper a reader or the group names as representative of their interests."""

    title: str = ""
    abstract: str = ""
    id: str | None = None


class Prior(BaseModel):
    """What the group wants before any vote: criteria text, seed papers, followed authors."""

    criteria: str = ""
    seeds: list[SeedPaper] = Field(default_factory=list)
    authors: list[str] = Field(default_factory=list)
    source: str = ""


class Score(BaseModel):
    """A scorer's judgment of one paper; higher `score` is better."""

    paper: str
    scorer: str
    score: float
    relevance: int | None = None
    novelty: int | None = None
    criterion: str | None = None
    reasons: list[str] = Field(default_factory=list)


class GroupVotes(BaseModel):
    """Colleagues' standing votes on a paper when a reader's digest was made (only the votes of
    colleagues who share theirs with the group)."""

    up: int = 0
    down: int = 0


class Ranked(BaseModel):
    """A paper in a ranking, with the score that placed it there."""

    paper: Paper
    score: Score
    group: GroupVotes | None = None  # on a reader's own digest: what their colleagues voted


class Vote(BaseModel):
    """One event of the vote log: +1, -1, or 0 to undo. Never rewritten."""

    reader: str
    paper: str
    value: VoteValue
    at: AwareDatetime  # votes are ordered by time: one without its zone cannot be placed
    source: VoteSource = "cli"


class Reader(BaseModel):
    """Someone who reads the digest, identified by their Slack user id."""

    id: str
    email: str | None = None
    """The address digests go to: set by an admin, or confirmed by its owner's link."""
    pending_email: str | None = None
    """An address set on Home, waiting for its confirmation link; nothing goes to it before."""
    email_enabled: bool = False
    digest_size: int | None = None
    seed_papers: list[SeedPaper] = Field(default_factory=list)
    authors: list[str] = Field(default_factory=list)
    cadence: Cadence = "daily"
    """Daily: each announcement day's digest; weekly: their own best of the week."""
    hour: int | None = Field(default=None, ge=0, le=23)
    """The hour their email comes, in their time zone; None: with the group's digest."""
    tz: str | None = None
    """Their time zone as they set it (`paperboy subscribe --tz`), an IANA name."""
    slack_tz: str | None = None
    """Their time zone as Slack knows it (users.info), used when they set none."""
    share_votes: bool = True  # False: their votes are in no count, name or signal colleagues see


class ReadingPick(BaseModel):
    """The paper a week's reading-group poll picked, as the next digest names it."""

    week: date
    paper: str
    title: str
    votes: int
    voters: int

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.paper}"


class Digest(BaseModel):
    """What one day delivers: the group's ranked pick and how it was made."""

    day: date
    read: int
    entries: list[Ranked]
    scorer: str
    cost_usd: float = 0.0
    feeds: list[str] = Field(default_factory=list)
    """The categories read (cs.LG, cs.AI)."""
    judged: int = 0
    """Papers of the day Claude judged."""
    budget_usd: float | None = None
    """The day's Claude budget, when Claude judged."""
    ran_out: int = 0
    """Papers that kept their local score because the budget ran out."""
    missing_feeds: list[str] = Field(default_factory=list)
    """The categories whose feed could not be read, or was still stale after its last look."""
    notes: list[str] = Field(default_factory=list)
    since: date | None = None
    """The first day of a digest over several days (a reader's week, which ends on `day`)."""
    pick: ReadingPick | None = None  # the last week's reading-group pick, on the next digest


class WeightyVote(BaseModel):
    """A vote that weighs in a reader's model, and how it was cast."""

    paper: str
    title: str
    vote: int


class Explanation(BaseModel):
    """What a reader's profile has learned, against the latest day: the terms their votes
    favour and disfavour, the votes that weigh most, their own top papers of that day (each
    with why), and the papers their model is least sure about (a vote on them teaches most)."""

    terms_up: list[str] = Field(default_factory=list)
    terms_down: list[str] = Field(default_factory=list)
    weighty: list[WeightyVote] = Field(default_factory=list)
    day: date | None = None
    top: list[Ranked] = Field(default_factory=list)
    unsure: list[Paper] = Field(default_factory=list)


class ReaderDigest(BaseModel):
    """One reader's own digest of a day: their top papers, each with why."""

    reader: Reader
    entries: list[Ranked]


class Delivery(BaseModel):
    """What a day hands its channels: the group's digest, and the readers' own digests that
    the channels asked for."""

    digest: Digest
    readers: list[ReaderDigest] = Field(default_factory=list)


class ProfileVote(BaseModel):
    """A standing vote, as a profile lists it."""

    paper: str
    value: int
    at: datetime
    source: VoteSource

    @field_serializer("at")
    def _iso(self, at: datetime) -> str:
        return at.isoformat()  # as `paperboy profile --json` has always printed it


class Terms(BaseModel):
    up: list[str] = Field(default_factory=list)
    down: list[str] = Field(default_factory=list)


class Suggestion(BaseModel):
    """A paper to vote on to help a reader's model learn."""

    paper: str
    title: str
    authors: list[str]
    url: str


class Profile(BaseModel):
    """A reader's profile as `paperboy profile --json` prints it: settings, standing votes,
    seeds and authors, and what their model has learned (see Explanation)."""

    user: str
    email: str | None
    email_enabled: bool
    digest_size: int | None
    cadence: Cadence = "daily"
    hour: int | None = None
    tz: str | None = None
    share_votes: bool
    votes: list[ProfileVote]
    events: int
    seed_papers: list[SeedPaper]
    authors: list[str]
    terms: Terms
    weighty_papers: list[WeightyVote]
    day: date | None = None
    suggest: list[Suggestion] | None = None


class SlackThread(BaseModel):
    """Where a day's digest was posted in Slack, and what it said."""

    channel: str
    parent: str
    picked: int
    read: int
    cost_usd: float = 0.0


class DayRecord(BaseModel):
    """What the store keeps about one announcement day; a field is None until its step ran.

    Each field is written whole by the step that owns it (fetch: papers, feeds, missing,
    repeats; score: order; deliver: digest, slack), so steps never overwrite each other's.
    """

    day: date
    papers: list[str] | None = None
    feeds: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    repeats: list[str] = Field(default_factory=list)
    order: list[Score] | None = None
    digest: Digest | None = None
    slack: SlackThread | None = None


DAY_FIELDS = frozenset(DayRecord.model_fields) - {"day"}
