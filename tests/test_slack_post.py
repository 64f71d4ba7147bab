"""Posting a day to Slack through the Web API stand-in: one thread, within limits, never twice."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from slack_sdk.errors import SlackApiError

from paperboy import blocks
from paperboy.models import Delivery, Digest, Paper, Ranked, Score
from paperboy.services import slack_channel
from paperboy.settings import Settings
from paperboy.slack import SlackDeliverer, post_day, web_client
from paperboy.store import Store
from tests.conftest import TEST_REDIS_URL, parsed
from tests.standins.slack_api import TOKEN, SlackStandIn, serve

CHANNEL = "C0PAPERS"
FEED = "cs.CL+cs.CV+cs.MM+cs.LG+cs.SI-2025-06-03.xml.gz"
NASTY = "Attention <!channel> & <@U123> is all you need"


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with serve() as state:
        yield state


@pytest.fixture
def papers(fixtures: Path) -> list[Paper]:
    return parsed(fixtures / "days" / FEED).papers


def day_digest(papers: list[Paper], n: int) -> Digest:
    chosen = papers[:n]
    chosen[0] = chosen[0].model_copy(update={"title": NASTY})
    entries = [
        Ranked(
            paper=p,
            score=Score(
                paper=p.id,
                scorer="local",
                score=1 - k / 100,
                reasons=[f"similar to your paper <{k}>"],
            ),
        )
        for k, p in enumerate(chosen)
    ]
    return Digest(day=date(2025, 6, 3), read=len(papers), entries=entries, scorer="local")


def poster(
    slack: SlackStandIn, store: Store, waits: list[float] | None = None, timeout: int = 10
) -> SlackDeliverer:
    """The channel, its waits recorded in `waits` instead of slept."""
    client = web_client(TOKEN, slack.url, connection_retries=0, timeout=timeout)
    recorded = waits if waits is not None else []
    return SlackDeliverer(client, store, CHANNEL, spacing=0, sleep=recorded.append)


def the_thread(slack: SlackStandIn) -> tuple[dict, list[dict]]:
    (parent,) = slack.top_level(CHANNEL)
    return parent, slack.replies(CHANNEL, parent["ts"])


def test_a_day_is_one_parent_and_one_reply_per_paper(
    slack: SlackStandIn, store: Store, papers: list[Paper]
) -> None:
    digest = day_digest(papers, 15)
    said = poster(slack, store).deliver(Delivery(digest=digest))
    assert "15 papers" in said
    parent, replies = the_thread(slack)
    assert "15 of" in parent["text"] and parent["metadata"]["event_type"] == blocks.DAY_EVENT
    assert [blocks.paper_of(r) for r in replies] == [e.paper.id for e in digest.entries]
    posts = slack.calls("chat.postMessage")
    assert len(posts) == 16
    for call in posts:
        assert call["unfurl_links"] is False and call["unfurl_media"] is False
        assert blocks.problems(call["blocks"], call["text"]) == []
    assert all(call["thread_ts"] == parent["ts"] for call in posts[1:])
    first = str(replies[0]["blocks"]) + replies[0]["text"]
    assert "<!channel>" not in first and "<@U123>" not in first and "&lt;!channel&gt;" in first
    record = store.day(digest.day)
    assert record is not None and record.slack is not None
    assert record.slack.parent == parent["ts"] and record.slack.picked == 15


def test_a_second_run_posts_nothing(slack: SlackStandIn, store: Store, papers: list[Paper]) -> None:
    digest = day_digest(papers, 5)
    poster(slack, store).deliver(Delivery(digest=digest))
    said = poster(slack, store).deliver(Delivery(digest=digest))
    assert "already posted" in said
    assert len(slack.calls("chat.postMessage")) == 6


def test_a_day_with_nothing_posts_nothing(slack: SlackStandIn, store: Store) -> None:
    empty = Digest(day=date(2025, 6, 7), read=0, entries=[], scorer="local")
    poster(slack, store).deliver(Delivery(digest=empty))
    assert slack.received == []


def assert_posted_once(slack: SlackStandIn, store: Store, digest: Digest) -> None:
    parent, replies = the_thread(slack)
    assert len(replies) == len(digest.entries)
    assert Counter(blocks.paper_of(r) for r in replies) == Counter(
        e.paper.id for e in digest.entries
    )
    assert all(r["thread_ts"] == parent["ts"] for r in replies)
    slots = store.slack_posts(CHANNEL, digest.day)
    assert {slots[e.paper.id] for e in digest.entries} == {r["ts"] for r in replies}


@pytest.mark.parametrize(
    ("mode", "crash_on"),
    [
        ("after", 1),  # the parent landed, its ts never came back
        ("after", 11),  # parent + 9 replies stored, the 10th landed unseen
        ("before", 12),  # the 11th's slot was marked, the post never reached Slack
        ("slow", 5),  # the 4th reply landed; its answer came after the client gave up
    ],
)
def test_a_post_slack_fails_is_looked_up_and_the_rest_posted_in_the_same_run(
    slack: SlackStandIn, store: Store, papers: list[Paper], mode: str, crash_on: int
) -> None:
    """A 5xx or no answer leaves a post's fate unknown: the run reads the thread again after a
    short wait and goes on, so a passing fault costs seconds, not a retry of the day's step."""
    digest = day_digest(papers, 30)
    slack.page_size = 7  # the thread is read over several pages
    slack.post_faults, slack.slow_seconds = {crash_on: mode}, 1.5  # past the client's 1 s
    waits: list[float] = []
    poster(slack, store, waits, timeout=1).deliver(Delivery(digest=digest))
    assert_posted_once(slack, store, digest)
    assert [w for w in waits if w] == [1.0]  # the pacing's turns wait 0 here


