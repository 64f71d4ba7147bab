"""A real SMTP server on 127.0.0.1 (aiosmtpd): STARTTLS with a test CA's certificate, AUTH.

It keeps what it receives, counts logins (one per connection), and can answer a recipient
with scripted replies ("451 ..." then accept, or "550 ...") to exercise retries. It offers
SMTPUTF8 only when asked to. Faults on demand: refusing the next senders (421), dropping the
connection in the middle of the next messages' DATA, a pause before each acceptance, and a
hook called as each message is stored, before it is accepted (the fault suite kills a worker
there).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

# aiosmtpd itself sets Session.login_data after each AUTH and warns of its own deprecation each
# time: a line per connection that says nothing about Paperboy.
logging.getLogger("mail.log").addFilter(
    lambda record: "login_data is deprecated" not in record.getMessage()
)

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
    eight_bit: bool = True
    """Whether EHLO offers 8BITMIME (without it, a message must be 7-bit)."""
    refuse_next: int = 0
    """Answer this many of the next MAIL FROM with 421 (the server is shutting down)."""
    drop_next: int = 0
    """Drop the connection in the middle of this many of the next messages' DATA: nothing is
    stored, and no reply comes."""
    pause: float = 0.0
    """Seconds each message waits before it is accepted."""
    on_message: Callable[[int], None] | None = None
    """Called with the number of messages stored so far, as each is stored."""
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

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.state.eight_bit:
            return responses
        return [line for line in responses if line != "250-8BITMIME"]

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        with self.state.lock:
            refuse = self.state.refuse_next > 0
            self.state.refuse_next -= refuse
        if refuse:
            return "421 4.3.2 Service shutting down"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        with self.state.lock:
            drop = self.state.drop_next > 0
            self.state.drop_next -= drop
        if drop:
            assert server.transport is not None
            server.transport.abort()  # the reply below is never sent
            return "451 4.3.0 Dropped"
        if self.state.pause:
            await asyncio.sleep(self.state.pause)
        with self.state.lock:
            self.state.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(content))
            )
            stored = len(self.state.received)
        if self.state.on_message is not None:
            self.state.on_message(stored)
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
    eight_bit: bool = True,
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
    # Bare contexts: `create_default_context` would also load the system's certificates, which
    # the client must not trust here and which cost some 20 ms of CPU per server.
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(host, "localhost").configure_cert(server_context)
    client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(client_context)
    state = SmtpServer(
        host=host, port=port or free_port(), client_context=client_context, eight_bit=eight_bit
    )
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


if __name__ == "__main__":
    import argparse
    import time
    from pathlib import Path

    options = argparse.ArgumentParser(
        description="Serve the SMTP stand-in (STARTTLS, AUTH) until interrupted: each message "
        "received is announced and, with --out, saved there as a .eml file."
    )
    options.add_argument("--port", type=int, default=0, help="the port (default: a free one)")
    options.add_argument(
        "--ca", type=Path, required=True, help="where to write the test CA (for SSL_CERT_FILE)"
    )
    options.add_argument("--out", type=Path, help="a folder to save each message in")
    args = options.parse_args()
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(args.ca))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    with smtp_server(authority, port=args.port or None) as running:

        def announce(count: int) -> None:
            with running.lock:
                item = running.received[count - 1]
            subject = item.message["Subject"]
            where = ""
            if args.out:
                path = args.out / f"{count:04d}.eml"
                path.write_bytes(item.raw)
                where = f" -> {path}"
            print(
                f"to {', '.join(item.rcpt_tos)}: {subject} ({len(item.raw):,} bytes){where}",
                flush=True,
            )

        running.on_message = announce
        print(
            f"SMTP_HOST={running.host} SMTP_PORT={running.port} SMTP_USER={USER} "
            f"SMTP_PASSWORD={PASSWORD} SSL_CERT_FILE={args.ca}",
            flush=True,
        )
        while True:
            time.sleep(3600)
