"""The Slack stand-in is as strict as Slack about the app's manifest (scopes, App Home), and the
repository's manifest grants everything Paperboy asks of Slack."""

from __future__ import annotations

import ast
import copy
import inspect
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.conftest import ROOT
from tests.standins.slack_api import BOT_USER, TOKEN, SlackStandIn, command, serve
from tests.standins.slack_app import METHOD_SCOPES, SlackApp, read_manifest

REAL = read_manifest()
REAL_SCOPES: list[str] = REAL["oauth_config"]["scopes"]["bot"]
CHANNEL = "C0PAPERS"
PRIVATE = "C0PRIVATE"  # a private channel: its id starts with C too
TS = "1750000000.000001"


def every_scope() -> list[str]:
    """Every scope some method of the stand-in asks for."""
    found: set[str] = set()
    for scopes in METHOD_SCOPES.values():
        found |= set(scopes.values()) if isinstance(scopes, dict) else {scopes}
    return sorted(found - {""})


def granting(scopes: list[str], **app_home: bool) -> dict[str, Any]:
    """The repository's manifest with these bot scopes and App Home settings instead."""
    manifest = copy.deepcopy(REAL)
    manifest["oauth_config"]["scopes"]["bot"] = scopes
    manifest["features"]["app_home"].update(app_home)
    return manifest


def world() -> dict[str, Any]:
    """A workspace: a day's parent in a public, a private and a DM conversation; one person."""
    parent = {"type": "message", "user": BOT_USER, "ts": TS, "text": "Tue 03 Jun"}
    return {
        "messages": {c: [dict(parent)] for c in (CHANNEL, PRIVATE, "G0PRIVATE", "D00000001")},
        "kinds": {PRIVATE: "private_channel"},
        "users": {"U1": {"name": "ada", "real_name": "Ada Lovelace", "email": "ada@example.org"}},
    }


@contextmanager
def slack_app(manifest: dict[str, Any]) -> Iterator[tuple[SlackStandIn, WebClient]]:
    with serve(SlackStandIn(manifest=manifest, **world())) as slack:
        yield slack, WebClient(token=TOKEN, base_url=slack.url)


def state(slack: SlackStandIn) -> dict[str, Any]:
    return copy.deepcopy(
        {"messages": slack.messages, "views": slack.views, "dms": slack.dms, "files": slack.files}
    )


# refusals ----------------------------------------------------------------------------------

CALLS = [
    ("chat_postMessage", {"channel": CHANNEL, "text": "hello"}, "chat:write"),
    ("chat_update", {"channel": CHANNEL, "ts": TS, "text": "hello"}, "chat:write"),
    ("chat_postEphemeral", {"channel": CHANNEL, "user": "U1", "text": "noted"}, "chat:write"),
    ("conversations_history", {"channel": CHANNEL}, "channels:history"),
    ("conversations_history", {"channel": "G0PRIVATE"}, "groups:history"),
    ("conversations_replies", {"channel": CHANNEL, "ts": TS}, "channels:history"),
    ("conversations_replies", {"channel": PRIVATE, "ts": TS}, "groups:history"),
    ("conversations_replies", {"channel": "D00000001", "ts": TS}, "im:history"),
    ("conversations_open", {"users": "U1"}, "im:write"),
    ("conversations_open", {"users": "U1,U2"}, "mpim:write"),
    ("users_info", {"user": "U1"}, "users:read"),
    ("files_getUploadURLExternal", {"filename": "day.html", "length": 5}, "files:write"),
    ("files_completeUploadExternal", {"files": [{"id": "F00000001"}]}, "files:write"),
]


@pytest.mark.parametrize(("call", "args", "scope"), CALLS)
def test_a_call_whose_scope_the_manifest_lacks_is_refused_as_slack_refuses_it(
    call: str, args: dict[str, Any], scope: str
) -> None:
    others = [s for s in every_scope() if s != scope]
    with slack_app(granting(others)) as (slack, client):
        before = state(slack)
        with pytest.raises(SlackApiError) as refused:
            getattr(client, call)(**args)
        assert refused.value.response.status_code == 200
        assert refused.value.response.data == {
            "ok": False,
            "error": "missing_scope",
            "needed": scope,
            "provided": ",".join(others),
        }
        assert state(slack) == before
    with slack_app(granting(every_scope())) as (slack, client):  # the scope was the reason
        try:
            getattr(client, call)(**args)
        except SlackApiError as exc:
            assert exc.response["error"] != "missing_scope"


