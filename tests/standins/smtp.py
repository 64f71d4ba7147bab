"""A real SMTP server on 127.0.0.1 (aiosmtpd): STARTTLS with a test CA's certificate, AUTH.

It keeps what it receives, counts logins (one per connection), and can answer a recipient
with scripted replies ("451 ..." then accept, or "550 ...") to exercise retries. It offers
SMTPUTF8 only when asked to.
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

USER = "paperboy"
PASSWORD = "s3cret-smtp-password"


def free_port() -> int:
    """A port nobody listens on now (aiosmtpd 1.4.6 cannot bind port 0 itself)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpServer:
    """The server's state: where it listens, what it received, what it will answer."""

    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    logins: int = 0
    failed_logins: int = 0
    rcpt_script: dict[str, list[str]] = field(default_factory=dict)
    client_context: ssl.SSLContext | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [item.message for item in self.received]

    def to(self, address: str) -> list[EmailMessage]:
        """Messages addressed to `address`."""
        with self.lock:
            return [item.message for item in self.received if address in item.rcpt_tos]


class _Handler:
    def __init__(self, state: SmtpServer) -> None:
        self.state = state

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        script = self.state.rcpt_script.get(address)
        if script:
            reply = script.pop(0)
            if not reply.startswith("250"):
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        with self.state.lock:
            self.state.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(content))
            )
        return "250 Message accepted"


class _Authenticator:
    def __init__(self, state: SmtpServer) -> None:
        self.state = state

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == USER.encode()
            and auth_data.password == PASSWORD.encode()
        )
        with self.state.lock:
            if ok:
                self.state.logins += 1
            else:
                self.state.failed_logins += 1
        return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(
    ca: trustme.CA | None = None,
    smtputf8: bool = False,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    implicit_tls: bool = False,
) -> Iterator[SmtpServer]:
    """Serve SMTP with required STARTTLS and AUTH on a free port for the block's duration;
    with `smtputf8`, the server offers SMTPUTF8 (RFC 6531: addresses beyond ASCII); with
    `implicit_tls`, TLS from the first byte instead (SMTPS, as on port 465).

    `client_context` on the yielded state trusts the test CA, and nothing else.
    """
    ca = ca or trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(host, "localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    state = SmtpServer(host=host, port=port or free_port(), client_context=client_context)
    # With implicit TLS the whole session is encrypted, but aiosmtpd only counts STARTTLS as TLS
    # for offering AUTH: it must be told not to wait for it.
    tls: dict[str, Any] = (
        {"ssl_context": server_context, "auth_require_tls": False}
        if implicit_tls
        else {"tls_context": server_context, "require_starttls": True, "auth_require_tls": True}
    )
    controller = Controller(
        _Handler(state),
        hostname=state.host,
        port=state.port,
        authenticator=_Authenticator(state),
        data_size_limit=10 * 1024 * 1024,
        enable_SMTPUTF8=smtputf8,
        **tls,
    )
    controller.start()
    try:
        yield state
    finally:
        controller.stop()
