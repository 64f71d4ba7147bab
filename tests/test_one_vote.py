"""One press, one vote; nothing done for a request that fails verification.

Through the running web app, signed (or not) as Slack signs, against the Slack stand-in.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rq import Queue

from paperboy import blocks
from paperboy.days import Context
from paperboy.local import LocalScorer
from paperboy.models import Paper, Prior, Vote
from paperboy.readers import profile, rank_for
from paperboy.store import Store
from tests.slackweb import CHANNEL, SECRET, Web, event, home_text
from tests.standins.slack_api import click, interaction, signed
from tests.standins.web import HTTP
from workers.queues import INTERACTIVE


def press(web: Web, user: str, reply: dict[str, Any], action_ts: str) -> dict[str, Any]:
    """The payload of one press of 👍 on a reply, at `action_ts`."""
    payload = click(user, blocks.VOTE_UP, reply, CHANNEL)
    payload["actions"][0]["action_ts"] = action_ts
    return payload


def at_once(web: Web, *payloads: dict[str, Any]) -> list[int]:
    """Post the payloads from as many threads, released together; their HTTP statuses."""
    statuses: list[int] = [0] * len(payloads)
    gate = threading.Barrier(len(payloads))

    def post(n: int) -> None:
        body = interaction(payloads[n])
        headers = signed(SECRET, body)
        gate.wait()
        statuses[n] = web.post(body, headers).status_code

    threads = [threading.Thread(target=post, args=(n,)) for n in range(len(payloads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_two_presses_arriving_together_are_a_vote_and_its_undo(web: Web) -> None:
    reply = web.replies[0]
    paper = blocks.paper_of(reply)
    assert paper
    for n in range(40):
        user = f"UDOUBLE{n}"
        now = time.time()
        statuses = at_once(
            web,
            press(web, user, reply, f"{now:.6f}"),
            press(web, user, reply, f"{now + 0.001:.6f}"),
        )
        assert statuses == [200, 200]
        assert web.store.current_vote(user, paper) == 0, f"pair {n} left a 👍 standing"
        assert [v.value for v in web.store.votes(user)] == [1, 0]


def test_an_identical_click_delivered_twice_counts_once(web: Web) -> None:
    reply = web.replies[1]
    paper = blocks.paper_of(reply)
    same = press(web, "UAGAIN", reply, "1750000000.000001")
    assert at_once(web, same, same) == [200, 200]
    assert [v.value for v in web.store.votes("UAGAIN")] == [1]
    assert web.store.current_vote("UAGAIN", str(paper)) == 1


def test_a_home_opened_event_delivered_again_is_served_once(web: Web) -> None:
    body = event("app_home_opened", "U1", event_id="Ev0HOME4TIMES")
    for retry in range(4):  # Slack retries an event it got no timely answer for, same event_id
        headers = {**signed(SECRET, body, content_type="application/json")}
        if retry:
            headers["X-Slack-Retry-Num"] = str(retry)
        assert web.post(body, headers).status_code == 200
        web.work(wait=retry == 0)  # the worker serves each delivery as it comes
    assert len([c for c in web.slack.calls("views.publish") if c["user_id"] == "U1"]) == 1


MALFORMED_STAMPS = ["abc", "", "1e9", "-1", "17500000000000000000000", "1750000000.5", "0x68"]


def test_a_malformed_signature_header_is_refused_and_nothing_is_done(web: Web) -> None:
    payload = click("UVICTIM", blocks.VOTE_UP, web.replies[0], CHANNEL)
    body = interaction(payload)
    home = event("app_home_opened", "UVICTIM")
    before = len(web.slack.received)
    for stamp in MALFORMED_STAMPS:
        headers = {**signed(SECRET, body), "X-Slack-Request-Timestamp": stamp}
        assert web.post(body, headers).status_code == 401, stamp
        home_headers = {
            **signed(SECRET, home, content_type="application/json"),
            "X-Slack-Request-Timestamp": stamp,
        }
        assert web.post(home, home_headers).status_code == 401, stamp
    time.sleep(0.3)  # what a background task would have done by now
    assert web.store.votes("UVICTIM") == []
    assert web.slack.received[before:] == []  # no ephemeral, no Home, nothing
    assert Queue(INTERACTIVE, connection=web.store.redis).count == 0


@pytest.mark.parametrize(
    "body",
    [
        "payload=%5B1%2C2%5D",  # a JSON list
        "payload=%22text%22",  # a JSON string
        "payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%5B%5D%7D",  # user a list
    ],
)
def test_a_signed_but_malformed_payload_is_a_400(web: Web, body: str) -> None:
    assert web.post(body).status_code == 400


def test_a_signed_event_body_that_is_not_an_object_is_a_400(web: Web) -> None:
    body = "[1, 2, 3]"
    assert web.post(body, signed(SECRET, body, content_type="application/json")).status_code == 400


def test_a_body_over_a_megabyte_is_refused(web: Web) -> None:
    body = "payload=" + "x" * (1024 * 1024 + 10)
    answer = HTTP.post(
        web.url + "/slack/events", content=body, headers=signed(SECRET, body), timeout=10
    )
    assert answer.status_code == 413


def test_a_vote_is_recorded_while_slacks_api_cannot_be_reached(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Right after a restart the app has never spoken to Slack; Slack's API is down: a click
    is still recorded and acknowledged."""
    from bot.app import create_app
    from paperboy.settings import Settings
    from paperboy.slack import web_client
    from tests.standins.web import serve_wsgi

    settings = Settings(_env_file=None)
    down = web_client(str(settings.slack_bot_token.get_secret_value()), "http://127.0.0.1:9/api/")  # type: ignore[union-attr]
    app = create_app(settings, web.store, down)
    with serve_wsgi(app) as url:
        body = interaction(click("UDOWN", blocks.VOTE_UP, web.replies[2], CHANNEL))
        answer = HTTP.post(url + "/slack/events", content=body, headers=signed(SECRET, body))
    assert answer.status_code == 200
    assert [v.value for v in web.store.votes("UDOWN")] == [1]


