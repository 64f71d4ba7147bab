"""Signed email links: a reader's vote on a paper, or their unsubscribe, as a token (pure).

A token is `<payload>.<signature>`: the payload is base64url JSON (purpose, reader, paper, vote,
expiry in Unix seconds) and the signature an HMAC-SHA256 of the payload text under LINK_SECRET.
No login is needed: whoever holds the link may do what it says, until it expires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, cast

from paperboy.models import VoteValue

Purpose = Literal["vote", "unsubscribe"]
_CODES: dict[str, Purpose] = {"v": "vote", "u": "unsubscribe"}


class LinkError(Exception):
    """A token that must not be acted on: forged, altered, expired, or for something else."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class Link:
    """What a verified token allows."""

    purpose: Purpose
    reader: str
    expires: datetime
    paper: str | None = None
    vote: VoteValue = 0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, payload: str) -> str:
    # Signed over the payload's text, compared as text: a changed character always shows,
    # even one in the unused low bits of base64's last character.
    return _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def sign(secret: bytes, link: Link) -> str:
    """The token for `link`."""
    if not secret:
        raise ValueError("no link secret: set LINK_SECRET")
    body = {"a": link.purpose[0], "r": link.reader, "e": int(link.expires.timestamp())}
    if link.paper is not None:
        body.update(p=link.paper, v=link.vote)
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_signature(secret, payload)}"


def vote_token(
    secret: bytes, reader: str, paper: str, vote: int, now: datetime, ttl_days: int
) -> str:
    """A token that lets `reader` cast `vote` (+1, -1, or 0 to undo) on `paper`."""
    if vote not in (1, -1, 0):
        raise ValueError(f"a vote is +1, -1 or 0, not {vote}")
    return sign(
        secret, Link("vote", reader, now + timedelta(days=ttl_days), paper, cast(VoteValue, vote))
    )


def unsubscribe_token(secret: bytes, reader: str, now: datetime, ttl_days: int) -> str:
    """A token that turns `reader`'s email digest off."""
    return sign(secret, Link("unsubscribe", reader, now + timedelta(days=ttl_days)))


def verify(secret: bytes, token: str, now: datetime, purpose: Purpose | None = None) -> Link:
    """The link a token carries; LinkError when it is forged, altered, expired or misused."""
    payload, dot, signature = token.partition(".")
    if not dot or not payload or not signature:
        raise LinkError("This link is incomplete: it may have been cut when it was copied.")
    expected = _signature(secret, payload)
    if not hmac.compare_digest(
        expected.encode("ascii"), signature.encode("ascii", errors="replace")
    ):
        raise LinkError("This link is not valid: it was altered, or it was not made by Paperboy.")
    try:
        body = json.loads(_unb64(payload))
        link = Link(
            purpose=_CODES[body["a"]],
            reader=str(body["r"]),
            expires=datetime.fromtimestamp(int(body["e"]), UTC),
            paper=str(body["p"]) if "p" in body else None,
            vote=cast(VoteValue, int(body.get("v", 0))),
        )
        if link.vote not in (1, -1, 0):
            raise ValueError(f"vote {link.vote}")
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        # Signed by us yet unreadable: only a changed secret or format gets here.
        raise LinkError("This link is not valid: Paperboy cannot read it.") from exc
    if now >= link.expires:
        raise LinkError(
            f"This link expired on {link.expires:%d %b %Y}: links in Paperboy's "
            "emails work for a limited time. Use the links in a newer email.",
            expired=True,
        )
    if purpose is not None and link.purpose != purpose:
        raise LinkError(f"This link is for {link.purpose}, not for {purpose}.")
    return link
