"""A local HTTP stand-in for Anthropic's Messages API, for the real `anthropic` client.

It serves what Paperboy calls: `POST /v1/messages`, `POST /v1/messages/count_tokens` and the
Message Batches endpoints (create, retrieve, results, cancel; see `anthropic_batches.py`).

It checks what a scoring request must carry (the key, `anthropic-version`, the configured model,
system blocks whose last one has `cache_control`, a JSON-schema output format, low effort),
counts one token per `chars_per_token` characters (4 by default; 1 and 2 stand for tokenizers
that cut text finer), caches a system prefix only when it reaches the model's documented minimum
(`paperboy.costs.PRICES`), for the lifetime its `cache_control` asks (5 minutes or 1 hour,
refreshed by each read), and reports cache writes and reads as the API does: a prefix becomes
readable once the call that wrote it has answered. The token counter is, as documented, an
estimate: it counts `count_bias` (1%) fewer tokens than a call is billed for.

With `input_tokens_per_minute` set it enforces an input-tokens rate limit as the API does: a
token bucket of that size refilled over `window` seconds, counting uncached input (cache reads
are free of it), with `anthropic-ratelimit-input-tokens-*` headers on every answer and a 429
with `retry-after` when a request does not fit. A request sent before the `retry-after` it was
given is counted in `early`.

It answers like a model would: one judgment per `<paper id="...">` of the user message, with a
deterministic relevance and novelty and a plausible one-sentence reason (so output tokens are
realistic); like the model, it follows the prompt's rule that `reason` is empty below a relevance
when the prompt states one. `script(...)` queues misbehaviours for the next calls to
/v1/messages and `script_count(...)` for the counter; `mode` is the default:
  ok, 400, 429, 529, timeout (sleeps past the client's timeout), invalid_json,
  missing (drops the last paper asked), extra (adds a 10 for ids that were not asked),
  out_of_range (relevance 15, novelty 0), html (a 200 with a captive portal's HTML page),
  wrong_type (a 200 whose JSON is not a message), no_usage (a message without `usage`).
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
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from paperboy.costs import PRICES, Usage, dollars, price_for
from tests.standins import POLL_SECONDS

API_KEY = "sk-ant-test-standin"
MODES = {
    "ok",
    "400",
    "429",
    "529",
    "timeout",
    "invalid_json",
    "missing",
    "extra",
    "out_of_range",
    "html",
    "wrong_type",
    "no_usage",
}
PORTAL = b"<!doctype html><html><head><title>Sign in</title></head><body>Wi-Fi login</body></html>"
CACHE_SECONDS = {"5m": 300.0, "1h": 3600.0}
_PAPER = re.compile(r'<paper id="([^"]+)">\s*<title>(.*?)</title>', re.S)
_ARXIV_ID = re.compile(r"\b(\d{4}\.\d{4,5})\b")
_TOPIC = re.compile(r"^\s{0,3}\d+[.)]\s+(.+?)\s*$", re.M)
_REASONS_FROM = re.compile(r"whose relevance is below (\d+), `reason` is an empty string")
_VERBS = ["introduces", "analyses", "proposes", "studies", "revisits", "measures"]


@dataclass
class Call:
    """One request as received, and the usage answered."""

    headers: dict[str, str]
    body: dict[str, Any]
    status: int
    usage: dict[str, Any] = field(default_factory=dict)
    mode: str = "ok"
    at: float = 0.0

    @property
    def user_text(self) -> str:
        return user_text(self.body)

    @property
    def asked(self) -> list[str]:
        """The paper ids the request asked about."""
        return [pid for pid, _ in _PAPER.findall(self.user_text)]


def user_text(body: dict[str, Any]) -> str:
    content = body["messages"][0]["content"]
    return content if isinstance(content, str) else "".join(b["text"] for b in content)


@dataclass
class AnthropicStandIn:
    """The stand-in's state: configuration, scripted modes, and every call received."""

    model: str = "claude-haiku-5-5"
    api_key: str = API_KEY
    latency: float = 0.0
    count_latency: float = 0.0
    timeout_sleep: float = 3.0
    chars_per_token: int = 4
    count_bias: float = 0.01
    input_tokens_per_minute: int | None = None
    window: float = 60.0
    mode: str = "ok"
    count_mode: str = "ok"
    queue: deque[str] = field(default_factory=deque)
    count_queue: deque[str] = field(default_factory=deque)
    calls: list[Call] = field(default_factory=list)
    counts: list[Call] = field(default_factory=list)
    cached: dict[str, float] = field(default_factory=dict)  # prefix digest -> expiry
    batches: dict[str, Any] = field(default_factory=dict)
    batch_auto: bool = True
    batch_html: bool = False
    cancel_polls: int = 1
    batch_queue: deque[str] = field(default_factory=deque)
    early: int = 0
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _level: float | None = None
    _filled_at: float = 0.0
    _refused_at: float = 0.0
    _not_before: float = 0.0
    _drained: bool = False

    def script(self, *modes: str) -> None:
        """Answer the next calls to /v1/messages in these modes, in order, then in `mode`."""
        unknown = set(modes) - MODES
        assert not unknown, f"unknown modes {unknown}"
        self.queue.extend(modes)

    def script_count(self, *modes: str) -> None:
        """Answer the next token counts in these modes (ok, 400, 429, html, wrong_type)."""
        unknown = set(modes) - {"ok", "400", "429", "html", "wrong_type"}
        assert not unknown, f"unknown modes {unknown}"
        self.count_queue.extend(modes)

    def drain(self) -> None:
        """Find the input-token bucket empty at the next request, as when another client of the
        organisation used the minute. Emptied at the request, not now: with a window shortened
        for a test, a slow machine could refill it before the first request arrives."""
        with self.lock:
            self._drained = True

    def _next_mode(self, counting: bool = False) -> str:
        with self.lock:
            queue = self.count_queue if counting else self.queue
            return queue.popleft() if queue else (self.count_mode if counting else self.mode)

    def tokens(self, text: str) -> int:
        """One token per `chars_per_token` characters, rounded up."""
        return math.ceil(len(text) / self.chars_per_token)

    @property
    def min_cache_tokens(self) -> int:
        return PRICES[self.model].min_cache_tokens if self.model in PRICES else 1024

    @property
    def answered(self) -> list[Call]:
        return [c for c in self.calls if c.status == 200 and c.usage]

    @property
    def refused(self) -> list[Call]:
        """Calls answered 429 for the rate limit."""
        return [c for c in self.calls if c.status == 429 and c.mode == "ratelimit"]

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

    def billed(self, *, batch: bool = False) -> float:
        """What the answered calls cost at the model's list price, each priced on its own (the
        long-prompt tier is per request); with `batch`, what the batches' succeeded results cost
        at the batch price. Worked out from the usage answered, apart from Paperboy's ledger."""
        usages = [c.usage for c in self.answered]
        if batch:
            usages = [
                r["message"]["usage"]
                for b in self.batches.values()
                for r in b.results.values()
                if r["type"] == "succeeded"
            ]
        total = 0.0
        for u in usages:
            hour = (u.get("cache_creation") or {}).get("ephemeral_1h_input_tokens", 0)
            usage = Usage(
                input=u["input_tokens"],
                output=u["output_tokens"],
                cache_write=u["cache_creation_input_tokens"] - hour,
                cache_read=u["cache_read_input_tokens"],
                cache_write_1h=hour,
            )
            total += dollars(usage, price_for(self.model), batch=batch)
        return total

    # the protocol -----------------------------------------------------------------------

    def authorised(self, headers: dict[str, str]) -> tuple[int, str, str]:
        auth = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        if auth != self.api_key:
            return 401, "authentication_error", "invalid x-api-key"
        if not headers.get("anthropic-version"):
            return 400, "invalid_request_error", "anthropic-version header is required"
        return 0, "", ""

    def check(self, body: dict[str, Any], *, counting: bool = False) -> tuple[int, str, str]:
        """(status, error type, message) for a request that breaks the shape; (0, "", "") if ok."""
        if body.get("model") != self.model:
            return 404, "not_found_error", f"model: {body.get('model')}"
        if not counting and (not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1):
            return 400, "invalid_request_error", "max_tokens: required positive integer"
        system = body.get("system")
        if (
            not isinstance(system, list)
            or not system
            or not all(b.get("type") == "text" and isinstance(b.get("text"), str) for b in system)
        ):
            return 400, "invalid_request_error", "system: expected a list of text blocks"
        control = system[-1].get("cache_control") or {}
        if control.get("type") != "ephemeral" or control.get("ttl", "5m") not in CACHE_SECONDS:
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

    def prompt(self, body: dict[str, Any]) -> tuple[str, int, int, str]:
        """(prefix digest, prefix tokens, other input tokens, cache ttl) of a request."""
        system = body["system"]
        last = max(i for i, b in enumerate(system) if b.get("cache_control"))
        prefix = "".join(b["text"] for b in system[: last + 1])
        rest = "".join(b["text"] for b in system[last + 1 :]) + user_text(body)
        ttl = system[last]["cache_control"].get("ttl", "5m")
        digest = hashlib.sha256((body["model"] + "\0" + prefix).encode()).hexdigest()
        return digest, self.tokens(prefix), self.tokens(rest), ttl

    def count(self, body: dict[str, Any]) -> int:
        """What the token counter answers: the prompt's tokens, `count_bias` low."""
        _, prefix, rest, _ = self.prompt(body)
        return math.floor((prefix + rest) * (1 - self.count_bias))

    def uncached(self, body: dict[str, Any]) -> int:
        """The input tokens a request counts against the rate limit (cache reads are free)."""
        digest, prefix, rest, _ = self.prompt(body)
        with self.lock:
            hit = self.cached.get(digest, 0.0) > time.monotonic()
        return rest + (0 if hit and prefix >= self.min_cache_tokens else prefix)

    def usage(self, body: dict[str, Any], reply: str, *, batch: bool = False) -> dict[str, Any]:
        """Token usage, with the cached prefix counted as a write or a read; the prefix is
        cached (or its lifetime refreshed) from now on."""
        digest, prefix_tokens, rest_tokens, ttl = self.prompt(body)
        write = read = 0
        if prefix_tokens >= self.min_cache_tokens:
            now = time.monotonic()
            with self.lock:
                hit = self.cached.get(digest, 0.0) > now
                self.cached[digest] = now + CACHE_SECONDS[ttl]
            if hit:
                read = prefix_tokens
            else:
                write = prefix_tokens
        else:
            rest_tokens += prefix_tokens
        usage: dict[str, Any] = {
            "input_tokens": rest_tokens,
            "output_tokens": self.tokens(reply),
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": write if ttl == "5m" else 0,
                "ephemeral_1h_input_tokens": write if ttl == "1h" else 0,
            },
        }
        if batch:
            usage["service_tier"] = "batch"
        return usage

    def reply(self, body: dict[str, Any], mode: str) -> str:
        """The model's text: judgments as JSON, or the misbehaviour `mode` asks for."""
        user = user_text(body)
        system = "".join(b["text"] for b in body["system"])
        topics = _TOPIC.findall(system) or ["none"]
        asked = _PAPER.findall(user)
        items = [_judgment(pid, title, topics) for pid, title in asked]
        rule = _REASONS_FROM.search(system)
        if rule:
            items = [{**it, "reason": ""} if it["relevance"] < int(rule[1]) else it for it in items]
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

    def message(self, body: dict[str, Any], mode: str, *, batch: bool = False) -> dict[str, Any]:
        """A whole Message answering a scoring request (usage included)."""
        text = self.reply(body, mode)
        return {
            "id": f"msg_standin_{hashlib.sha256(text.encode()).hexdigest()[:12]}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": self.usage(body, text, batch=batch),
        }

    # the rate limit ---------------------------------------------------------------------

    def take(self, tokens: int) -> tuple[float, dict[str, str]]:
        """Take `tokens` from the input-token bucket: (seconds to wait, 0 if taken; headers)."""
        limit = self.input_tokens_per_minute
        if limit is None:
            return 0.0, {}
        now = time.monotonic()
        rate = limit / self.window
        with self.lock:
            # sent after the client could have read the 429 (50 ms), before its retry-after
            if self._refused_at + 0.05 < now < self._not_before:
                self.early += 1
            if self._drained:
                self._drained, self._level, self._filled_at = False, 0.0, now
            level = limit if self._level is None else self._level
            level = min(limit, level + (now - self._filled_at) * rate)
            wait = 0.0 if tokens <= level or level >= limit else (tokens - level) / rate
            if not wait:
                level -= tokens
            else:
                self._refused_at, self._not_before = now, now + wait
            self._level, self._filled_at = level, now
        full = datetime.now(UTC) + timedelta(seconds=(limit - max(level, 0)) / rate)
        headers = {
            "anthropic-ratelimit-input-tokens-limit": str(limit),
            "anthropic-ratelimit-input-tokens-remaining": str(max(0, int(level))),
            "anthropic-ratelimit-input-tokens-reset": full.isoformat().replace("+00:00", "Z"),
        }
        if wait:
            # the API says whole seconds; a window shortened for a test says milliseconds
            seconds = math.ceil(wait) if self.window >= 60 else round(wait + 0.005, 3)
            headers["retry-after"] = str(seconds)
        return wait, headers


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


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