class Wider(SlackStandIn):
    """The stand-in serving one more method, without its scopes."""

    def _reactions_add(self, args: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        return 200, {"ok": True}, {}


def test_the_stand_in_knows_the_scopes_of_every_method_it_serves() -> None:
    served = {m for m in METHOD_SCOPES if hasattr(SlackStandIn, "_" + m.replace(".", "_"))}
    assert served == set(METHOD_SCOPES)
    with serve(Wider()) as slack:
        client = WebClient(token=TOKEN, base_url=slack.url, retry_handlers=[])
        with pytest.raises(SlackApiError) as unknown:
            client.reactions_add(channel=CHANNEL, timestamp=TS, name="tada")
    assert unknown.value.response.status_code == 500
    assert "add reactions.add's scopes" in unknown.value.response["detail"]


def test_calls_that_need_no_scope_pass_with_none() -> None:
    with slack_app(granting([])) as (slack, client):
        assert client.auth_test()["user_id"] == BOT_USER
        link = client.chat_getPermalink(channel=CHANNEL, message_ts=TS)["permalink"]
        assert link.endswith(f"/archives/{CHANNEL}/p{TS.replace('.', '')}")
        client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
        assert slack.views["U1"]["type"] == "home"
        with pytest.raises(SlackApiError, match="missing_scope"):
            client.chat_postMessage(channel=CHANNEL, text="hello")


def test_by_default_the_token_holds_the_repositorys_manifest_scopes() -> None:
    with serve() as slack:
        answer = WebClient(token=TOKEN, base_url=slack.url).auth_test()
    assert slack.manifest == REAL
    assert answer.headers["x-oauth-scopes"] == ",".join(REAL_SCOPES)


# App Home --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tab", "read_only", "lands"),
    [
        (False, False, False),  # the Messages tab off: the app cannot write to anyone
        (True, False, True),
        (True, True, True),  # read-only stops people writing to the app, not the app
    ],
)
def test_a_message_to_a_person_needs_the_messages_tab(
    tab: bool, read_only: bool, lands: bool
) -> None:
    manifest = granting(
        [*REAL_SCOPES, "im:write"],
        messages_tab_enabled=tab,
        messages_tab_read_only_enabled=read_only,
    )
    with slack_app(manifest) as (slack, client):
        dm = client.conversations_open(users="U1")["channel"]["id"]
        for to in ("U1", dm):
            if lands:
                assert client.chat_postMessage(channel=to, text=f"to {to}")["channel"] == dm
            else:
                with pytest.raises(SlackApiError) as refused:
                    client.chat_postMessage(channel=to, text=f"to {to}")
                assert refused.value.response.data == {
                    "ok": False,
                    "error": "messages_tab_disabled",
                }
        assert [m["text"] for m in slack.messages.get(dm, [])] == (
            ["to U1", f"to {dm}"] if lands else []
        )
        client.chat_postMessage(channel=CHANNEL, text="the day")  # a channel needs no tab
        assert slack.top_level(CHANNEL)[-1]["text"] == "the day"


@pytest.mark.parametrize(("home", "error"), [(True, None), (False, "not_enabled")])
def test_a_home_view_needs_the_home_tab(home: bool, error: str | None) -> None:
    with slack_app(granting(REAL_SCOPES, home_tab_enabled=home)) as (slack, client):
        try:
            client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
        except SlackApiError as exc:
            assert exc.response["error"] == error
        else:
            assert error is None and slack.views["U1"]["type"] == "home"


@pytest.mark.parametrize(
    ("scopes", "email"),
    [(["users:read"], None), (["users:read", "users:read.email"], "ada@example.org")],
)
def test_a_persons_email_needs_its_own_scope(scopes: list[str], email: str | None) -> None:
    with slack_app(granting(scopes)) as (_, client):
        user = client.users_info(user="U1")["user"]
    assert user["real_name"] == "Ada Lovelace" and user["profile"].get("email") == email


def test_a_file_uploads_and_lands_in_the_thread() -> None:
    with slack_app(granting(every_scope())) as (slack, client):
        client.files_upload_v2(
            channel=CHANNEL,
            thread_ts=TS,
            content="<p>the day</p>",
            filename="day.html",
            title="The day",
            initial_comment="Today's digest as a page",
        )
        (uploaded,) = slack.files.values()
        (reply,) = slack.replies(CHANNEL, TS)
    assert uploaded["content"] == b"<p>the day</p>" and uploaded["title"] == "The day"
    assert reply["text"] == "Today's digest as a page"
    assert [f["name"] for f in reply["files"]] == ["day.html"]


