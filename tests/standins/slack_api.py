"""A local HTTP stand-in for Slack's Web API on 127.0.0.1, for `WebClient(base_url=...)`.

Speaks the methods Paperboy calls (auth.test, chat.postMessage, chat.update, chat.postEphemeral,
conversations.history, conversations.replies, views.publish) and a few it may call next
(chat.getPermalink, conversations.open, users.info, and the files.getUploadURLExternal upload
with files.completeUploadExternal), and `response_url` posts. It keeps the channels' messages
and threads and the app's DMs, and records everything it received.

It refuses what Slack refuses: a bad token; a method whose scope the app's manifest does not
grant (`missing_scope`, see `slack_app.py`: by default the repository's `slack/manifest.json`);
a message to a person while the app's Messages tab is off (`messages_tab_disabled`); a Home view
while the Home tab is off (`not_enabled`); over 50 blocks, a section over 3,000 characters; a
channel the bot was never invited to (`not_in_channel` for a public one, `channel_not_found` for
a private one, as Slack hides those) and a name where an id is wanted (`channel_not_found`).
Faults on demand: 429s with `Retry-After`, one message a second per channel, a post answered
with a 500 before or after it lands, a slow answer, and a hook called as each post lands (the
fault suite kills a worker there).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

from slack_sdk.signature import SignatureVerifier

from tests.standins import POLL_SECONDS
from tests.standins.slack_app import METHOD_SCOPES, SlackApp, read_manifest

Answer = tuple[int, dict[str, Any], dict[str, str]]
"""(HTTP status, JSON body, extra headers)."""

TOKEN = "xoxb-test-token"
WAIT = "X-Stand-In-Wait"
"""An answer's seconds to wait before it is sent (never sent itself)."""
BOT_USER = "UPAPERBOY"


