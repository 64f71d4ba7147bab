"""📌 Save, the reading list and search in Slack: signed requests to the running web app, the
interactive worker's answers, against the Slack stand-in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bibtexparser
import pytest

from paperboy import blocks, saved_blocks
from paperboy.index import SearchIndex
from paperboy.models import Paper
from paperboy.store import Store
from tests.slackweb import (
    CHANNEL,
    DAY,
    SECRET,
    Web,
    eventually,
    home_text,
    responses,
    settings_action,
    tally_shown,
)
from tests.standins.slack_api import (
    TOKEN,
    SlackStandIn,
    click,
    interaction,
    read_manifest,
    serve,
    signed,
)
from tests.test_one_vote import at_once
from workers.interactive import send_bibtex


def press_save(web: Web, user: str, reply: dict[str, Any], action_ts: str) -> dict[str, Any]:
    payload = click(user, blocks.SAVE, reply, CHANNEL)
    payload["actions"][0]["action_ts"] = action_ts
    return payload


def test_save_from_a_reply_then_the_same_button_removes(web: Web) -> None:
    reply = web.replies[0]
    paper = str(blocks.paper_of(reply))
    title = next(p.title for p in web.papers if p.id == paper)
    assert web.click("U1", reply, blocks.SAVE).status_code == 200
    assert [s.paper for s in web.store.saved("U1")] == [paper]
    assert web.store.votes("U1") == []  # a save is no vote: no tally moves
    assert eventually(lambda: any("📌 Saved" in t for t in web.ephemerals("U1")))
    assert web.slack.calls("chat.postEphemeral")[-1]["thread_ts"] == reply["thread_ts"]
    web.work()  # the interactive worker refreshes Home: the reading list, with Remove
    home = home_text(web, "U1")
    assert "Your reading list" in home and blocks.escape(title)[:40] in home
    assert saved_blocks.REMOVE in home
    assert web.click("U1", reply, blocks.SAVE).status_code == 200
    assert web.store.saved("U1") == []
    assert eventually(lambda: any("Removed" in t for t in web.ephemerals("U1")))


def test_two_presses_at_once_are_a_save_and_its_removal_and_a_redelivery_counts_once(
    web: Web,
) -> None:
    reply = web.replies[1]
    paper = str(blocks.paper_of(reply))
    for n in range(10):
        user = f"UPAIR{n}"
        statuses = at_once(
            web, press_save(web, user, reply, f"1750000{n}.1"), press_save(web, user, reply, "2")
        )
        assert statuses == [200, 200] and not web.store.is_saved(user, paper)
    same = press_save(web, "UAGAIN", reply, "1750000000.000001")
    assert at_once(web, same, same) == [200, 200]
    assert web.store.is_saved("UAGAIN", paper)


def test_a_reply_posted_before_save_existed_still_votes_and_stays_as_it_was(web: Web) -> None:
    reply = web.replies[2]
    message = web.slack.message(CHANNEL, reply["ts"])
    assert message is not None
    for block in message["blocks"]:
        if block.get("type") == "actions":
            block["elements"] = [e for e in block["elements"] if e["action_id"] != blocks.SAVE]
    web.click("U1", message, blocks.VOTE_UP)
    assert eventually(lambda: tally_shown(web, reply, 1, 0))
    fresh = web.slack.message(CHANNEL, reply["ts"]) or {}
    actions = [
        e["action_id"] for b in fresh["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert actions == [blocks.VOTE_UP, blocks.VOTE_DOWN]
    # A new reply's tally keeps its 📌 Save.
    web.click("U2", web.replies[3], blocks.VOTE_UP)
    assert eventually(lambda: tally_shown(web, web.replies[3], 1, 0))
    newer = web.slack.message(CHANNEL, web.replies[3]["ts"]) or {}
    assert blocks.SAVE in json.dumps(newer["blocks"])


def test_remove_on_home_and_in_the_saved_list(web: Web) -> None:
    first, second = (str(blocks.paper_of(r)) for r in web.replies[:2])
    web.click("U1", web.replies[0], blocks.SAVE)
    web.click("U1", web.replies[1], blocks.SAVE)
    listed = web.command("U1", "saved").json()
    assert listed["text"] == "Your reading list: 2 papers"
    assert blocks.problems(listed["blocks"], listed["text"]) == []
    shown = [b["accessory"]["value"] for b in listed["blocks"] if "accessory" in b]
    assert shown == [second, first]  # newest first
    # Remove in the list `/paperboy saved` showed: the list is shown again without it.
    pressed = settings_action(
        saved_blocks.REMOVE, "U1", "message", type="button", value=second, action_ts="1"
    )
    pressed["response_url"] = web.slack.root + "/respond/1"
    pressed["channel"] = {"id": CHANNEL}
    assert web.post(interaction(pressed)).status_code == 200
    assert [s.paper for s in web.store.saved("U1")] == [first]
    assert eventually(
        lambda: any(r.get("text") == "Your reading list: 1 paper" for r in responses(web))
    )
    assert responses(web)[-1]["replace_original"] is True
    # Remove on Home: Home is published again, saying so.
    on_home = settings_action(saved_blocks.REMOVE, "U1", "view", type="button", value=first)
    assert web.post(interaction(on_home)).status_code == 200
    assert web.store.saved("U1") == []
    web.work()
    assert "Removed “" in home_text(web, "U1") and "Nothing saved yet" in home_text(web, "U1")
    assert "Nothing saved yet" in web.command("U1", "saved").json()["blocks"][0]["text"]["text"]


def test_saved_bibtex_comes_as_a_file_in_a_direct_message(web: Web) -> None:
    for reply in web.replies[:3]:
        web.click("U1", reply, blocks.SAVE)
    answer = web.command("U1", "saved bibtex")
    assert "BibTeX" in answer.text and not web.slack.files  # not in the web process
    web.work()
    (opened,) = web.slack.calls("conversations.open")
    assert opened["users"] == "U1"
    (done,) = web.slack.calls("files.completeUploadExternal")
    assert done["channel_id"] == web.slack.dms["U1"]
    (uploaded,) = web.slack.files.values()
    assert uploaded["name"] == "paperboy-reading-list.bib"
    library = bibtexparser.parse_string(uploaded["content"].decode())
    assert not library.failed_blocks
    saved = [s.paper for s in web.store.saved("U1")]
    assert [e["eprint"] for e in library.entries] == saved and len(saved) == 3
    assert {f.key for f in library.entries[0].fields} >= {"title", "author", "year", "url"}
    assert any("Sent: 3 papers" in r.get("text", "") for r in responses(web))
    # An empty list is said, and no file sent.
    web.command("U2", "saved bibtex")
    web.work()
    assert "Your reading list is empty" in responses(web)[-1]["text"]
    assert len(web.slack.files) == 1


def test_search_is_answered_privately_by_the_worker_with_the_thread(web: Web) -> None:
    SearchIndex(web.store).add_day(DAY, web.papers[:200])  # as the day's ingest does
    posted = next(p for p in web.papers if p.id == blocks.paper_of(web.replies[0]))
    web.click("U7", web.replies[0], blocks.VOTE_UP)
    words = " ".join(posted.title.split()[:5])
    answer = web.command("U1", f"search {words}")
    assert answer.status_code == 200 and "Searching" in answer.text
    assert not [r for r in responses(web) if r.get("blocks")]  # not answered in the web process
    web.work()
    (found,) = [r for r in responses(web) if str(r.get("text", "")).startswith("Search:")]
    assert found["response_type"] == "ephemeral"
    assert blocks.problems(found["blocks"], found["text"]) == []
    first = found["blocks"][1]
    assert (
        first["accessory"]["value"] == posted.id and first["accessory"]["action_id"] == "paper_save"
    )
    assert "👍 1 · 👎 0" in first["text"]["text"]
    assert f"https://example.slack.com/archives/{CHANNEL}/p" in first["text"]["text"]
    assert len(found["blocks"]) == 12  # a heading, ten papers, a hint
    assert "Search for what?" in web.command("U1", "search   ").text


def test_help_and_the_manifest_name_search_and_saved(web: Web) -> None:
    shown = web.command("U1", "help").text
    assert "/paperboy search" in shown and "/paperboy saved" in shown
    (declared,) = read_manifest()["features"]["slash_commands"]
    assert "search" in declared["usage_hint"] and "saved" in declared["usage_hint"]
    scopes = read_manifest()["oauth_config"]["scopes"]["bot"]
    assert {"files:write", "im:write"} <= set(scopes)


def test_without_an_interactive_worker_search_says_so_and_saves_still_count(
    web_alone: Web,
) -> None:
    web = web_alone
    assert "interactive worker is not running" in web.command("U1", "search graphs").text
    assert "interactive worker is not running" in web.command("U1", "saved bibtex").text
    body = interaction(click("U1", blocks.SAVE, web.replies[0], CHANNEL))
    assert web.post(body, signed(SECRET, body)).status_code == 200
    assert web.store.is_saved("U1", str(blocks.paper_of(web.replies[0])))


def test_an_app_without_files_write_says_what_to_add(
    store: Store, unconfigured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = read_manifest()
    bot = manifest["oauth_config"]["scopes"]["bot"]
    manifest["oauth_config"]["scopes"]["bot"] = [s for s in bot if s != "files:write"]
    store.save_papers([Paper(id="2506.00019", title="A paper", authors=["Ada Lovelace"])])
    store.save("U1", "2506.00019")
    with serve(SlackStandIn(manifest=manifest)) as slack:
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("SLACK_API_URL", slack.url)
        send_bibtex("U1", slack.root + "/respond/1")
        (answer,) = slack.calls("respond/1")
    assert "files:write is missing" in answer["text"] and not slack.files