@pytest.mark.parametrize(("mode", "crash_on"), [("after", 12), ("before", 12)])
def test_slack_failing_on_and_on_fails_the_step_and_a_rerun_posts_the_rest(
    slack: SlackStandIn, store: Store, papers: list[Paper], mode: str, crash_on: int
) -> None:
    digest = day_digest(papers, 30)
    slack.page_size = 7
    # The post fails, and so does the first post of each attempt after it.
    slack.post_faults = {crash_on + n: mode for n in range(4)}
    waits: list[float] = []
    with pytest.raises(SlackApiError):
        poster(slack, store, waits).deliver(Delivery(digest=digest))
    assert [w for w in waits if w] == [1.0, 4.0, 16.0]
    slack.post_faults = {}
    poster(slack, store).deliver(Delivery(digest=digest))
    assert_posted_once(slack, store, digest)


@pytest.mark.parametrize(("pacing", "spaced"), [(1.0, 1.05), (2.0, 2.1), (0.0, 0.0)])
def test_posts_to_a_channel_are_paced_as_settings_say(
    slack: SlackStandIn, store: Store, papers: list[Paper], pacing: float, spaced: float
) -> None:
    waits: list[float] = []  # a clock that records the waits instead of sleeping them
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        slack_bot_token=TOKEN,
        slack_channel=CHANNEL,
        slack_api_url=slack.url,
        pacing=pacing,
    )
    deliverer = slack_channel(settings, store, sleep=waits.append)
    assert deliverer is not None
    deliverer.deliver(Delivery(digest=day_digest(papers, 3)))
    assert len(slack.calls("chat.postMessage")) == 4  # the parent and three replies
    assert waits == pytest.approx([0, spaced, 2 * spaced, 3 * spaced], abs=0.25)


def test_429s_are_waited_out_and_nothing_is_posted_twice(
    slack: SlackStandIn, store: Store, papers: list[Paper]
) -> None:
    slack.rate_limit_next = 2
    post_day(
        web_client(TOKEN, slack.url, connection_retries=0),
        store,
        CHANNEL,
        day_digest(papers, 3),
        spacing=0,
    )
    _parent, replies = the_thread(slack)
    assert slack.rate_limited == 2
    assert len(replies) == 3


def test_paperboy_run_posts_the_fixture_day_to_slack(
    slack: SlackStandIn, store: Store, fixtures: Path, tmp_path: Path
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "REDIS_URL": TEST_REDIS_URL,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_CHANNEL": CHANNEL,
        "SLACK_API_URL": slack.url,
        "DIGEST_SIZE": "12",
        "PACING": "0",
    }
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "paperboy"),
            "run",
            "--feed",
            str(fixtures / "days" / FEED),
            "--out",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    parent, replies = the_thread(slack)
    assert len(replies) == 12
    assert all(r["thread_ts"] == parent["ts"] for r in replies)
    for call in slack.calls("chat.postMessage"):
        assert blocks.problems(call["blocks"], call["text"]) == []
    assert len({blocks.paper_of(r) for r in replies}) == 12
    # not on a terminal: the paced posting is told in a few plain log lines
    told = [line for line in done.stderr.splitlines() if " INFO paperboy.progress: " in line]
    assert told == [
        f"{line.split(' INFO ')[0]} INFO paperboy.progress: posting to Slack {CHANNEL}: {n} of 12"
        for line, n in zip(told, (3, 6, 9, 12), strict=True)
    ]
