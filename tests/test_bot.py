"""The web process for real: signed Slack requests over HTTP, Slack's Web API as a stand-in."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rq import Queue

from bot.app import wsgi
from paperboy import blocks, tokens
from paperboy.feed import parse_feed
from paperboy.models import Paper, Ranked, Reader, Score
from paperboy.settings import Settings
from paperboy.store import ServiceError, Store, open_store
from tests.conftest import ROOT, TEST_REDIS_URL
from tests.slackweb import (
    ADMIN,
    API_PAPER,
    API_RESPONSE,
    CHANNEL,
    FORM,
    LINK_SECRET,
    SECRET,
    Web,
    a_day,
    event,
    eventually,
    home_text,
    responses,
    settings_action,
    start,
    tally_shown,
)
from tests.standins.slack_api import click, command, interaction, serve, signed
from tests.standins.smtp import free_port
from tests.standins.web import HTTP, serve_wsgi
from workers.queues import INTERACTIVE

# votes ------------------------------------------------------------------------------------


def test_a_vote_is_recorded_confirmed_and_tallied(web: Web) -> None:
    reply = web.replies[0]
    paper = blocks.paper_of(reply)
    response = web.click("U1", reply, blocks.VOTE_UP)
    assert response.status_code == 200
    (vote,) = web.store.votes("U1")
    assert (vote.paper, vote.value, vote.source) == (paper, 1, "slack")
    assert eventually(lambda: any("Noted 👍" in t for t in web.ephemerals("U1")))
    ephemeral = web.slack.calls("chat.postEphemeral")[-1]
    assert ephemeral["thread_ts"] == reply["thread_ts"]
    assert eventually(lambda: tally_shown(web, reply, 1, 0))
    update = web.slack.calls("chat.update")[-1]
    assert update["text"] and update["blocks"]
    web.work()  # the interactive worker refreshes the voter's Home
    title = next(p.title for p in web.papers if p.id == paper)
    assert blocks.escape(title)[:40] in home_text(web, "U1")


def test_a_vote_from_an_email_link_refreshes_the_tally_in_slack(web: Web) -> None:
    reply = web.replies[1]
    paper = blocks.paper_of(reply)
    assert paper
    web.click("U1", reply, blocks.VOTE_DOWN)
    assert eventually(lambda: tally_shown(web, reply, 0, 1))
    web.store.save_reader(Reader(id="U9", email="u9@example.org", email_enabled=True))
    token = tokens.vote_token(LINK_SECRET.encode(), "U9", paper, 1, datetime.now(UTC), 30)
    answer = HTTP.post(f"{web.url}/feedback/{token}", timeout=10)
    assert answer.status_code == 200
    (vote,) = web.store.votes("U9")
    assert (vote.paper, vote.value, vote.source) == (paper, 1, "email")
    assert eventually(lambda: tally_shown(web, reply, 1, 1))
    # The refreshed reply keeps everything else it showed: only the vote buttons changed.
    fresh = web.slack.message(CHANNEL, reply["ts"])
    assert fresh is not None
    kept = [b for b in fresh["blocks"] if b.get("type") != "actions"]
    assert kept == [b for b in reply["blocks"] if b.get("type") != "actions"]


def test_the_same_button_again_undoes(web: Web) -> None:
    reply = web.replies[1]
    web.click("U1", reply, blocks.VOTE_UP)
    eventually(lambda: tally_shown(web, reply, 1, 0))
    assert web.click("U1", reply, blocks.VOTE_UP).status_code == 200
    assert [v.value for v in web.store.votes("U1")] == [1, 0]
    assert web.store.tally(str(blocks.paper_of(reply))) == (0, 0)
    assert eventually(lambda: any("undone" in t for t in web.ephemerals("U1")))
    assert eventually(lambda: tally_shown(web, reply, 0, 0))


def test_the_other_button_switches(web: Web) -> None:
    reply = web.replies[2]
    web.click("U1", reply, blocks.VOTE_UP)
    web.click("U2", reply, blocks.VOTE_UP)
    web.click("U1", reply, blocks.VOTE_DOWN)
    assert [v.value for v in web.store.votes("U1")] == [1, -1]
    assert web.store.current_vote("U1", str(blocks.paper_of(reply))) == -1
    assert eventually(lambda: any("Switched to 👎" in t for t in web.ephemerals("U1")))
    assert eventually(lambda: tally_shown(web, reply, 1, 1))


def test_a_forged_signature_is_refused(web: Web) -> None:
    body = interaction(click("U1", blocks.VOTE_UP, web.replies[0], CHANNEL))
    headers = signed("not-the-secret", body)
    assert web.post(body, headers).status_code == 401
    assert web.post(body, {**signed(SECRET, body), "X-Slack-Signature": "v0=00"}).status_code == 401
    assert web.store.votes("U1") == []


def test_a_replayed_old_request_is_refused(web: Web) -> None:
    body = interaction(click("U1", blocks.VOTE_UP, web.replies[0], CHANNEL))
    assert web.post(body, signed(SECRET, body, int(time.time()) - 6 * 60)).status_code == 401
    assert web.store.votes("U1") == []


@pytest.mark.parametrize(
    "mangle",
    [
        lambda p: p["actions"][0].update(value="<!channel> drop table"),
        lambda p: p["actions"][0].pop("value"),
        lambda p: p.update(actions=[]),
    ],
)
def test_a_malformed_click_gets_a_polite_ephemeral(web: Web, mangle: Callable) -> None:
    payload = click("U1", blocks.VOTE_UP, web.replies[0], CHANNEL)
    mangle(payload)
    response = web.post(interaction(payload))
    assert response.status_code == 200
    assert web.store.votes("U1") == []
    assert eventually(lambda: any("could not read" in t for t in web.ephemerals("U1")))


@pytest.mark.parametrize("body", ["payload=%7Bnot+json", "payload=", "\x00\xff", ""])
def test_garbage_bodies_never_get_a_500(web: Web, body: str) -> None:
    assert web.post(body).status_code < 500


def test_a_click_on_an_unknown_paper_is_not_recorded(web: Web) -> None:
    message = {
        **web.replies[0],
        "blocks": blocks.paper_blocks(
            Ranked(
                paper=Paper(id="2401.99999", title="Gone"),
                score=Score(paper="x", scorer="l", score=0),
            )
        ),
    }
    response = web.post(interaction(click("U1", blocks.VOTE_UP, message, CHANNEL)))
    assert response.status_code == 200
    assert web.store.votes("U1") == []
    assert eventually(
        lambda: any("no longer has paper 2401.99999" in t for t in web.ephemerals("U1"))
    )


def test_fast_clicks_are_folded_into_few_updates(
    store: Store, papers: list[Paper], unconfigured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve() as slack:
        replies = a_day(store, slack, papers, 2)
        for url in start(store, slack, {"tally": 1.0}, monkeypatch):
            web = Web(url, slack, store, papers, replies)
            reply = replies[0]
            users = [f"U{n}" for n in range(12)]
            threads = [
                threading.Thread(target=web.click, args=(u, reply, blocks.VOTE_UP)) for u in users
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert eventually(lambda: tally_shown(web, reply, 12, 0))  # noqa: B023
            time.sleep(1.2)
            updates = [c for c in slack.calls("chat.update") if c["ts"] == reply["ts"]]
            assert 1 <= len(updates) <= 4
            assert tally_shown(web, reply, 12, 0)


# App Home and settings --------------------------------------------------------------------


def test_home_shows_the_profile_and_admins_see_the_group(web: Web) -> None:
    web.click("U1", web.replies[0], blocks.VOTE_UP)
    body = event("app_home_opened", "U1")
    headers = signed(SECRET, body, content_type="application/json")
    assert web.post(body, headers).status_code == 200
    web.work()
    voted = next(p for p in web.papers if p.id == blocks.paper_of(web.replies[0]))
    # The vote is listed with the paper's title (an empty Home says "Recent votes" and 👍 too).
    assert blocks.escape(voted.title)[:40] in home_text(web, "U1")
    assert "Top terms" in home_text(web, "U1")  # what the profile learned, worked out too
    assert "Group (admins)" not in home_text(web, "U1")
    body = event("app_home_opened", ADMIN)
    web.post(body, signed(SECRET, body, content_type="application/json"))
    web.work()
    admin = home_text(web, ADMIN)
    assert "Group (admins)" in admin and "cs.LG" in admin and "Tue 03 Jun" in admin


def test_home_offers_papers_to_vote_on_and_a_vote_there_counts(web: Web) -> None:
    body = event("app_home_opened", "U7")
    web.post(body, signed(SECRET, body, content_type="application/json"))
    web.work()
    view = web.slack.views["U7"]
    assert "Your top 5 of Tue 03 Jun" in home_text(web, "U7")
    assert "Help Paperboy learn your taste" in home_text(web, "U7")
    offered = [
        e["value"]
        for b in view["blocks"]
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"] == blocks.VOTE_UP
    ]
    assert len(offered) == 5 and set(offered) <= {p.id for p in web.papers}
    press = settings_action(blocks.VOTE_UP, "U7", "view", type="button", value=offered[0])
    assert web.post(interaction(press)).status_code == 200
    (vote,) = web.store.votes("U7")
    assert (vote.paper, vote.value, vote.source) == (offered[0], 1, "slack")
    web.work()  # Home again, confirming the vote and ranking with it
    assert "Noted 👍" in home_text(web, "U7")
    assert offered[0] not in [
        e["value"]
        for b in web.slack.views["U7"]["blocks"]
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"] == blocks.VOTE_UP
    ]  # voted on: no longer offered


def test_settings_from_home(web: Web) -> None:
    toggle = settings_action(blocks.HOME_EMAIL_TOGGLE, "U5", "view", type="button", value="on")
    assert web.post(interaction(toggle)).status_code == 200  # no address yet: told so on Home
    web.work()
    assert "address first" in home_text(web, "U5")
    bad = settings_action(blocks.HOME_EMAIL, "U5", "view", type="plain_text_input", value="nope")
    web.post(interaction(bad))
    web.work()
    assert "does not look like an email" in home_text(web, "U5")
    # An address is confirmed by its owner's link (tests/test_confirm_address.py) or set by
    # an admin's `paperboy subscribe`, as here.
    web.store.save_reader(Reader(id="U5", email="u5@example.org"))
    web.post(interaction(toggle))
    size = settings_action(
        blocks.HOME_DIGEST_SIZE, "U5", "view", type="static_select", selected_option={"value": "10"}
    )
    web.post(interaction(size))
    web.work()
    reader = web.store.reader("U5")
    assert reader and (reader.email, reader.email_enabled, reader.digest_size) == (
        "u5@example.org",
        True,
        10,
    )
    web.work(wait=False)  # a refresh asked for after the last one started
    assert "Email digest:* on to u5@example.org" in home_text(web, "U5")


def test_home_sets_the_rhythm_in_the_readers_time_zone_from_slack(web: Web) -> None:
    web.slack.users["U6"] = {"name": "kenji", "real_name": "Kenji", "tz": "Asia/Tokyo"}
    web.store.save_reader(Reader(id="U6", email="kenji@example.org"))
    opened = event("app_home_opened", "U6")
    headers = signed(SECRET, opened, content_type="application/json")
    assert web.post(opened, headers).status_code == 200
    web.work()  # Home refreshed: Slack's time zone learned on the way
    assert web.store.reader("U6").slack_tz == "Asia/Tokyo"  # type: ignore[union-attr]
    weekly = settings_action(
        blocks.HOME_CADENCE, "U6", "view", type="static_select", selected_option={"value": "weekly"}
    )
    eight = settings_action(
        blocks.HOME_HOUR, "U6", "view", type="static_select", selected_option={"value": "8"}
    )
    bad = settings_action(
        blocks.HOME_HOUR, "U6", "view", type="static_select", selected_option={"value": "25"}
    )
    for action in (weekly, eight, bad):
        assert web.post(interaction(action)).status_code == 200
    web.work()
    reader = web.store.reader("U6")
    assert reader and (reader.cadence, reader.hour) == ("weekly", 8)
    web.work(wait=False)
    assert "weekly, on Fridays, at 08:00 your time (Asia/Tokyo)" in home_text(web, "U6")
    published = json.dumps(web.slack.calls("views.publish"), ensure_ascii=False)
    assert "could not read that hour" in published  # the bad choice was told, and not kept


# the slash command ------------------------------------------------------------------------


def test_help_and_unknown_verbs(web: Web) -> None:
    assert "/paperboy seed" in web.command("U1", "").text
    answer = web.command("U1", "frobnicate <!channel>")
    assert answer.status_code == 200 and "does not know" in answer.text
    assert "<!channel>" not in answer.text


def test_seed_follow_unfollow(web: Web) -> None:
    known = web.papers[0]  # a paper of a recent day: added at once, with its title
    answer = web.command("U1", f"seed https://arxiv.org/abs/{known.id}v2")
    assert "Added seed paper" in answer.text
    assert "is not an arXiv id" in web.command("U1", "seed banana").text
    assert "already" in web.command("U1", f"seed {known.id}").text
    # Not in the store: looked up on arXiv's API after the ack, the outcome said in a response.
    assert "Looking up" in web.command("U1", f"seed {API_PAPER}").text
    web.work()  # the interactive worker looks it up
    assert any(f"Added seed paper {API_PAPER}" in r.get("text", "") for r in responses(web))
    assert "Looking up" in web.command("U1", "seed 2401.00001").text
    web.work()
    assert any("Nothing added" in r.get("text", "") for r in responses(web))
    web.command("U1", "follow  Yoshua   Bengio")
    web.command("U1", "follow Geoffrey Hinton")
    assert "already" in web.command("U1", "follow yoshua bengio").text
    assert "No longer following" in web.command("U1", "unfollow Geoffrey Hinton").text
    assert "do not follow" in web.command("U1", "unfollow Nobody").text
    reader = web.store.reader("U1")
    assert reader is not None
    api_title = next(p.title for p in parse_feed("api", API_RESPONSE).papers if p.id == API_PAPER)
    assert [(s.id, s.title) for s in reader.seed_papers] == [
        (known.id, known.title),
        (API_PAPER, api_title),
    ]
    assert reader.authors == ["Yoshua Bengio"]
    web.work(wait=False)
    assert "Yoshua Bengio" in home_text(web, "U1")


def test_top_answers_with_the_readers_own_ranking(web: Web) -> None:
    answer = web.command("U1", "top")
    assert answer.status_code == 200 and "Ranking" in answer.text
    assert not [r for r in responses(web) if "Your top" in r.get("text", "")]  # not in the web
    web.work()  # the interactive worker ranks and answers through the response URL
    found = [r for r in responses(web) if "Your top" in r.get("text", "")]
    assert blocks.problems(found[-1]["blocks"], found[-1]["text"]) == []
    assert found[-1]["response_type"] == "ephemeral"
    # No votes: the reader's order is the group's, whose first papers are the day's first.
    shown = json.dumps(found[-1]["blocks"], ensure_ascii=False)
    places = [shown.find(blocks.escape(p.title)[:40]) for p in web.papers[:3]]
    assert -1 not in places and places == sorted(places)


def test_settings_and_forget_with_confirmation(web: Web) -> None:
    web.click("U1", web.replies[0], blocks.VOTE_UP)
    answer = web.command("U1", "settings")
    assert "Digest size" in answer.text
    answer = web.command("U1", "forget")
    assert blocks.FORGET_CONFIRM in answer.text and web.store.votes("U1")
    cancel = settings_action(
        blocks.FORGET_CANCEL, "U1", "message_ephemeral", type="button", value="cancel"
    )
    cancel["response_url"] = web.slack.root + "/respond/1"
    web.post(interaction(cancel))
    assert eventually(
        lambda: any("Nothing was deleted" in r.get("text", "") for r in responses(web))
    )
    assert web.store.votes("U1")
    confirm = {
        **cancel,
        "actions": [{"action_id": blocks.FORGET_CONFIRM, "type": "button", "value": "forget"}],
    }
    assert web.post(interaction(confirm)).status_code == 200
    assert web.store.votes("U1") == [] and web.store.reader("U1") is None
    assert eventually(lambda: any("has deleted" in r.get("text", "") for r in responses(web)))


def test_healthz(web: Web) -> None:
    response = HTTP.get(web.url + "/healthz")
    assert response.status_code == 200 and response.json()["ok"] is True


def test_the_web_app_starts_without_a_warning(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The bot token in the environment, as in production: Bolt would read it too and warn
    that its client's token wins, which is by design, on every start of the web process."""
    from bot.app import create_app
    from paperboy.settings import Settings
    from paperboy.slack import web_client
    from tests.standins.slack_api import TOKEN

    for name, value in {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_CHANNEL": "C0PAPERS",
    }.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    create_app(Settings(_env_file=None), store, web_client(TOKEN, "http://127.0.0.1:9/api/"))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_unknown_buttons_and_events_are_answered_quietly(web: Web) -> None:
    odd = settings_action("no_such_button", "U1", "view", type="button", value="x")
    assert web.post(interaction(odd)).status_code == 200
    body = event("member_joined_channel", "U1")
    assert web.post(body, signed(SECRET, body, content_type="application/json")).status_code == 200


