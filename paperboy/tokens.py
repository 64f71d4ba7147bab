"""Signed email links: a reader's vote on a paper, a paper saved to (or removed from) their
reading list, their unsubscribe, or the confirmation of an address they set on Home, as a token
(pure).

A token is `<payload>.<signature>`, both base64url. The payload is short text: for a vote,
`v`, the vote (`+`, `-` or `0`) and the expiry (Unix seconds, base 36), then the reader and the
paper, each on its own line; for a save, `s`, `+` (save) or `-` (remove) and the expiry, then
the reader and the paper; for an unsubscribe, `u` and the reader; for a confirmation, `c` and
the expiry, then the reader and the address. The signature is the first 16 bytes of an
HMAC-SHA256 of the payload text under LINK_SECRET. Vote and save links expire after
LINK_TTL_DAYS, confirmation links after CONFIRM_HOURS; unsubscribe links never do, so a reader
can always leave from any old email.

Links sent before this format carry a JSON payload (purpose, reader, paper, vote, expiry) and
the whole HMAC; they are still read, and an unsubscribe among them works whatever its expiry.
No login is needed: whoever holds the link may do what it says.
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

Purpose = Literal["vote", "save", "unsubscribe", "confirm"]
_CODES: dict[str, Purpose] = {"v": "vote", "u": "unsubscribe"}
_VOTES: dict[str, VoteValue] = {"+": 1, "-": -1, "0": 0}
SIGNATURE_BYTES = 16
"""Bytes of the HMAC a token carries: 128 bits, beyond guessing, and half a link shorter."""
CONFIRM_HOURS = 48
"""How long a link confirming an address works: long enough for a weekend's mail."""


class LinkError(Exception):
    """A token that must not be acted on: forged, altered, expired, or for something else."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class Link:
    """What a verified token allows; `expires` is None for a link that never expires."""

    purpose: Purpose
    reader: str
    expires: datetime | None = None
    paper: str | None = None
    vote: VoteValue = 0
    address: str | None = None
    save: bool = True
    """For a save link: True saves the paper, False removes it."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest()


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def sign(secret: bytes, link: Link) -> str:
    """The token for `link`."""
    if not secret:
        raise ValueError("no link secret: set LINK_SECRET")
    for part in (link.reader, link.paper or "", link.address or ""):
        if "\n" in part:
            raise ValueError(f"a reader, paper or address has no line break: {part!r}")
    if link.purpose == "vote":
        if link.expires is None or link.paper is None:
            raise ValueError("a vote link needs a paper and an expiry")
        sign_ = {1: "+", -1: "-", 0: "0"}[link.vote]
        text = f"v{sign_}{_base36(int(link.expires.timestamp()))}\n{link.reader}\n{link.paper}"
    elif link.purpose == "save":
        if link.expires is None or link.paper is None:
            raise ValueError("a save link needs a paper and an expiry")
        way = "+" if link.save else "-"
        text = f"s{way}{_base36(int(link.expires.timestamp()))}\n{link.reader}\n{link.paper}"
    elif link.purpose == "confirm":
        if link.expires is None or not link.address:
            raise ValueError("a confirmation link needs an address and an expiry")
        text = f"c{_base36(int(link.expires.timestamp()))}\n{link.reader}\n{link.address}"
    else:
        text = f"u\n{link.reader}"
    payload = _b64(text.encode())
    return f"{payload}.{_b64(_mac(secret, payload)[:SIGNATURE_BYTES])}"


def vote_token(
    secret: bytes, reader: str, paper: str, vote: int, now: datetime, ttl_days: int
) -> str:
    """A token that lets `reader` cast `vote` (+1, -1, or 0 to undo) on `paper`."""
    if vote not in (1, -1, 0):
        raise ValueError(f"a vote is +1, -1 or 0, not {vote}")
    return sign(
        secret, Link("vote", reader, now + timedelta(days=ttl_days), paper, cast(VoteValue, vote))
    )