@dataclass
class SlackStandIn:
    """The stand-in's state: messages by channel, what it received, and the faults to play."""

    token: str = TOKEN
    manifest: dict[str, Any] = field(default_factory=read_manifest)
    """The app's manifest: the token holds its bot scopes, its App Home settings apply."""
    kinds: dict[str, str] = field(default_factory=dict)
    """Conversation type by id, where the id does not say it: a private channel's id starts with
    C like a public one's. Otherwise C is a public_channel, G a private_channel, D an im."""
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Channels the tests declare, by id: {"name": "papers", "member": False}. Any other well-formed
    id (C…, G…) is a channel the bot is in, as the tests' own channels are."""
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The people users.info knows, by id: {"name", "real_name", "email", "tz"}."""
    url: str = ""
    """The Web API base URL, for SLACK_API_URL (ends with /api/)."""
    root: str = ""
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    dms: dict[str, str] = field(default_factory=dict)
    """The DMs the app opened: a person's id -> D… (the app's Messages tab with them), or
    comma-joined ids -> G… (a group DM)."""
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Uploaded files by id: {"id", "name", "length", "content", "title"}."""
    page_size: int = 100
    rate_limit_next: int = 0
    """Answer this many of the next calls with 429 and `Retry-After`."""
    retry_after: int = 1
    one_per_second: bool = False
    """Refuse a second chat.postMessage to a channel within a second, as Slack does."""
    crash_on_post: int | None = None
    """The n-th chat.postMessage (1-based) fails with a 500: after storing it ("after"), or
    before ("before")."""
    crash_mode: str = "after"
    post_faults: dict[int, str] = field(default_factory=dict)
    """By chat.postMessage number (1-based): "before" (a 500, nothing lands), "after" (it lands,
    then a 500) or "slow" (it lands, and the answer waits `slow_seconds`)."""
    slow_seconds: float = 5.0
    """How long a "slow" post's answer waits."""
    on_post: Callable[[int], None] | None = None
    """Called as each chat.postMessage lands, before it is answered, with the number of thread
    replies landed so far."""
    rate_limited: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: int = 0
    _posts: int = 0
    _last_post: dict[str, float] = field(default_factory=dict)
    app: SlackApp = field(init=False)

    def __post_init__(self) -> None:
        self.app = SlackApp.of(self.manifest)

    # what tests read ----------------------------------------------------------------------

    def calls(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r["args"] for r in self.received if r["method"] == method]

    def top_level(self, channel: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages.get(channel, []) if "thread_ts" not in m]

    def replies(self, channel: str, parent: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages.get(channel, []) if m.get("thread_ts") == parent]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self.lock:
            return next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)

    def snapshot(self) -> dict[str, Any]:
        """Messages, Home views and call counts, as JSON."""
        with self.lock:
            counts: dict[str, int] = {}
            for record in self.received:
                counts[record["method"]] = counts.get(record["method"], 0) + 1
            return {
                "messages": self.messages,
                "views": self.views,
                "counts": counts,
                "rate_limited": self.rate_limited,
            }

    # the methods ------------------------------------------------------------------------

    def _next_ts(self) -> str:
        self._ts += 1
        return f"1750000000.{self._ts:06d}"

    def handle(self, method: str, args: dict[str, Any]) -> Answer:
        """(status, JSON body, headers) for one call."""
        with self.lock:
            self.received.append({"method": method, "args": args, "at": time.monotonic()})
            if self.rate_limit_next > 0:
                self.rate_limit_next -= 1
                self.rate_limited += 1
                return (
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(self.retry_after)},
                )
            if method.startswith("respond/"):
                return 200, {"ok": True}, {}
            if args.get("_token") != self.token:
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            handler = getattr(self, "_" + method.replace(".", "_"), None)
            if handler is None:
                return 200, {"ok": False, "error": "unknown_method"}, {}
            if method not in METHOD_SCOPES:
                detail = f"add {method}'s scopes from its page at docs.slack.dev to slack_app.py"
                return 500, {"ok": False, "error": "fatal_error", "detail": detail}, {}
            granted = {"x-oauth-scopes": ",".join(self.app.scopes)}
            needed = self.app.needed(method, self._reaches(method, args))
            if needed:
                return 200, self.app.refusal(needed), granted
            status, reply, headers = handler(args)
            return status, reply, {**headers, **granted}

    def upload(self, file_id: str, content: bytes) -> tuple[int, str]:
        """(status, text) for the bytes of a file POSTed to its upload URL."""
        with self.lock:
            self.received.append(
                {"method": "upload", "args": {"file": file_id}, "at": time.monotonic()}
            )
            if file_id not in self.files:
                return 404, "file not found"
            self.files[file_id]["content"] = content
            return 200, f"OK - {len(content)}"

    def conversation_type(self, channel: str) -> str:
        """public_channel, private_channel, mpim or im: what kind of conversation `channel` is."""
        if channel in self.kinds:
            return self.kinds[channel]
        return {"D": "im", "G": "private_channel"}.get(channel[:1], "public_channel")

    def _reaches(self, method: str, args: dict[str, Any]) -> str:
        """The kind of conversation a call reaches (which *:history or *:write scope it needs)."""
        users = [u for u in str(args.get("users") or "").split(",") if u]
        if method == "conversations.open" and users:
            return "im" if len(users) == 1 else "mpim"
        return self.conversation_type(str(args.get("channel") or ""))

    def _dm(self, users: list[str]) -> str:
        """The app's DM with these people, opened on first use."""
        key, letter = ",".join(sorted(users)), "D" if len(users) == 1 else "G"
        n = len(self.dms)
        while key not in self.dms:
            n += 1
            if f"{letter}{n:08d}" not in self.messages:
                self.dms[key] = f"{letter}{n:08d}"
                self.kinds[self.dms[key]] = "im" if letter == "D" else "mpim"
        return self.dms[key]

    def _in_channel(self, channel: str, by_name: bool = False) -> tuple[str, Answer | None]:
        """`channel` as an id, or Slack's refusal: a channel the bot is not in, or one that does
        not exist. Only chat.postMessage (`by_name`) takes a channel's name (#papers) instead."""
        if by_name and not re.match(r"^[CGD][A-Z0-9]+$", channel):
            name = channel.removeprefix("#")
            found = [cid for cid, c in self.channels.items() if c.get("name") == name]
            if not found:
                return channel, (200, {"ok": False, "error": "channel_not_found"}, {})
            channel = found[0]
        if not re.match(r"^[CGD][A-Z0-9]+$", channel):
            return channel, (200, {"ok": False, "error": "channel_not_found"}, {})
        known = self.channels.get(channel)
        if known is None or known.get("member", True):
            return channel, None
        hidden = self.conversation_type(channel) != "public_channel"
        error = "channel_not_found" if hidden else "not_in_channel"
        return channel, (200, {"ok": False, "error": error}, {})

    def _to_person(self, channel: str) -> tuple[str, Answer | None]:
        """`channel`, or the app's DM when it names a person; refused while the Messages tab is
        off (its read-only setting only stops people writing to the app)."""
        person = channel.startswith(("U", "W"))
        if not person and not (channel.startswith("D") and channel in self.dms.values()):
            return channel, None
        if not self.app.messages_tab:
            return channel, (200, {"ok": False, "error": "messages_tab_disabled"}, {})
        return (self._dm([channel]) if person else channel), None

    def _auth_test(self, args: dict[str, Any]) -> Answer:
        return (
            200,
            {
                "ok": True,
                "user_id": BOT_USER,
                "bot_id": "BPAPERBOY",
                "team_id": "T0TEAM",
                "team": "Paperboy Lab",
                "user": "paperboy",
                "url": "https://example.slack.com/",
            },
            {},
        )

    def _chat_postMessage(self, args: dict[str, Any]) -> Answer:
        channel, refused = self._to_person(str(args.get("channel", "")))
        if refused:
            return refused
        if not channel.startswith("D"):
            channel, refused = self._in_channel(channel, by_name=True)
            if refused:
                return refused
        error = invalid_blocks(args.get("blocks"), 50)
        if error:
            return 200, {"ok": False, "error": "invalid_blocks", "detail": error}, {}
        now = time.monotonic()
        if self.one_per_second and now - self._last_post.get(channel, -10.0) < 1.0:
            self.rate_limited += 1
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
        self._posts += 1
        crash = self._posts == self.crash_on_post
        fault = self.post_faults.get(self._posts) or (self.crash_mode if crash else None)
        if fault == "before":
            return 500, {"ok": False, "error": "internal_error"}, {}
        self._last_post[channel] = now
        message = {
            "type": "message",
            "user": BOT_USER,
            "ts": self._next_ts(),
            "text": args.get("text", ""),
            "blocks": args.get("blocks") or [],
            "metadata": args.get("metadata"),
            "unfurl_links": args.get("unfurl_links"),
        }
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        self.messages.setdefault(channel, []).append(message)
        if self.on_post is not None:
            self.on_post(sum("thread_ts" in m for ms in self.messages.values() for m in ms))
        if fault == "after":
            return 500, {"ok": False, "error": "internal_error"}, {}
        wait = {WAIT: str(self.slow_seconds)} if fault == "slow" else {}
        reply = {"ok": True, "channel": channel, "ts": message["ts"], "message": message}
        return 200, reply, wait

    def _chat_update(self, args: dict[str, Any]) -> Answer:
        error = invalid_blocks(args.get("blocks"), 50)
        if error:
            return 200, {"ok": False, "error": "invalid_blocks", "detail": error}, {}
        channel, ts = str(args.get("channel")), str(args.get("ts"))
        for message in self.messages.get(channel, []):
            if message["ts"] == ts:
                message.update(text=args.get("text", ""), blocks=args.get("blocks") or [])
                return 200, {"ok": True, "channel": channel, "ts": ts, "text": message["text"]}, {}
        return 200, {"ok": False, "error": "message_not_found"}, {}

    def _chat_postEphemeral(self, args: dict[str, Any]) -> Answer:
        if not args.get("user") or not args.get("channel"):
            return 200, {"ok": False, "error": "invalid_arguments"}, {}
        _, refused = self._to_person(str(args["channel"]))
        if refused:
            return refused
        return 200, {"ok": True, "message_ts": self._next_ts()}, {}

    def _chat_getPermalink(self, args: dict[str, Any]) -> Answer:
        channel, ts = str(args.get("channel")), str(args.get("message_ts"))
        found = next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)
        if found is None:
            return 200, {"ok": False, "error": "message_not_found"}, {}
        link = f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        if found.get("thread_ts"):
            link += f"?thread_ts={found['thread_ts']}&cid={channel}"
        return 200, {"ok": True, "channel": channel, "permalink": link}, {}

    def _conversations_open(self, args: dict[str, Any]) -> Answer:
        users = [u for u in str(args.get("users") or "").split(",") if u]
        channel = str(args.get("channel") or "")
        if len(users) > 8:
            return 200, {"ok": False, "error": "too_many_users"}, {}
        if users:
            return 200, {"ok": True, "channel": {"id": self._dm(users)}}, {}
        if not channel:
            return 200, {"ok": False, "error": "users_list_not_supplied"}, {}
        if channel in self.dms.values():
            return 200, {"ok": True, "channel": {"id": channel}}, {}
        return 200, {"ok": False, "error": "channel_not_found"}, {}

    def _users_info(self, args: dict[str, Any]) -> Answer:
        user = str(args.get("user") or "")
        person = self.users.get(user)
        if person is None:
            return 200, {"ok": False, "error": "user_not_found"}, {}
        profile = {"real_name": person.get("real_name", ""), "display_name": person.get("name", "")}
        if person.get("email") and "users:read.email" in self.app.scopes:
            profile["email"] = person["email"]  # users:read alone does not show it
        found = {"id": user, "name": person.get("name", ""), "real_name": profile["real_name"]}
        # Slack gives every person a time zone: theirs, or their workspace's.
        tz = str(person.get("tz") or "America/Los_Angeles")
        offset = datetime.now(ZoneInfo(tz)).utcoffset()
        found.update(tz=tz, tz_label=tz, tz_offset=int(offset.total_seconds()) if offset else 0)
        return 200, {"ok": True, "user": {**found, "profile": profile}}, {}

    def _files_getUploadURLExternal(self, args: dict[str, Any]) -> Answer:
        name, length = str(args.get("filename") or ""), int(args.get("length") or 0)
        if length <= 0:
            return 200, {"ok": False, "error": "missing_argument"}, {}
        if not name:
            return 200, {"ok": False, "error": "invalid_arguments"}, {}
        file_id = f"F{len(self.files) + 1:08d}"
        self.files[file_id] = {"id": file_id, "name": name, "length": length, "content": None}
        upload_url = f"{self.root}/upload/{file_id}"
        return 200, {"ok": True, "upload_url": upload_url, "file_id": file_id}, {}

    def _files_completeUploadExternal(self, args: dict[str, Any]) -> Answer:
        wanted = args.get("files") or []
        channel = str(args.get("channel_id") or "")
        if channel and not re.match(r"^[CGDZ][A-Z0-9]+$", channel):
            # A person's id is refused: a direct message is its conversation's D… id.
            detail = "input must match regex pattern: ^[CGDZ][A-Z0-9]{8,}$"
            return 200, {"ok": False, "error": "invalid_arguments", "detail": detail}, {}
        done = [self.files.get(str(f.get("id"))) for f in wanted]
        if not wanted or any(f is None or f["content"] is None for f in done):
            return 200, {"ok": False, "error": "file_not_found"}, {}
        shared: list[dict[str, Any]] = []
        for asked, known in zip(wanted, done, strict=True):
            assert known is not None
            known["title"] = asked.get("title") or known["name"]
            shared.append({k: v for k, v in known.items() if k != "content"})
        if channel:
            message = {
                "type": "message",
                "user": BOT_USER,
                "ts": self._next_ts(),
                "text": args.get("initial_comment", ""),
                "files": shared,
            }
            if args.get("thread_ts"):
                message["thread_ts"] = args["thread_ts"]
            self.messages.setdefault(channel, []).append(message)
        return 200, {"ok": True, "files": shared}, {}

    def _views_publish(self, args: dict[str, Any]) -> Answer:
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        error = invalid_blocks((view or {}).get("blocks"), 100)
        if error:
            return 200, {"ok": False, "error": "invalid_arguments", "detail": error}, {}
        if (view or {}).get("type") == "home" and not self.app.home_tab:
            return 200, {"ok": False, "error": "not_enabled"}, {}
        self.views[str(args.get("user_id"))] = view or {}
        return 200, {"ok": True, "view": view}, {}

    def _page(self, found: list[dict[str, Any]], args: dict[str, Any]) -> dict[str, Any]:
        start = int(args.get("cursor") or 0)
        size = min(int(args.get("limit") or self.page_size), self.page_size)
        metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        page = [
            m if metadata else {k: v for k, v in m.items() if k != "metadata"}
            for m in found[start : start + size]
        ]
        more = start + size < len(found)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + size) if more else ""},
        }

    def _conversations_replies(self, args: dict[str, Any]) -> Answer:
        channel, ts = str(args.get("channel")), str(args.get("ts"))
        channel, refused = self._in_channel(channel)
        if refused:
            return refused
        thread = [
            m for m in self.messages.get(channel, []) if m["ts"] == ts or m.get("thread_ts") == ts
        ]
        if not thread:
            return 200, {"ok": False, "error": "thread_not_found"}, {}
        return 200, self._page(thread, args), {}

    def _conversations_history(self, args: dict[str, Any]) -> Answer:
        channel, refused = self._in_channel(str(args.get("channel")))
        if refused:
            return refused
        found = [m for m in reversed(self.messages.get(channel, [])) if "thread_ts" not in m]
        return 200, self._page(found, args), {}


