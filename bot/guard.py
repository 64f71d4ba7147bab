"""What a request to /slack/events must be before Bolt sees it, so that nothing is done for one
that fails: no bigger than MAX_BODY, signed with the signing secret within the last five
minutes (any malformed signature header is a failed signature: 401), and shaped as Slack sends
(a form with a JSON object as its payload, or a JSON object: otherwise 400).
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

MAX_BODY = 1024 * 1024
"""The largest request body accepted, in bytes (Slack's own are a few kilobytes)."""
MAX_AGE_SECONDS = 5 * 60
"""How old a request's timestamp may be: older ones may be replays."""

OBJECTS = ("user", "team", "channel", "container", "message", "view", "event", "enterprise")
"""Fields of Slack's bodies that are objects when present."""


class Refused(Exception):
    """A request that is not served, with its HTTP status."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


def check_signature(
    secret: str, stamp: str, signature: str, body: bytes, now: Callable[[], float] = time.time
) -> None:
    """Raise Refused(401) unless the body is signed with `secret`, recently: `stamp` and
    `signature` are the X-Slack-Request-Timestamp and X-Slack-Signature headers."""
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12) or not signature:
        raise Refused(401, "a missing or malformed signature header")
    if abs(now() - int(stamp)) > MAX_AGE_SECONDS:
        raise Refused(401, "a stale timestamp")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(401, "a body that is not UTF-8 cannot be signed as Slack signs") from None
    expected = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=text) or ""
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise Refused(401, "a wrong signature")


def check_shape(content_type: str, body: bytes) -> None:
    """Raise Refused(400) unless the body is a form whose `payload` (if any) is a JSON object, or
    a JSON object, with Slack's object fields objects and `actions` a list of objects."""
    text = body.decode("utf-8")
    if "application/json" in content_type:
        data = _json(text)
    else:
        form = parse_qs(text, keep_blank_values=True)
        if "payload" not in form:
            return  # a slash command: plain form fields
        data = _json(form["payload"][0])
    for name in OBJECTS:
        if name in data and not isinstance(data[name], dict):
            raise Refused(400, f"its {name} is not an object")
    actions = data.get("actions")
    if actions is not None and not (
        isinstance(actions, list) and all(isinstance(a, dict) for a in actions)
    ):
        raise Refused(400, "its actions are not a list of objects")


def _json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        raise Refused(400, "a payload that is not JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "a payload that is not a JSON object")
    return data