ERROR_KINDS = {
    "400": "invalid_request_error",
    "429": "rate_limit_error",
    "529": "overloaded_error",
}


class Handler(BaseHTTPRequestHandler):
    """Routes the API's paths; the stand-in's state is the server's `state`."""

    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    @property
    def state(self) -> AnthropicStandIn:
        return self.server.state

    def _headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def _body(self) -> dict[str, Any] | None:
        length = int(self.headers.get("content-length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self.send_json(400, _error("invalid_request_error", "body is not JSON"))
            return None
        return body if isinstance(body, dict) else {}

    def do_GET(self) -> None:
        from tests.standins import anthropic_batches

        status, kind, message = self.state.authorised(self._headers())
        if status:
            self.send_json(status, _error(kind, message))
            return
        anthropic_batches.get(self, self.path.split("?")[0])

    def do_POST(self) -> None:
        from tests.standins import anthropic_batches

        headers = self._headers()
        body = self._body()
        if body is None:
            return
        path = self.path.split("?")[0]
        status, kind, message = self.state.authorised(headers)
        if status:
            self.state.calls.append(Call(headers, body, status))
            self.send_json(status, _error(kind, message))
            return
        if path == "/v1/messages":
            self.messages(headers, body)
        elif path == "/v1/messages/count_tokens":
            self.count_tokens(headers, body)
        elif path.startswith("/v1/messages/batches"):
            anthropic_batches.post(self, path, body)
        else:
            self.send_json(404, _error("not_found_error", self.path))

    def count_tokens(self, headers: dict[str, str], body: dict[str, Any]) -> None:
        state = self.state
        status, kind, message = state.check(body, counting=True)
        mode = state._next_mode(counting=True) if not status else "ok"
        call = Call(headers, body, status or 200, mode=mode, at=time.monotonic())
        state.counts.append(call)
        time.sleep(state.count_latency)
        if status or mode in {"400", "429"}:
            call.status = status or int(mode)
            self.send_json(
                call.status,
                _error(kind or ERROR_KINDS[mode], message or f"stand-in says {mode}"),
                {"retry-after-ms": "20"} if mode == "429" else None,
            )
        elif mode == "html":
            self.send_bytes(200, PORTAL, "text/html; charset=utf-8")
        elif mode == "wrong_type":
            self.send_json(200, {"type": "message", "tokens": "many"})
        else:
            self.send_json(200, {"input_tokens": state.count(body)})

    def messages(self, headers: dict[str, str], body: dict[str, Any]) -> None:
        state = self.state
        status, kind, message = state.check(body)
        mode = state._next_mode() if not status else "ok"
        call = Call(headers, body, status or 200, mode=mode, at=time.monotonic())
        state.calls.append(call)
        if status:
            self.send_json(status, _error(kind, message))
            return
        wait, limits = state.take(state.uncached(body)) if mode == "ok" else (0.0, {})
        if wait:
            call.status, call.mode = 429, "ratelimit"
            self.send_json(429, _error("rate_limit_error", "input tokens per minute"), limits)
            return
        if mode == "timeout":
            time.sleep(state.timeout_sleep)
            call.status = -1  # no answer in time
            self.send_json(529, _error("overloaded_error", "too late"))
            return
        if mode in ERROR_KINDS:
            call.status = int(mode)
            extra = {"retry-after-ms": "20"} if mode != "400" else None
            self.send_json(int(mode), _error(ERROR_KINDS[mode], f"stand-in says {mode}"), extra)
            return
        time.sleep(state.latency)
        if mode == "html":
            self.send_bytes(200, PORTAL, "text/html; charset=utf-8")
            return
        if mode == "wrong_type":
            self.send_json(200, {"type": "message", "content": "judgments", "usage": "many"})
            return
        reply = state.message(body, mode)
        call.usage = reply["usage"]
        if mode == "no_usage":
            call.usage = {}
            del reply["usage"]
        self.send_json(200, reply, limits)

    # sending ------------------------------------------------------------------------------

    def send_json(
        self,
        status: int,
        payload: Any,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_bytes(status, json.dumps(payload).encode(), "application/json", extra)

    def send_bytes(
        self,
        status: int,
        data: bytes,
        kind: str,
        extra: dict[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", f"req_standin_{len(self.state.calls)}")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (it timed out, or its process was killed)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    state: AnthropicStandIn


@contextmanager
def serve(state: AnthropicStandIn) -> Iterator[AnthropicStandIn]:
    """Serve the stand-in on a free port of 127.0.0.1 for the duration of the block."""
    server = Server(("127.0.0.1", 0), Handler)
    server.state = state
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