def signed(
    secret: str,
    body: str,
    timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    """The headers Slack sends with `body`, signed with the app's signing secret."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature or "",
        "Content-Type": content_type,
    }


def interaction(payload: dict[str, Any]) -> str:
    """A form body carrying an interactive payload, as Slack posts it."""
    return urlencode({"payload": json.dumps(payload)})


def click(
    user: str, action_id: str, message: dict[str, Any], channel: str, response_url: str = ""
) -> dict[str, Any]:
    """A `block_actions` payload for a click on one of `message`'s buttons."""
    button = next(
        e
        for b in message["blocks"]
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    )
    return {
        "type": "block_actions",
        "team": {"id": "T0TEAM"},
        "api_app_id": "A0PAPERBOY",
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEAM"},
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
            "is_ephemeral": False,
            "thread_ts": message.get("thread_ts"),
        },
        "channel": {"id": channel, "name": "papers"},
        "message": {k: v for k, v in message.items() if k != "metadata"},
        "response_url": response_url,
        "trigger_id": "1.2.3",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "x",
                "value": button["value"],
                "action_ts": str(time.time()),
            }
        ],
    }


def command(user: str, text: str, response_url: str = "") -> str:
    """A form body of `/paperboy <text>`, as Slack posts it."""
    return urlencode(
        {
            "command": "/paperboy",
            "text": text,
            "user_id": user,
            "team_id": "T0TEAM",
            "channel_id": "C0PAPERS",
            "response_url": response_url,
            "trigger_id": "1.2.3",
            "api_app_id": "A0PAPERBOY",
        }
    )


