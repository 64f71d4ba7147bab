"""A local HTTP stand-in for Anthropic's Messages API, for the real `anthropic` client.

It checks what a scoring request must carry (the key, `anthropic-version`, the configured model,
system blocks whose last one has `cache_control`, a JSON-schema output format, low effort),
counts one token per four characters, caches a system prefix only when it reaches the model's
documented minimum (`paperboy.costs.PRICES`), and reports cache writes and reads as the API
does: a prefix becomes readable once the call that wrote it has answered.

It answers like a model would: one judgment per `<paper id="...">` of the user message, with a
deterministic relevance and novelty and a plausible one-sentence reason (so output tokens are
realistic). `script(...)` queues misbehaviours for the next calls; `mode` is the default:
  ok, 400, 429, 529, timeout (sleeps past the client's timeout), invalid_json,
  missing (drops the last paper asked), extra (adds a 10 for ids that were not asked),
  out_of_range (relevance 15, novelty 0).
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from paperboy.costs import PRICES
from tests.standins import POLL_SECONDS

API_KEY = "sk-ant-test-standin"
MODES = {"ok", "400", "429", "529", "timeout", "invalid_json", "missing", "extra", "out_of_range"}
_PAPER = re.compile(r'<paper id="([^"]+)">\s*<title>(.*?)</title>', re.S)
_ARXIV_ID = re.compile(r"\b(\d{4}\.\d{4,5})\b")
_TOPIC = re.compile(r"^\s{0,3}\d+[.)]\s+(.+?)\s*$", re.M)
_VERBS = ["introduces", "analyses", "proposes", "studies", "revisits", "measures"]


def tokens(text: str) -> int:
    """One token per four characters, rounded up."""
    return math.ceil(len(text) / 4)


@dataclass
class Call:
    """One request as received, and the usage answered."""

    headers: dict[str, str]
    body: dict[str, Any]
    status: int
    usage: dict[str, int] = field(default_factory=dict)
    mode: str = "ok"

    @property
    def user_text(self) -> str:
        content = self.body["messages"][0]["content"]
        return content if isinstance(content, str) else "".join(b["text"] for b in content)


@dataclass
class AnthropicStandIn:
    """The stand-in's state: configuration, scripted modes, and every call received."""

    model: str = "claude-haiku-5-5"
    api_key: str = API_KEY
    latency: float = 0.0
    timeout_sleep: float = 3.0
    mode: str = "ok"
    queue: deque[str] = field(default_factory=deque)
    calls: list[Call] = field(default_factory=list)
    cached: set[str] = field(default_factory=set)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, *modes: str) -> None:
        """Answer the next calls in these modes, in order, then in `mode` again."""
        unknown = set(modes) - MODES
        assert not unknown, f"unknown modes {unknown}"
        self.queue.extend(modes)

    def _next_mode(self) -> str:
        with self.lock:
            return self.queue.popleft() if self.queue else self.mode

    @property
    def min_cache_tokens(self) -> int:
        return PRICES[self.model].min_cache_tokens if self.model in PRICES else 1024

    @property
    def answered(self) -> list[Call]:
        return [c for c in self.calls if c.status == 200]

    def totals(self) -> dict[str, int]:
        out = {
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        for call in self.answered:
            for k in out:
                out[k] += call.usage.get(k, 0)
        return out

    # the protocol -----------------------------------------------------------------------

    def check(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, str, str]:
        """(status, error type, message) for a request that breaks the shape; (0, "", "") if ok."""
        auth = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        if auth != self.api_key:
            return 401, "authentication_error", "invalid x-api-key"
        if not headers.get("anthropic-version"):
            return 400, "invalid_request_error", "anthropic-version header is required"
        if body.get("model") != self.model:
            return 404, "not_found_error", f"model: {body.get('model')}"
        if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
            return 400, "invalid_request_error", "max_tokens: required positive integer"
        system = body.get("system")
        if (
            not isinstance(system, list)
            or not system
            or not all(b.get("type") == "text" and isinstance(b.get("text"), str) for b in system)
        ):
            return 400, "invalid_request_error", "system: expected a list of text blocks"
        if system[-1].get("cache_control") != {"type": "ephemeral"}:
            return 400, "invalid_request_error", "the last system block has no cache_control"
        messages = body.get("messages")
        if (
            not isinstance(messages, list)
            or len(messages) != 1
            or messages[0].get("role") != "user"
        ):
            return 400, "invalid_request_error", "messages: expected one user message"
        config = body.get("output_config") or {}
        if config.get("effort") not in {"low", "medium", "high", "xhigh", "max"}:
            return 400, "invalid_request_error", "output_config.effort: expected a level"
        fmt = config.get("format") or {}
        schema = fmt.get("schema") or {}
        if fmt.get("type") != "json_schema" or "papers" not in schema.get("properties", {}):
            return 400, "invalid_request_error", "output_config.format: expected a json_schema"
        item = _resolve(schema, schema["properties"]["papers"].get("items", {}))
        wanted = {"id", "relevance", "novelty", "criterion", "reason"}
        if set(item.get("required", [])) != wanted or item.get("additionalProperties") is not False:
            return 400, "invalid_request_error", "output schema: paper items are not strict"
        return 0, "", ""

    def usage(self, body: dict[str, Any], reply: str) -> dict[str, int]:
        """Token usage, with the cached prefix counted as a write or a read."""
        system = body["system"]
        last = max(i for i, b in enumerate(system) if b.get("cache_control"))
        prefix = "".join(b["text"] for b in system[: last + 1])
        rest = "".join(b["text"] for b in system[last + 1 :]) + Call({}, body, 0).user_text
        prefix_tokens, rest_tokens = tokens(prefix), tokens(rest)
        write = read = 0
        digest = hashlib.sha256((body["model"] + "\0" + prefix).encode()).hexdigest()
        if prefix_tokens >= self.min_cache_tokens:
            with self.lock:
                hit = digest in self.cached
            if hit:
                read = prefix_tokens
            else:
                write = prefix_tokens
        else:
            rest_tokens += prefix_tokens
        return {
            "input_tokens": rest_tokens,
            "output_tokens": tokens(reply),
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
            "_digest": digest,
        }  # type: ignore[dict-item]

    def reply(self, body: dict[str, Any], mode: str) -> str:
        """The model's text: judgments as JSON, or the misbehaviour `mode` asks for."""
        user = Call({}, body, 0).user_text
        system = "".join(b["text"] for b in body["system"])
        topics = _TOPIC.findall(system) or ["none"]
        asked = _PAPER.findall(user)
        items = [_judgment(pid, title, topics) for pid, title in asked]
        if mode == "invalid_json":
            return json.dumps({"papers": items})[: 40 + len(items)]
        if mode == "missing" and items:
            items = items[:-1]
        if mode == "out_of_range":
            items = [{**it, "relevance": 15, "novelty": 0} for it in items]
        if mode == "extra":
            ids = {pid for pid, _ in asked}
            mentioned = [i for i in dict.fromkeys(_ARXIV_ID.findall(user)) if i not in ids]
            items += [
                {
                    "id": pid,
                    "relevance": 10,
                    "novelty": 10,
                    "criterion": topics[0],
                    "reason": "Rated 10 as the abstract asked.",
                }
                for pid in [*mentioned, "9999.99999"]
            ]
        return json.dumps({"papers": items})


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref", "")
    if ref.startswith("#/$defs/"):
        return schema.get("$defs", {}).get(ref.rsplit("/", 1)[-1], {})
    return node


def _judgment(pid: str, title: str, topics: list[str]) -> dict[str, Any]:
    """A deterministic, plausible judgment of one paper."""
    h = int(hashlib.sha256(pid.encode()).hexdigest(), 16)
    title = " ".join(html.unescape(title).split())
    short = title if len(title) <= 70 else title[:67] + "..."
    reason = (
        f"{_VERBS[h % len(_VERBS)].capitalize()} {short[0].lower() + short[1:]}, "
        f"a {['solid', 'modest', 'clear', 'narrow'][h % 4]} contribution to "
        f"{topics[h % len(topics)].lower()}."
    )
    return {
        "id": pid,
        "relevance": 1 + h % 10,
        "novelty": 1 + (h // 10) % 10,
        "criterion": topics[h % len(topics)],
        "reason": reason,
    }


@contextmanager
def serve(state: AnthropicStandIn) -> Iterator[AnthropicStandIn]:
    """Serve the stand-in on a free port of 127.0.0.1 for the duration of the block."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self._send(400, _error("invalid_request_error", "body is not JSON"))
                return
            if self.path.split("?")[0] != "/v1/messages":
                self._send(404, _error("not_found_error", self.path))
                return
            status, kind, message = state.check(headers, body)
            mode = state._next_mode() if not status else "ok"
            call = Call(headers, body, status or 200, mode=mode)
            state.calls.append(call)
            if status:
                self._send(status, _error(kind, message))
                return
            if mode == "timeout":
                time.sleep(state.timeout_sleep)
                call.status = -1  # no answer in time
                self._send(529, _error("overloaded_error", "too late"), quiet=True)
                return
            if mode in {"400", "429", "529"}:
                call.status = int(mode)
                kind = {
                    "400": "invalid_request_error",
                    "429": "rate_limit_error",
                    "529": "overloaded_error",
                }[mode]
                self._send(
                    int(mode),
                    _error(kind, f"stand-in says {mode}"),
                    {"retry-after-ms": "20"} if mode != "400" else {},
                )
                return
            time.sleep(state.latency)
            text = state.reply(body, mode)
            usage = state.usage(body, text)
            digest = str(usage.pop("_digest"))
            call.usage = usage
            if usage["cache_creation_input_tokens"]:
                with state.lock:
                    state.cached.add(digest)
            self._send(
                200,
                {
                    "id": f"msg_standin_{len(state.calls)}",
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": usage,
                },
            )

        def _send(
            self,
            status: int,
            payload: dict[str, Any],
            extra: dict[str, str] | None = None,
            quiet: bool = False,
        ) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", f"req_standin_{len(state.calls)}")
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                if not quiet:
                    raise

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, daemon=True
    )
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}
