"""The week in the group: the weekly post and its reading-group poll, through the web process
and the Slack stand-in; the pick named by the next digest; Block Kit's limits; poll choices in
export, import and forget."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from paperboy import blocks, pipeline
from paperboy.days import Batch, Context
from paperboy.leases import Busy
from paperboy.local import LocalScorer
from paperboy.models import Paper, Prior, Reader, Score, Vote, VoteValue
from paperboy.polls import WeekPost
from paperboy.slack import post_day, web_client
from paperboy.store import Store
from paperboy.week import (
    POLL_CHOOSE,
    Liked,
    Week,
    WeekSummary,
    is_week_post,
    week_blocks,
    with_poll_counts,
)
from paperboy.week_post import post_week
from tests.slackweb import CHANNEL, Web, eventually, home_text, settings_action
from tests.standins.slack_api import TOKEN, SlackStandIn, interaction, serve
from workers.weekly import post_weekly

FRIDAY = date(2025, 6, 6)
AFTER_POST = "2025-06-06T15:00:00+00:00"  # WEEKLY_CRON's default: Fridays at 14:00 UTC
VOTED = datetime(2025, 6, 3, 10, tzinfo=UTC)


def vote(store: Store, reader: str, paper: str, value: VoteValue, minute: int = 0) -> None:
    at = VOTED + timedelta(minutes=minute)
    store.append_vote(Vote(reader=reader, paper=paper, value=value, at=at, source="slack"))


def week_post(web: Web) -> dict[str, Any]:
    (post,) = [m for m in web.slack.top_level(CHANNEL) if is_week_post(m, Week(FRIDAY))]
    return post


def press(web: Web, user: str, ts: str, paper: str, week: str = FRIDAY.isoformat()) -> None:
    """A press on a poll's button of the posted week, as Slack posts it."""
    message = web.slack.message(CHANNEL, ts) or {}
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEAM"},
        "api_app_id": "A0PAPERBOY",
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEAM"},
        "container": {"type": "message", "message_ts": ts, "channel_id": CHANNEL},
        "channel": {"id": CHANNEL, "name": "papers"},
        "message": {k: v for k, v in message.items() if k != "metadata"},
        "response_url": "",
        "trigger_id": "1.2.3",
        "actions": [
            {
                "type": "button",
                "action_id": POLL_CHOOSE,
                "block_id": f"poll:{paper}",
                "value": f"{week}:{paper}",
                "action_ts": str(time.time()),
            }
        ],
    }
    assert web.post(interaction(payload)).status_code == 200


def shown_counts(web: Web, ts: str) -> dict[str, int]:
    """The counts the post's poll buttons show, by paper."""
    message = web.slack.message(CHANNEL, ts) or {}
    found = {}
    for block in message.get("blocks", []):
        accessory = block.get("accessory") or {}
        if accessory.get("action_id") == POLL_CHOOSE:
            count = re.search(r"· (\d+)$", accessory["text"]["text"])
            found[block["block_id"][len("poll:") :]] = int(count[1]) if count else 0
    return found


