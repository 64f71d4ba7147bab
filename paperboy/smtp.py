"""SMTP (edge): one session with the mail server, and handing it a written-out message.

`Smtp` connects on the first message and reuses the connection: STARTTLS with the certificate
verified (always), or TLS from the first byte on port 465; login from settings; a timeout; and
retries with backoff on temporary failures (4xx replies, dropped or refused connections) but
none on permanent ones (5xx).

A message is accepted when the server answers the end of its DATA. Whatever the sender does
once it knows (mark the reader mailed) is done under the delivery's `gate`, with the end of the
DATA: of the messages on a delivery's connections, at most one is ever accepted by the server
and not yet marked, so a sender killed at any moment leaves at most one message to go twice.
"""

from __future__ import annotations

import logging
import random
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from types import TracebackType

from pydantic import SecretStr

from paperboy import emails

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30.0
"""How long one SMTP command may take, in seconds."""
ATTEMPTS = 4
"""Tries per message (the first and three retries) before a temporary failure counts."""
BACKOFF_SECONDS = 2.0
"""The first wait between tries, in seconds; doubled each time, with jitter."""
MESSAGES_PER_CONNECTION = 100
"""Messages sent over one connection before it is renewed (servers cap this)."""
IMPLICIT_TLS_PORT = 465


class SendError(Exception):
    """A message that was not sent; `temporary` says whether a later run may succeed."""

    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


class ServerUnavailable(SendError):
    """The mail server cannot be reached, or refuses this client: no message can go."""


def is_temporary(exc: BaseException) -> bool:
    """Whether trying again later may succeed: 4xx replies and network trouble, not 5xx."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPNotSupportedError | ssl.SSLCertVerificationError):
        return False
    return isinstance(exc, smtplib.SMTPServerDisconnected | OSError)


def describe(exc: BaseException) -> str:
    """What went wrong, in the server's words where it gave any (never a credential)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "recipient refused: " + "; ".join(
            f"{code} {text.decode(errors='replace')}" for code, text in exc.recipients.values()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return f"{exc.smtp_code} {text}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the server's certificate is not trusted ({exc.verify_message})"
    return f"{type(exc).__name__}: {exc}"


@dataclass
class Smtp:
    """A session with the mail server; connects on the first message, reuses the connection."""

    host: str
    port: int = 587
    starttls: bool = True
    user: str | None = None
    password: SecretStr | None = None
    timeout: float = TIMEOUT_SECONDS
    ssl_context: ssl.SSLContext = field(default_factory=ssl.create_default_context)
    connect: Callable[..., smtplib.SMTP] = smtplib.SMTP
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random
    attempts: int = ATTEMPTS
    backoff: float = BACKOFF_SECONDS
    per_connection: int = MESSAGES_PER_CONNECTION
    learned: Callable[[bool], None] | None = None
    """Told, at each connection, whether the server offers SMTPUTF8 (the store keeps it)."""
    connections: int = 0
    _conn: smtplib.SMTP | None = field(default=None, init=False, repr=False)
    _sent_here: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        # Verification stays on whatever context is passed in: tests trust a test CA instead.
        self.ssl_context.check_hostname = True
        self.ssl_context.verify_mode = ssl.CERT_REQUIRED

    @property
    def implicit_tls(self) -> bool:
        return not self.starttls and self.port == IMPLICIT_TLS_PORT

    def _open(self) -> smtplib.SMTP:
        if self.implicit_tls:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self.ssl_context
            )
        else:
            conn = self.connect(self.host, self.port, timeout=self.timeout)
        try:
            if conn.sock is not None:
                # Each message is one write and then a wait for the reply: without this, the
                # write's last segment can sit out the server's delayed ACK (about 40 ms).
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.ehlo()
            if self.starttls:
                conn.starttls(context=self.ssl_context)
                conn.ehlo()
            elif self.user and not self.implicit_tls:
                raise ServerUnavailable(
                    "SMTP_USER is set but the connection is not encrypted: set SMTP_STARTTLS=true "
                    f"or use port {IMPLICIT_TLS_PORT}",
                    temporary=False,
                )
            if self.learned is not None:
                self.learned(conn.has_extn("smtputf8"))
            if self.user:
                secret = self.password.get_secret_value() if self.password else ""
                conn.login(self.user, secret)
        except BaseException:
            conn.close()
            raise
        self.connections += 1
        return conn

    def offers(self, extension: str) -> bool:
        """Whether the server offers an ESMTP `extension`, connecting as a send does (TLS,
        login) if not connected yet; the connection's errors as `_open` raises them."""
        if self._conn is None:
            self._conn = self._open()
            self._sent_here = 0
        return bool(self._conn.has_extn(extension))

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def close(self) -> None:
        """Say goodbye to the server, if connected."""
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self._drop()

    def send(
        self,
        message: EmailMessage | emails.Outgoing,
        accepted: Callable[[], None] | None = None,
        gate: threading.Lock | None = None,
    ) -> None:
        """Send one message, retrying temporary failures; SendError when it cannot go.

        `accepted` is called once the server accepted the message, holding `gate` (shared by
        a delivery's sessions) from the end of the DATA until it returns."""
        for attempt in range(1, self.attempts + 1):
            connecting = self._conn is None
            try:
                if self._conn is None:
                    self._conn = self._open()
                    self._sent_here = 0
                    connecting = False
                if isinstance(message, emails.Outgoing):
                    transmit(self._conn, message, accepted, gate)
                else:
                    self._conn.send_message(message)
                    if accepted is not None:
                        accepted()
            except ServerUnavailable:
                raise
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                temporary = is_temporary(exc)
                kind = ServerUnavailable if connecting else SendError
                where = f"{self.host}:{self.port}"
                if not temporary:
                    raise kind(f"{where}: {describe(exc)}", temporary=False) from exc
                if attempt == self.attempts:
                    raise kind(
                        f"{where}: {describe(exc)} (after {attempt} tries)", temporary=True
                    ) from exc
                delay = self.backoff * 2 ** (attempt - 1) * (0.5 + self.jitter())
                log.info("smtp %s: %s; trying again in %.1f s", where, describe(exc), delay)
                self.sleep(delay)
                continue
            self._sent_here += 1
            if self._sent_here >= self.per_connection:
                self.close()
            return

    def __enter__(self) -> Smtp:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def seven_bit(message: emails.Outgoing) -> bytes:
    """The message with its 8bit parts re-encoded (base64), for a server without 8BITMIME.

    Its headers go as they were written: re-folded, a short List-Unsubscribe would move to a
    line of its own.
    """
    head = message.data.partition(b"\r\n\r\n")[0]
    again = message.message().as_bytes(policy=policy.SMTP.clone(cte_type="7bit"))
    return head + b"\r\n\r\n" + again.partition(b"\r\n\r\n")[2]