# the repository's manifest and Paperboy's code -------------------------------------------

CODE = [ROOT / "paperboy", ROOT / "bot", ROOT / "workers"]
GROUP_CHANNEL = ("public_channel", "private_channel")
"""The group's channel may be public or private."""
REACHES = {"conversations.open": ("im",)}
"""Where Paperboy calls a per-conversation-type method other than on the group's channel."""
WEB_CLIENT = {n for n, v in vars(WebClient).items() if callable(v) and not n.startswith("_")}


@cache
def web_api_methods(name: str) -> frozenset[str]:
    """The Web API methods a WebClient method calls (files_upload_v2 calls two)."""
    source = inspect.getsource(getattr(WebClient, name))
    found = set(re.findall(r'api_call\(\s*"([\w.]+)"', source))
    for inner in set(re.findall(r"self\.(\w+)\(", source)) & WEB_CLIENT - {name}:
        found |= web_api_methods(inner)
    return frozenset(found)


def trees() -> Iterator[ast.AST]:
    for folder in CODE:
        for path in sorted(folder.rglob("*.py")):
            yield ast.parse(path.read_text(encoding="utf-8"), str(path))


def paperboy_calls() -> set[str]:
    """Every Web API method Paperboy's code calls through a WebClient."""
    used = {
        node.attr
        for tree in trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in WEB_CLIENT
    }
    return {method for name in used for method in web_api_methods(name)}


def bolt_listeners() -> dict[str, set[str]]:
    """The slash commands, events and actions Paperboy's Bolt app listens for."""
    found: dict[str, set[str]] = {"command": set(), "event": set(), "action": set()}
    for tree in trees():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in found
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "app"
                and node.args
            ):
                first = node.args[0]
                name = first.value if isinstance(first, ast.Constant) else ast.unparse(first)
                found[node.func.attr].add(str(name))
    return found


def test_everything_paperboy_calls_is_granted_by_the_manifest() -> None:
    app = SlackApp.of(REAL)
    called = paperboy_calls()
    assert {"auth.test", "chat.postMessage", "conversations.replies", "views.publish"} <= called
    for method in sorted(called):
        assert method in METHOD_SCOPES, (
            f"the Slack stand-in does not know {method}'s scopes: add them to "
            "tests/standins/slack_app.py from the method's page at docs.slack.dev"
        )
        for where in REACHES.get(method, GROUP_CHANNEL):
            needed = app.needed(method, where)
            assert needed is None, (
                f"Paperboy calls {method}, which needs {needed} on a {where}: add it to "
                "slack/manifest.json and to the README's scopes"
            )
    assert app.home_tab or "views.publish" not in called


def test_what_paperboy_listens_for_is_declared_in_the_manifest() -> None:
    listens = bolt_listeners()
    assert listens["command"] and listens["event"] and listens["action"]
    declared = {c["command"] for c in REAL["features"]["slash_commands"]}
    assert listens["command"] <= declared and "commands" in REAL_SCOPES
    assert parse_qs(command("U1", "help"))["command"] == sorted(declared)
    assert listens["event"] <= set(REAL["settings"]["event_subscriptions"]["bot_events"])
    assert REAL["settings"]["interactivity"]["is_enabled"]


def test_channels_the_bot_is_not_in_are_refused_as_slack_refuses_them() -> None:
    standin = SlackStandIn(
        channels={
            "C0PAPERS": {"name": "papers"},
            "C0ELSEWHERE": {"name": "elsewhere", "member": False},
            "G0SECRET": {"name": "secret", "member": False},
        }
    )
    with serve(standin) as slack:
        client = WebClient(token=TOKEN, base_url=slack.url)
        posted = client.chat_postMessage(channel="#papers", text="hello")  # a name: resolved
        assert posted["channel"] == "C0PAPERS" and len(slack.top_level("C0PAPERS")) == 1
        for channel, error in (
            ("C0ELSEWHERE", "not_in_channel"),
            ("G0SECRET", "channel_not_found"),  # a private channel is hidden from outsiders
            ("#nowhere", "channel_not_found"),
        ):
            with pytest.raises(SlackApiError) as refused:
                client.chat_postMessage(channel=channel, text="hello")
            assert refused.value.response["error"] == error
        with pytest.raises(SlackApiError) as refused:
            client.conversations_history(channel="#papers")  # history wants the id
        assert refused.value.response["error"] == "channel_not_found"
        assert client.conversations_history(channel="C0PAPERS")["messages"]