def save_token(
    secret: bytes, reader: str, paper: str, save: bool, now: datetime, ttl_days: int
) -> str:
    """A token that lets `reader` save `paper` to their reading list (or, `save` False, remove
    it)."""
    expires = now + timedelta(days=ttl_days)
    return sign(secret, Link("save", reader, expires, paper, save=save))


def unsubscribe_token(secret: bytes, reader: str) -> str:
    """A token that turns `reader`'s email digest off; it never expires."""
    return sign(secret, Link("unsubscribe", reader))


def confirm_token(secret: bytes, reader: str, address: str, now: datetime) -> str:
    """A token that confirms `address` as `reader`'s, for CONFIRM_HOURS."""
    return sign(
        secret,
        Link("confirm", reader, now + timedelta(hours=CONFIRM_HOURS), address=address),
    )


def _read(raw: bytes) -> Link:
    """The link a signed payload describes, in either format."""
    if raw.startswith(b"{"):  # sent before the short format: JSON
        body = json.loads(raw)
        return Link(
            purpose=_CODES[body["a"]],
            reader=str(body["r"]),
            expires=datetime.fromtimestamp(int(body["e"]), UTC),
            paper=str(body["p"]) if "p" in body else None,
            vote=cast(VoteValue, int(body.get("v", 0))),
        )
    head, *rest = raw.decode().split("\n")
    if head == "u" and len(rest) == 1:
        return Link("unsubscribe", rest[0])
    if head[:1] == "v" and len(rest) == 2:
        expires = datetime.fromtimestamp(int(head[2:], 36), UTC)
        return Link("vote", rest[0], expires, rest[1], _VOTES[head[1:2]])
    if head[:1] == "s" and head[1:2] in ("+", "-") and len(rest) == 2:
        expires = datetime.fromtimestamp(int(head[2:], 36), UTC)
        return Link("save", rest[0], expires, rest[1], save=head[1:2] == "+")
    if head[:1] == "c" and len(rest) == 2:
        expires = datetime.fromtimestamp(int(head[1:], 36), UTC)
        return Link("confirm", rest[0], expires, address=rest[1])
    raise ValueError("unknown payload")


def verify(secret: bytes, token: str, now: datetime, purpose: Purpose | None = None) -> Link:
    """The link a token carries; LinkError when it is forged, altered, expired or misused."""
    payload, dot, signature = token.partition(".")
    if not dot or not payload or not signature:
        raise LinkError("This link is incomplete: it may have been cut when it was copied.")
    mac = _mac(secret, payload)
    # Signed over the payload's text, compared as text: a changed character always shows,
    # even one in the unused low bits of base64's last character. Short links carry the first
    # SIGNATURE_BYTES of the HMAC, links in the earlier format all of it.
    given = signature.encode("ascii", errors="replace")
    if not any(hmac.compare_digest(_b64(mac[:n]).encode(), given) for n in (SIGNATURE_BYTES, 32)):
        raise LinkError("This link is not valid: it was altered, or it was not made by Paperboy.")
    try:
        raw = _unb64(payload)
        legacy = raw.startswith(b"{")
        if legacy != (len(signature) > len(_b64(mac[:SIGNATURE_BYTES]))):
            raise ValueError("a signature of the other format's length")
        link = _read(raw)
        if link.vote not in (1, -1, 0):
            raise ValueError(f"vote {link.vote}")
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        # Signed by us yet unreadable: only a changed secret or format gets here.
        raise LinkError("This link is not valid: Paperboy cannot read it.") from exc
    if link.purpose == "unsubscribe":
        link = Link("unsubscribe", link.reader)  # never expires, whenever it was sent
    elif link.expires is not None and now >= link.expires:
        again = (
            "Enter your address on Paperboy's Home in Slack again for a new one."
            if link.purpose == "confirm"
            else "Use the links in a newer email."
        )
        raise LinkError(
            f"This link expired on {link.expires:%d %b %Y}: links in Paperboy's "
            f"emails work for a limited time. {again}",
            expired=True,
        )
    if purpose is not None and link.purpose != purpose:
        raise LinkError(f"This link is for {link.purpose}, not for {purpose}.")
    return link