# a thin web process ---------------------------------------------------------------------


def test_without_an_interactive_worker_people_are_told_at_once(web_alone: Web) -> None:
    web = web_alone
    answer = web.command("U1", "top")
    assert answer.status_code == 200 and "interactive worker is not running" in answer.text
    answer = web.command("U1", f"seed {API_PAPER}")
    assert "interactive worker is not running" in answer.text
    body = event("app_home_opened", "U1")
    web.post(body, signed(SECRET, body, content_type="application/json"))
    # Home still opens, from the web process alone: settings yes, the learned profile not now
    assert eventually(lambda: "interactive worker is not running" in home_text(web, "U1"))
    assert "Digest size" in home_text(web, "U1") and "Top terms" not in home_text(web, "U1")
    web.click("U1", web.replies[0], blocks.VOTE_UP)
    assert [v.value for v in web.store.votes("U1")] == [1]  # a vote never needs the worker
    assert Queue(INTERACTIVE, connection=web.store.redis).count == 0


WEB_PROCESS = """
import json, sys
from bot.app import create_app
from paperboy.settings import Settings
from paperboy.slack import web_client
from paperboy.store import Store, connect

settings = Settings(_env_file=None)
store = Store(connect(sys.argv[1]))
token = settings.slack_bot_token.get_secret_value()
app = create_app(settings, store, web_client(token, settings.slack_api_url))
client = app.test_client()
for body, headers in json.load(sys.stdin):
    assert client.post("/slack/events", data=body, headers=headers).status_code == 200
app.extensions["paperboy_deps"].background.shutdown(wait=True)
heavy = ("numpy", "scipy", "paperboy.pipeline", "paperboy.profiles", "paperboy.local",
         "paperboy.index", "paperboy.search")
print(json.dumps([name for name in heavy if name in sys.modules]))
"""