def invalid_blocks(raw: Any, limit: int) -> str | None:
    """Why Slack would refuse these blocks, or None."""
    if raw is None:
        return None
    found = json.loads(raw) if isinstance(raw, str) else raw
    if len(found) > limit:
        return f"{len(found)} blocks"
    for block in found:
        text = (block.get("text") or {}).get("text", "")
        if block.get("type") == "section" and len(text) > 3000:
            return "section text over 3000 characters"
    return None


def _args(handler: BaseHTTPRequestHandler, body: bytes) -> dict[str, Any]:
    query = urlsplit(handler.path).query
    args: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
    kind = handler.headers.get("Content-Type", "")
    if body and "json" in kind:
        args.update(json.loads(body))
    elif body:
        args.update({k: v[-1] for k, v in parse_qs(body.decode()).items()})
    for name in ("blocks", "metadata", "view", "files"):
        if isinstance(args.get(name), str):
            with suppress(ValueError):
                args[name] = json.loads(args[name])
    auth = handler.headers.get("Authorization", "")
    args["_token"] = auth.removeprefix("Bearer ").strip() or args.pop("token", None)
    return args


class _Server(ThreadingHTTPServer):
    # Slack takes every connection: socketserver's backlog of 5 resets some when two web
    # processes' follow-up threads call at once, and their retries would distort a benchmark
    request_queue_size = 128


