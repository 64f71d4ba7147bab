"""Email addresses: checked when a reader gives one, and written as mail servers take them (pure).

`email-validator` does the checking, offline (no DNS look-up: subscribing must work without the
network). A domain in Unicode (an IDN, `bücher.example`) is sent as punycode
(`xn--bcher-kva.example`), which every server takes. Letters beyond ASCII before the `@`
(`josé@…`) can only be delivered through a server that offers SMTPUTF8 (RFC 6531): the mailer and
`paperboy doctor` learn from its EHLO whether it does and keep the answer in the store, so that
the web process, which never talks to the mail server, can refuse such an address at once.
"""

from __future__ import annotations

import functools
from email.utils import formataddr, parseaddr

import email_validator


class AddressError(ValueError):
    """An address Paperboy cannot mail, with why in words a reader understands."""


def checked(address: str, smtputf8: bool | None = False) -> str:
    """The address as it is kept: trimmed, its domain lower-cased (and shown in Unicode).

    `smtputf8` says whether the mail server offers SMTPUTF8 (None: not known yet); without it,
    an address with letters beyond ASCII before the `@` is refused.
    """
    address = address.strip()
    try:
        found = email_validator.validate_email(
            address, check_deliverability=False, allow_smtputf8=True
        )
    except email_validator.EmailNotValidError as exc:
        raise AddressError(f"“{address}” does not look like an email address: {exc}") from None
    if not found.local_part.isascii() and not smtputf8:
        why = (
            "this Paperboy does not know yet whether its mail server offers SMTPUTF8, which such "
            "an address needs (it learns when it next sends mail, or from `paperboy doctor`)"
            if smtputf8 is None
            else "this Paperboy's mail server cannot deliver to it: it does not offer SMTPUTF8"
        )
        raise AddressError(
            f"“{address}” has letters beyond ASCII before the @ ({found.local_part}): {why}. "
            "Please give an address with only ASCII letters before the @."
        )
    return str(found.normalized)


@functools.lru_cache(maxsize=65536)
def for_sending(address: str) -> str:
    """The address as it goes to the mail server: the domain in punycode, and the part before
    the `@` as it is (beyond ASCII only through a server that offers SMTPUTF8)."""
    try:
        found = email_validator.validate_email(
            address, check_deliverability=False, allow_smtputf8=True
        )
    except email_validator.EmailNotValidError as exc:
        raise AddressError(f"“{address}” is not an email address: {exc}") from None
    if found.ascii_email:
        return str(found.ascii_email)
    return f"{found.local_part}@{found.ascii_domain}"


def sender(value: str) -> tuple[str, str]:
    """EMAIL_FROM as the envelope sender and as the From header, its domain in punycode."""
    name, address = parseaddr(value)
    if not address:
        raise AddressError(f"EMAIL_FROM “{value}” holds no address")
    ascii_address = for_sending(address)
    return ascii_address, formataddr((name, ascii_address)) if name else ascii_address