def test_the_week_is_posted_once_and_its_poll_counts_one_choice_per_member(web: Web) -> None:
    store = web.store
    p = [str(blocks.paper_of(reply)) for reply in web.replies]
    by_email = web.papers[10].id  # never posted in the thread
    for n, (reader, paper, value) in enumerate(
        [
            ("U1", p[0], 1), ("U2", p[0], 1), ("U3", p[0], 1),
            ("U1", p[1], 1), ("U2", p[1], 1), ("U3", p[1], -1),
            ("U1", p[2], 1), ("U4", p[2], 1),
            ("U2", p[3], 1),
            ("UPRIV", p[4], 1),
            ("U4", by_email, 1),
        ]
    ):  # fmt: skip
        vote(store, reader, paper, value, n)  # type: ignore[arg-type]
    # UPRIV keeps their votes to themselves, with the switch on Home
    private = settings_action(blocks.HOME_SHARE_TOGGLE, "UPRIV", "view", type="button")
    assert web.post(interaction(private)).status_code == 200
    assert store.reader("UPRIV") == Reader(id="UPRIV", share_votes=False)
    web.work()
    assert "kept to yourself" in home_text(web, "UPRIV")

    assert post_weekly(AFTER_POST).startswith("posted the week of 2025-06-06")
    assert "posted already" in post_weekly(AFTER_POST)
    post = week_post(web)  # one post, though the job ran twice
    assert blocks.problems(post["blocks"], post["text"]) == []
    listed = [b for b in post["blocks"] if b.get("block_id", "").startswith("poll:")]
    # 👍 minus 👎 from distinct readers, ties by the group score; the private reader's 👍 on
    # p[4] is in no count, so p[4] is not listed at all
    assert [b["block_id"][5:] for b in listed] == [p[0], p[2], p[1], p[3], by_email]
    assert "👍 3 · 👎 0" in listed[0]["text"]["text"]
    assert "👍 2 · 👎 1" in listed[2]["text"]["text"]
    assert f"archives/{CHANNEL}/p" in listed[0]["text"]["text"]  # its reply in the thread
    assert f"https://arxiv.org/abs/{by_email}|" in listed[4]["text"]["text"]  # email only
    assert "liked by" not in str(post["blocks"])  # names only with WEEKLY_SHOW_VOTERS

    ts = post["ts"]
    press(web, "U1", ts, p[0])
    assert eventually(lambda: shown_counts(web, ts)[p[0]] == 1)
    press(web, "U2", ts, p[0])
    assert eventually(lambda: shown_counts(web, ts)[p[0]] == 2)
    press(web, "U1", ts, p[2])  # changes U1's choice
    assert eventually(lambda: (shown_counts(web, ts)[p[0]], shown_counts(web, ts)[p[2]]) == (1, 1))
    press(web, "U2", ts, p[0])  # the same again: withdrawn
    assert eventually(lambda: shown_counts(web, ts) == {p[0]: 0, p[2]: 1, p[1]: 0, p[3]: 0,
                                                         by_email: 0})  # fmt: skip
    assert store.poll_choices(FRIDAY) == {"U1": p[2]}
    assert eventually(lambda: len(web.ephemerals("U1") + web.ephemerals("U2")) == 4)
    said = web.ephemerals("U1") + web.ephemerals("U2")
    assert sum("choice is “" in t for t in said) == 2
    assert sum("choice changed to “" in t for t in said) == 1
    assert sum("is withdrawn" in t for t in said) == 1
    update = web.slack.calls("chat.update")[-1]
    assert update["text"] and update["blocks"] and update["ts"] == ts
    press(web, "U3", ts, p[0], week="2025-05-30")  # a week without a poll: told, not counted
    assert eventually(lambda: any("no longer open" in t for t in web.ephemerals("U3")))
    assert store.poll_choices(FRIDAY) == {"U1": p[2]}

    # The next digest's parent names the pick; the one after it does not.
    ctx = Context(store=store, prior=Prior(), local=LocalScorer(Prior()))
    monday = Batch(date(2025, 6, 9), web.papers[20:30], ["feed"], [])
    order = [Score(paper=q.id, scorer="local", score=1.0) for q in monday.papers]
    digest = pipeline.digest(ctx, monday, order, size=3)
    assert digest.pick is not None and (digest.pick.paper, digest.pick.votes) == (p[2], 1)
    store.update_day(monday.day, digest=digest)
    posted = post_day(web_client(TOKEN, web.slack.url), store, CHANNEL, digest, spacing=0)
    parent = web.slack.message(CHANNEL, posted.parent) or {}
    title = blocks.escape(next(q.title for q in web.papers if q.id == p[2]))
    assert "Reading group" in str(parent["blocks"]) and title[:40] in str(parent["blocks"])
    tuesday = Batch(date(2025, 6, 10), web.papers[30:40], ["feed"], [])
    assert pipeline.digest(ctx, tuesday, order, size=3).pick is None


def _summary(n: int, voters: int, title: str) -> WeekSummary:
    liked = [
        Liked(
            Paper(id=f"2506.{k:05d}", title=f"{title} {k}"),
            voters,
            0,
            [f"U{v}" for v in range(voters)],
            1.0,
            f"https://example.slack.com/archives/{CHANNEL}/p1750000000{k:06d}",
        )
        for k in range(n)
    ]
    return WeekSummary(Week(FRIDAY), liked, voters, n)


def test_a_big_week_stays_within_block_kits_limits() -> None:
    summary = _summary(10, 50, "A <b>very</b> long & @channel title " * 12)
    names = {f"U{v}": f"Person number {v} with a rather long display name" for v in range(49)}
    found = week_blocks(summary, names, {p.paper.id: 50 for p in summary.liked})
    assert blocks.problems(found, "text") == []
    assert "and 42 more" in str(found) and "<b>" not in str(found)
    again = with_poll_counts(found, FRIDAY, {summary.liked[0].paper.id: 51})
    assert blocks.problems(again, "text") == []
    assert "📖 Discuss · 51" in str(again)
    few = week_blocks(_summary(2, 1, "Short"))  # fewer than three liked: no poll
    assert "📖" not in str(few) and "Reading group" not in str(few)


