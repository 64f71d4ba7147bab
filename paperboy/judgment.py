"""Claude's judgment of papers as data: the reply schema, parsing it, and turning it into Scores.

Pure functions only; `llm.py` makes the calls. A reply is untrusted: a 200 that is not a
message (a proxy's HTML page, JSON of another shape, no usage) is a ReplyError, ids that were not
asked for are ignored, scores are clamped to 1..10, a malformed item is dropped (and so re-asked).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from paperboy.authors import AuthorMatcher
from paperboy.costs import Usage
from paperboy.models import Paper, Score

LOWEST, HIGHEST = 1, 10
"""The range of relevance and novelty."""

RELEVANCE_THRESHOLD = 7
"""Claude relevance at or above which a judged paper is rated relevant: the group order's first
band, the papers digests are drawn from first, and the only ones Claude writes a reason for."""
DOUBT_THRESHOLD = 4
"""Claude relevance below which a judged paper is rated irrelevant: the group order's last band."""

NOT_JUDGED = "Claude did not judge this paper; local score"
"""The reason a candidate Claude was asked about, but did not judge, keeps its local score."""


class PaperJudgment(BaseModel):
    """Claude's verdict on one paper: the structured output, one item per paper."""

    id: str
    relevance: int
    novelty: int
    criterion: str
    reason: str


class Judgments(BaseModel):
    """The whole structured reply: one judgment per paper asked about."""

    papers: list[PaperJudgment]


class ReplyError(ValueError):
    """A reply that is not the message, or the JSON object, the request asks for."""


class _Block(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str = ""


class _CacheCreation(BaseModel):
    ephemeral_5m_input_tokens: int = Field(0, ge=0)
    ephemeral_1h_input_tokens: int = Field(0, ge=0)


class _Usage(BaseModel):
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    cache_creation_input_tokens: int | None = Field(None, ge=0)
    cache_read_input_tokens: int | None = Field(None, ge=0)
    cache_creation: _CacheCreation | None = None


class _Message(BaseModel):
    type: Literal["message"]
    content: list[_Block]
    stop_reason: str | None = None
    usage: Any = None


@dataclass(frozen=True)
class Reply:
    """A message as Paperboy reads it: its text, what it cost (None when it does not say), and
    why it stopped."""

    text: str
    usage: Usage | None
    stop_reason: str | None


def read_message(data: object) -> Reply:
    """A Messages API answer (its decoded JSON, or the client's object) as a Reply.

    Raises ReplyError when it is not a message: an HTML page a proxy answered with (the client
    hands it over as a string), JSON of another shape, content that is not a list of blocks.
    A message whose usage is missing or malformed has `usage` None: it cannot be priced.
    """
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json", warnings=False)
    if isinstance(data, str | bytes):
        start = data[:60].decode(errors="replace") if isinstance(data, bytes) else data[:60]
        raise ReplyError(f"the reply is not a message but text: {' '.join(start.split())!r}")
    try:
        message = _Message.model_validate(data)
    except ValidationError as exc:
        where = ".".join(map(str, exc.errors()[0]["loc"])) or "the reply"
        raise ReplyError(
            f"the reply is not a message ({where}: {exc.errors()[0]['msg']})"
        ) from None
    text = "".join(block.text for block in message.content if block.type == "text")
    return Reply(text, read_usage(message.usage), message.stop_reason)


def read_usage(data: object) -> Usage | None:
    """A reply's usage, with 5-minute and 1-hour cache writes apart; None if it is not usage."""
    try:
        usage = _Usage.model_validate(data)
    except ValidationError:
        return None
    written = usage.cache_creation_input_tokens or 0
    hour = usage.cache_creation.ephemeral_1h_input_tokens if usage.cache_creation else 0
    return Usage(
        input=usage.input_tokens,
        output=usage.output_tokens,
        cache_write=max(0, written - hour),
        cache_read=usage.cache_read_input_tokens or 0,
        cache_write_1h=hour,
    )


def read_count(data: object) -> int:
    """The token counter's answer; ReplyError when it is not one."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json", warnings=False)
    tokens = data.get("input_tokens") if isinstance(data, dict) else None
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
        raise ReplyError(f"the token count is not a count: {str(data)[:60]!r}")
    return tokens


def clamp(value: float) -> int:
    """A score forced into 1..10."""
    return int(min(HIGHEST, max(LOWEST, round(value))))


def parse_reply(text: str, asked: Iterable[str]) -> dict[str, PaperJudgment]:
    """The judgments in a reply for papers that were asked about, clamped; first answer wins.

    Raises ReplyError when the text is not a JSON object with a `papers` list.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplyError(f"the reply is not JSON ({exc.msg})") from None
    items = data.get("papers") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ReplyError('the reply has no "papers" list')
    wanted = set(asked)
    out: dict[str, PaperJudgment] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            raw = PaperJudgment.model_validate(
                {
                    **item,
                    "relevance": _number(item.get("relevance")),
                    "novelty": _number(item.get("novelty")),
                }
            )
        except (ValidationError, TypeError, ValueError):
            continue
        pid = raw.id.strip()
        if pid not in wanted or pid in out:
            continue
        out[pid] = raw.model_copy(
            update={
                "id": pid,
                "relevance": clamp(raw.relevance),
                "novelty": clamp(raw.novelty),
                "criterion": " ".join(raw.criterion.split())[:120],
                "reason": " ".join(raw.reason.split())[:400],
            }
        )
    return out


def _number(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError("not a number")
    return round(float(value))


def followed_ids(papers: list[Paper], local: dict[str, Score], authors: list[str]) -> set[str]:
    """Papers by followed authors: marked so by the local scorer, or matched here."""
    matcher = AuthorMatcher(authors)
    found = set()
    for paper in papers:
        reasons = local[paper.id].reasons if paper.id in local else []
        if any("followed author" in r for r in reasons) or matcher.followed_in(paper.authors):
            found.add(paper.id)
    return found


def candidates(
    papers: list[Paper], local: dict[str, Score], followed: set[str], max_papers: int | None = None
) -> list[Paper]:
    """Who goes to Claude, most promising first: every followed author's paper, then the rest
    by local score (all of them, or the best until `max_papers` are chosen)."""
    ranked = sorted(papers, key=lambda p: (-_local(local, p.id), p.id))
    first = [p for p in ranked if p.id in followed]
    rest = [p for p in ranked if p.id not in followed]
    if max_papers is None:
        return first + rest
    return first + rest[: max(0, max_papers - len(first))]


def _local(local: dict[str, Score], pid: str) -> float:
    return local[pid].score if pid in local else float("-inf")


def claude_score(judgment: PaperJudgment, local: Score | None) -> Score:
    """A judged paper's Score: score = relevance + novelty / 10, so that sorting by it agrees
    with the group order's rule (relevance, then novelty); Claude's reason comes first when it
    wrote one (it writes none for a paper it rates below RELEVANCE_THRESHOLD), then the local
    reasons."""
    kept = [r for r in (local.reasons if local else []) if r != NOT_JUDGED]
    mine = [judgment.reason] if judgment.reason else []
    return Score(
        paper=judgment.id,
        scorer="claude",
        score=judgment.relevance + judgment.novelty / 10,
        relevance=judgment.relevance,
        novelty=judgment.novelty,
        criterion=judgment.criterion or None,
        reasons=[*mine, *kept],
    )


def not_judged(local: Score, why: str = NOT_JUDGED) -> Score:
    """A candidate Claude did not judge: its local Score, marked as such."""
    return local.model_copy(update={"reasons": [*local.reasons, why]})
