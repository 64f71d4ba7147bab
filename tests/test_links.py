"""Signed email links: what a token carries, and every way a bad one is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from paperboy import tokens

SECRET = b"test-link-secret-0123456789abcdef"
NOW = datetime(2025, 6, 3, 6, 0, tzinfo=UTC)


def test_a_vote_token_carries_reader_paper_vote_and_expiry() -> None:
    token = tokens.vote_token(SECRET, "U123", "2506.01158", -1, NOW, 14)
    link = tokens.verify(SECRET, token, NOW + timedelta(days=13), "vote")
    assert (link.purpose, link.reader, link.paper, link.vote) == ("vote", "U123", "2506.01158", -1)
    assert link.expires == NOW + timedelta(days=14)


def test_a_save_token_carries_reader_paper_and_which_way_and_expires() -> None:
    for save in (True, False):
        token = tokens.save_token(SECRET, "U123", "hep-th/9901001", save, NOW, 14)
        link = tokens.verify(SECRET, token, NOW + timedelta(days=13), "save")
        assert (link.purpose, link.reader, link.paper, link.save) == (
            "save",
            "U123",
            "hep-th/9901001",
            save,
        )
        with pytest.raises(tokens.LinkError) as refused:
            tokens.verify(SECRET, token, NOW + timedelta(days=14), "save")
        assert refused.value.expired
        with pytest.raises(tokens.LinkError, match="for save, not for vote"):
            tokens.verify(SECRET, token, NOW, "vote")


def test_an_unsubscribe_token_carries_the_reader_only() -> None:
    link = tokens.verify(SECRET, tokens.unsubscribe_token(SECRET, "U9"), NOW)
    assert (link.purpose, link.reader, link.paper) == ("unsubscribe", "U9", None)


def test_a_confirmation_token_carries_reader_and_address_for_two_days() -> None:
    token = tokens.confirm_token(SECRET, "U9", "jürgen@exämple.org", NOW)
    link = tokens.verify(SECRET, token, NOW + timedelta(hours=47), "confirm")
    assert (link.purpose, link.reader, link.address) == ("confirm", "U9", "jürgen@exämple.org")
    with pytest.raises(tokens.LinkError, match="Home in Slack again") as refused:
        tokens.verify(SECRET, token, NOW + timedelta(hours=48), "confirm")
    assert refused.value.expired
    with pytest.raises(tokens.LinkError, match="for confirm, not for unsubscribe"):
        tokens.verify(SECRET, token, NOW, "unsubscribe")


def test_tokens_are_url_safe() -> None:
    token = tokens.vote_token(SECRET, "U/é?&", "hep-th/9901001", 1, NOW, 14)
    assert all(c.isalnum() or c in "-_." for c in token)
    assert tokens.verify(SECRET, token, NOW).reader == "U/é?&"


def test_every_single_character_change_is_refused() -> None:
    token = tokens.vote_token(SECRET, "U123", "2506.01158", 1, NOW, 14)
    alphabet = "AbZ09-_."
    for position, original in enumerate(token):
        for replacement in alphabet:
            if replacement == original:
                continue
            altered = token[:position] + replacement + token[position + 1 :]
            with pytest.raises(tokens.LinkError) as refused:
                tokens.verify(SECRET, altered, NOW)
            assert not refused.value.expired


@pytest.mark.parametrize(
    ("token", "says"),
    [
        ("", "incomplete"),
        ("no-dot-at-all", "incomplete"),
        ("eyJhIjoidiJ9.", "incomplete"),
        (".c2ln", "incomplete"),
        ("eyJhIjoidiJ9.c2lnbmF0dXJl", "not valid"),
        ("%%%.***", "not valid"),
    ],
)
def test_malformed_tokens_are_refused_clearly(token: str, says: str) -> None:
    with pytest.raises(tokens.LinkError, match=says):
        tokens.verify(SECRET, token, NOW)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = tokens.vote_token(b"someone-else", "U123", "2506.01158", 1, NOW, 14)
    with pytest.raises(tokens.LinkError, match="altered, or it was not made by Paperboy"):
        tokens.verify(SECRET, token, NOW)


def test_an_expired_token_is_refused_and_says_so() -> None:
    token = tokens.vote_token(SECRET, "U123", "2506.01158", 1, NOW, 14)
    with pytest.raises(tokens.LinkError, match="expired on 17 Jun 2025") as refused:
        tokens.verify(SECRET, token, NOW + timedelta(days=14))
    assert refused.value.expired


def test_a_vote_link_cannot_unsubscribe_and_the_reverse() -> None:
    vote = tokens.vote_token(SECRET, "U1", "2506.01158", 1, NOW, 14)
    leave = tokens.unsubscribe_token(SECRET, "U1")
    with pytest.raises(tokens.LinkError, match="for vote, not for unsubscribe"):
        tokens.verify(SECRET, vote, NOW, "unsubscribe")
    with pytest.raises(tokens.LinkError, match="for unsubscribe, not for vote"):
        tokens.verify(SECRET, leave, NOW, "vote")


def test_signing_needs_a_secret_and_a_real_vote() -> None:
    with pytest.raises(ValueError, match="LINK_SECRET"):
        tokens.vote_token(b"", "U1", "2506.01158", 1, NOW, 14)
    with pytest.raises(ValueError, match="a vote is"):
        tokens.vote_token(SECRET, "U1", "2506.01158", 2, NOW, 14)


def legacy_token(purpose: str, reader: str, expires: datetime, **extra: object) -> str:
    """A token as links sent before the short format carry it: JSON, the whole HMAC."""
    body = {"a": purpose[0], "r": reader, "e": int(expires.timestamp()), **extra}
    payload = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode())
    text = payload.rstrip(b"=").decode()
    mac = hmac.new(SECRET, text.encode(), hashlib.sha256).digest()
    return f"{text}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_an_unsubscribe_link_never_expires() -> None:
    token = tokens.unsubscribe_token(SECRET, "U9")
    link = tokens.verify(SECRET, token, NOW + timedelta(days=3650), "unsubscribe")
    assert (link.reader, link.expires) == ("U9", None)


def test_links_already_in_mailboxes_keep_working() -> None:
    vote = legacy_token("vote", "U1", NOW + timedelta(days=14), p="2506.01158", v=-1)
    link = tokens.verify(SECRET, vote, NOW + timedelta(days=13), "vote")
    assert (link.reader, link.paper, link.vote) == ("U1", "2506.01158", -1)
    with pytest.raises(tokens.LinkError, match="expired"):
        tokens.verify(SECRET, vote, NOW + timedelta(days=14), "vote")
    # An unsubscribe link of the earlier format works long after the expiry it carries.
    leave = legacy_token("unsubscribe", "U1", NOW + timedelta(days=14))
    assert tokens.verify(SECRET, leave, NOW + timedelta(days=400), "unsubscribe").reader == "U1"
    # Its signature cut to the short length proves nothing: the lengths follow the formats.
    payload, signature = leave.split(".")
    with pytest.raises(tokens.LinkError):
        tokens.verify(SECRET, f"{payload}.{signature[:22]}", NOW, "unsubscribe")


def test_links_are_short() -> None:
    vote = tokens.vote_token(SECRET, "U0123ABCDEF", "2506.01158", 1, NOW, 14)
    assert len(vote) <= 66 and len(tokens.unsubscribe_token(SECRET, "U0123ABCDEF")) <= 42