def test_names_crashes_and_a_quiet_week(store: Store) -> None:
    week = Week(FRIDAY)
    papers = [Paper(id=f"2506.{k:05d}", title=f"Paper {k}", day=date(2025, 6, 3)) for k in range(3)]
    store.save_papers(papers)
    store.update_day(date(2025, 6, 3), papers=[q.id for q in papers])
    now = datetime(2025, 6, 6, 15, tzinfo=UTC)
    state = SlackStandIn(users={"U1": {"name": "ada", "real_name": "Ada Lovelace"}})
    state.crash_on_post = 1  # the post lands, but the call fails: the job will run again
    with serve(state) as slack:
        client = web_client(TOKEN, slack.url, connection_retries=0)
        assert "no paper was liked" in post_week(client, store, CHANNEL, week, now, spacing=0)
        vote(store, "U1", papers[0].id, 1)
        vote(store, "U2", papers[0].id, 1, 1)  # Slack cannot name U2: counted, not named
        with pytest.raises(SlackApiError):
            post_week(client, store, CHANNEL, week, now, show_voters=True, spacing=0)
        said = post_week(client, store, CHANNEL, week, now, show_voters=True, spacing=0)
        assert said.startswith("posted")
        (post,) = [m for m in slack.top_level(CHANNEL) if is_week_post(m, week)]
        assert "liked by ada and 1 more" in str(post["blocks"])
        found = store.week_post(FRIDAY)
        assert found is not None and found.ts == post["ts"] and found.choices == []
        assert len(slack.calls("chat.postMessage")) == 1


def test_poll_choices_are_exported_imported_and_forgotten(store: Store) -> None:
    store.save_week_post(WeekPost(FRIDAY, CHANNEL, "1.2", ["2506.00001", "2506.00002"], {}, [], ""),
                         CHANNEL)  # fmt: skip
    assert store.choose(FRIDAY, "U1", "2506.00001").outcome == "ok"
    assert store.choose(FRIDAY, "U2", "2506.00002").outcome == "ok"
    assert store.choose(FRIDAY, "U2", "2506.00002").chosen == ""  # withdrawn
    assert store.choose(FRIDAY, "U2", "2506.99999").outcome == "no-choice"
    records = [r for r in store.export_with_papers() if r["type"] == "poll"]
    assert {(r["reader"], r["paper"]) for r in records} == {("U1", "2506.00001"), ("U2", None)}
    store.forget("U1")
    assert store.poll_choices(FRIDAY) == {}
    assert [r for r in store.export("U1") if r["type"] == "poll"] == []
    store.import_with_papers(records)
    assert store.poll_choices(FRIDAY) == {"U1": "2506.00001"}
    older = {**records[0], "paper": "2506.00002", "at": "2025-01-01T00:00:00+00:00"}
    store.import_with_papers([older])  # older than the standing choice: it does not stand
    assert store.poll_choices(FRIDAY) == {"U1": "2506.00001"}
    with pytest.raises(ValueError, match="poll record"):
        store.import_with_papers([{"type": "poll", "reader": "U1", "week": "soon"}])


def test_a_weekly_post_left_by_a_killed_worker_waits_for_its_lease(store: Store) -> None:
    """A lease left by a killed worker is never reported as the week posted: the job fails (RQ
    retries it), and once the lease has expired the retry posts the week, once."""
    week = Week(FRIDAY)
    papers = [Paper(id=f"2506.{k:05d}", title=f"Paper {k}", day=date(2025, 6, 3)) for k in range(3)]
    store.save_papers(papers)
    store.update_day(date(2025, 6, 3), papers=[q.id for q in papers])
    vote(store, "U1", papers[0].id, 1)
    now = datetime(2025, 6, 6, 15, tzinfo=UTC)
    dead = store.step_lease(FRIDAY, f"weekly:{CHANNEL}", 0.5)
    assert dead.acquire(blocking=False)  # its holder is killed: nobody renews or releases it
    with serve(SlackStandIn()) as slack:
        client = web_client(TOKEN, slack.url, connection_retries=0)
        with pytest.raises(Busy):
            post_week(client, store, CHANNEL, week, now, spacing=0, lock_seconds=0.5)
        assert slack.calls("chat.postMessage") == []
        time.sleep(0.6)
        said = post_week(client, store, CHANNEL, week, now, spacing=0, lock_seconds=0.5)
        assert said.startswith("posted")
        again = post_week(client, store, CHANNEL, week, now, spacing=0, lock_seconds=0.5)
        assert "posted already" in again
        assert len(slack.calls("chat.postMessage")) == 1