@contextmanager
def serve(state: SlackStandIn | None = None, port: int = 0) -> Iterator[SlackStandIn]:
    """Serve the stand-in on a free port of 127.0.0.1 for the duration of the block."""
    state = state or SlackStandIn()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path
            method = path.removeprefix("/api/").removeprefix("/")
            kind = "application/json; charset=utf-8"
            reply: dict[str, Any] | str
            if method == "_state":  # for a stand-in run in its own process (bench/votes.py)
                status, reply, headers = 200, state.snapshot(), {}
            elif path.startswith("/upload/"):  # a file's bytes, to the URL files.* handed out
                status, text = state.upload(path.removeprefix("/upload/"), body)
                reply, headers, kind = text, {}, "text/plain; charset=utf-8"
            else:
                status, reply, headers = state.handle(method, _args(self, body))
            # A slow answer waits outside the lock: other calls go on meanwhile.
            time.sleep(float(headers.pop(WAIT, 0)))
            data = (reply if isinstance(reply, str) else json.dumps(reply)).encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, *args: object) -> None:
            pass

    httpd = _Server(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    state.root = f"http://127.0.0.1:{httpd.server_address[1]}"
    state.url = state.root + "/api/"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


if __name__ == "__main__":
    import argparse

    options = argparse.ArgumentParser(description="Serve the Slack Web API stand-in.")
    options.add_argument("--port", type=int, default=0)
    port = options.parse_args().port
    ThreadingHTTPServer.allow_reuse_address = True
    with serve(SlackStandIn(), port) as running:
        print(running.url, flush=True)
        threading.Event().wait()
