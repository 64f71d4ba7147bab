"""Signed email links: what a token carries, and every way a bad one is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paperboy import links

SECRET = b"test-link-secret-0123456789abcdef"
NOW = datetime(2025, 6, 3, 6, 0, tzinfo=UTC)


def test_a_vote_token_carries_reader_paper_vote_and_expiry() -> None:
    token = links.vote_token(SECRET, "U123", "2506.01158", -1, NOW, 14)
    link = links.verify(SECRET, token, NOW + timedelta(days=13), "vote")
    assert (link.purpose, link.reader, link.paper, link.vote) == ("vote", "U123", "2506.01158", -1)
    assert link.expires == NOW + timedelta(days=14)


def test_an_unsubscribe_token_carries_the_reader_only() -> None:
    link = links.verify(SECRET, links.unsubscribe_token(SECRET, "U9", NOW, 14), NOW)
    assert (link.purpose, link.reader, link.paper) == ("unsubscribe", "U9", None)


def test_tokens_are_url_safe() -> None:
    token = links.vote_token(SECRET, "U/é?&", "hep-th/9901001", 1, NOW, 14)
    assert all(c.isalnum() or c in "-_." for c in token)
    assert links.verify(SECRET, token, NOW).reader == "U/é?&"


def test_every_single_character_change_is_refused() -> None:
    token = links.vote_token(SECRET, "U123", "2506.01158", 1, NOW, 14)
    alphabet = "AbZ09-_."
    for position, original in enumerate(token):
        for replacement in alphabet:
            if replacement == original:
                continue
            altered = token[:position] + replacement + token[position + 1 :]
            with pytest.raises(links.LinkError) as refused:
                links.verify(SECRET, altered, NOW)
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
    with pytest.raises(links.LinkError, match=says):
        links.verify(SECRET, token, NOW)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = links.vote_token(b"someone-else", "U123", "2506.01158", 1, NOW, 14)
    with pytest.raises(links.LinkError, match="altered, or it was not made by Paperboy"):
        links.verify(SECRET, token, NOW)


def test_an_expired_token_is_refused_and_says_so() -> None:
    token = links.vote_token(SECRET, "U123", "2506.01158", 1, NOW, 14)
    with pytest.raises(links.LinkError, match="expired on 17 Jun 2025") as refused:
        links.verify(SECRET, token, NOW + timedelta(days=14))
    assert refused.value.expired


def test_a_vote_link_cannot_unsubscribe_and_the_reverse() -> None:
    vote = links.vote_token(SECRET, "U1", "2506.01158", 1, NOW, 14)
    leave = links.unsubscribe_token(SECRET, "U1", NOW, 14)
    with pytest.raises(links.LinkError, match="for vote, not for unsubscribe"):
        links.verify(SECRET, vote, NOW, "unsubscribe")
    with pytest.raises(links.LinkError, match="for unsubscribe, not for vote"):
        links.verify(SECRET, leave, NOW, "vote")


def test_signing_needs_a_secret_and_a_real_vote() -> None:
    with pytest.raises(ValueError, match="LINK_SECRET"):
        links.vote_token(b"", "U1", "2506.01158", 1, NOW, 14)
    with pytest.raises(ValueError, match="a vote is"):
        links.vote_token(SECRET, "U1", "2506.01158", 2, NOW, 14)