def test_the_web_process_never_loads_the_ranking(web: Web) -> None:
    """A vote, a save, commands and a Home open served by a fresh web process: no numpy or
    scipy, no search index."""
    home = event("app_home_opened", "U1")
    requests = [
        (body, signed(SECRET, body, content_type=kind))
        for body, kind in [
            (interaction(click("U1", blocks.VOTE_UP, web.replies[0], CHANNEL)), FORM),
            (interaction(click("U1", blocks.SAVE, web.replies[1], CHANNEL)), FORM),
            (command("U1", "saved", web.slack.root + "/respond/1"), FORM),
            (command("U1", "search graphs", web.slack.root + "/respond/1"), FORM),
            (command("U1", "top", web.slack.root + "/respond/1"), FORM),
            (command("U1", "follow Ada Lovelace", web.slack.root + "/respond/1"), FORM),
            (home, "application/json"),
        ]
    ]
    done = subprocess.run(
        [sys.executable, "-c", WEB_PROCESS, TEST_REDIS_URL],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    assert [v.value for v in web.store.votes("U1")] == [1]
    assert web.store.is_saved("U1", str(blocks.paper_of(web.replies[1])))
    assert web.store.reader("U1").authors == ["Ada Lovelace"]  # type: ignore[union-attr]
    web.work()  # what it enqueued: the answer to `top`, Home
    assert any("Your top" in r.get("text", "") for r in responses(web))
    assert "Ada Lovelace" in home_text(web, "U1")


def test_the_web_process_starts_while_redis_restarts_and_a_command_says_it_is_down(
    unconfigured: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port = free_port()
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
    started: list[subprocess.Popen[bytes]] = []

    def restart() -> None:  # Redis is back a moment after the web worker starts
        time.sleep(0.5)
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        started.append(
            subprocess.Popen([*command, "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
        )

    back = threading.Thread(target=restart)
    try:
        with pytest.raises(ServiceError, match="does not answer"):  # a command: at once
            open_store(Settings(), allow_in_process=False)
        back.start()
        app = wsgi()  # a gunicorn worker that failed here would take the web process down
        with serve_wsgi(app) as url:
            assert HTTP.get(url + "/healthz").status_code == 200
    finally:
        if back.is_alive():
            back.join()
        for server in started:
            server.terminate()
            server.wait(timeout=10)