def transmit(
    conn: smtplib.SMTP,
    message: emails.Outgoing,
    accepted: Callable[[], None] | None = None,
    gate: threading.Lock | None = None,
) -> None:
    """Hand a written-out message to the server: 8BITMIME declared when the body needs it;
    `accepted` is called under `gate` with the end of the DATA (see the module's text)."""
    data, options = message.data, []
    if not (message.sender + message.recipient).isascii():
        if not conn.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError(
                f"the mail server does not offer SMTPUTF8, which {message.recipient} needs: "
                "ask the reader for an address with only ASCII letters before the @"
            )
        options += ["SMTPUTF8", "BODY=8BITMIME"]
    elif not data.isascii():
        if conn.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        else:
            data = seven_bit(message)
    _sendmail(conn, message.sender, message.recipient, data, options, accepted, gate)


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _refused(conn: smtplib.SMTP, code: int) -> None:
    """After a refusal, as smtplib's `sendmail` does: a server closing (421) is closed, any
    other is reset for the next message."""
    if code == 421:
        conn.close()
    else:
        with suppress(smtplib.SMTPServerDisconnected):
            conn.rset()


def _sendmail(
    conn: smtplib.SMTP,
    sender: str,
    recipient: str,
    data: bytes,
    options: list[str],
    accepted: Callable[[], None] | None,
    gate: threading.Lock | None,
) -> None:
    """smtplib's `sendmail` for one recipient, the end of the DATA sent on its own, under
    `gate`, followed by `accepted` once the server answered it."""
    conn.ehlo_or_helo_if_needed()
    esmtp = [f"size={len(data)}"] if conn.does_esmtp and conn.has_extn("size") else []
    if conn.does_esmtp:
        esmtp += options
    code, reply = conn.mail(sender, esmtp)
    if code != 250:
        _refused(conn, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = conn.rcpt(recipient)
    if code not in (250, 251):
        _refused(conn, code)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    code, reply = conn.docmd("data")
    if code != 354:
        _refused(conn, code)
        raise smtplib.SMTPDataError(code, reply)
    body = _LEADING_DOT.sub(b"..", data)
    conn.send(body if body.endswith(b"\r\n") else body + b"\r\n")
    with gate or nullcontext():
        conn.send(b".\r\n")
        code, reply = conn.getreply()
        if code != 250:
            _refused(conn, code)
            raise smtplib.SMTPDataError(code, reply)
        if accepted is not None:
            accepted()