def test_an_older_backup_never_overrides_newer_votes(store: Store, papers: list[Paper]) -> None:
    """Import a backup taken before the reader changed their mind: the newest event stands,
    the same in the tally, the store, the profile and the ranking."""
    store.save_papers(papers[:3])
    early = datetime(2025, 6, 3, 9, tzinfo=UTC)
    first, second = papers[0].id, papers[1].id
    store.append_vote(Vote(reader="U1", paper=first, value=1, at=early, source="slack"))
    backup = [dict(r) for r in store.export("U1")]
    store.forget("U1")  # a store that lost the older event, and then saw newer ones
    later = early + timedelta(hours=1)
    store.append_vote(Vote(reader="U1", paper=first, value=-1, at=later, source="slack"))
    store.append_vote(Vote(reader="U1", paper=second, value=1, at=later, source="email"))
    assert store.import_records(json.loads(json.dumps(backup))) == (0, 1)
    assert store.current_vote("U1", first) == -1
    assert store.tally(first) == (0, 1)
    assert {v.paper: v.value for v in profile(store, "U1", None).votes} == {first: -1, second: 1}
    ctx = Context(store=store, prior=Prior(), local=LocalScorer(Prior()))
    from paperboy.days import Batch

    order = rank_for(ctx, "U1", Batch(early.date(), papers[:3], [], []), [])
    assert order[-1].paper == first and "you voted 👎 on it" in order[-1].reasons
    # An imported event older than the standing one is kept in the log all the same.
    assert [v.value for v in store.votes("U1") if v.paper == first].count(1) == 1


def test_home_still_opens_once_per_event_with_a_worker(web: Web) -> None:
    body = event("app_home_opened", "U3")
    web.post(body, signed(SECRET, body, content_type="application/json"))
    web.work()
    assert "Your Paperboy profile" in home_text(web, "U3")
