"""Polite fetching from arXiv: one request at a time, 3 s apart, a timeout, retries with backoff."""

from __future__ import annotations

import gzip
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx

from paperboy import __version__
from paperboy.feed import Feed, FeedError, parse_feed

log = logging.getLogger(__name__)

USER_AGENT = f"Paperboy/{__version__} (daily research-paper digest; polite RSS reader)"
SPACING_SECONDS = 3.0
"""arXiv's terms: at most one request every 3 seconds."""
TIMEOUT_SECONDS = 30.0
"""How long one request may take, in seconds."""
RETRIES = 3
"""How many times a request is retried after a 429, a 5xx or a connection fault."""
BACKOFF_SECONDS = 5.0
"""The first retry's wait, in seconds; it doubles each time, with jitter."""
DEADLINE_SECONDS = 60.0
"""How long one feed may take, retries and waits included (FEED_DEADLINE_SECONDS)."""
GZIP_MAGIC = b"\x1f\x8b"


class FetchError(Exception):
    """A feed that could not be fetched after its retries."""

    def __init__(self, source: str, reason: str, unreachable: bool = False) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason
        self.unreachable = unreachable


def http_client(timeout: float = TIMEOUT_SECONDS) -> httpx.Client:
    """One connection pool for arXiv, with our User-Agent and a timeout on every request."""
    return httpx.Client(
        timeout=timeout,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=True,
        limits=httpx.Limits(max_connections=1),
    )


@dataclass
class Arxiv:
    """Fetches feeds from arXiv, waiting its turn before each request.

    `wait_turn` blocks until this process may make the next request; with Redis configured it
    is shared by every worker, so the 3 s spacing holds across machines.
    """

    http: httpx.Client
    wait_turn: Callable[[], None]
    retries: int = RETRIES
    backoff: float = BACKOFF_SECONDS
    deadline: float = DEADLINE_SECONDS
    timeout: float = TIMEOUT_SECONDS
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def get(self, url: str) -> bytes:
        """The body of `url`, after retries on 429, 5xx and network faults, within the deadline.

        Every error the HTTP client can raise (a redirect loop, a body that does not decode, a
        server that trickles bytes) is a FetchError naming the URL, never a crash of the day.
        """
        attempt = 0
        ends = time.monotonic() + self.deadline
        while True:
            self.wait_turn()
            try:
                return self._read(url, ends)
            except _Retry as retry:
                reason, unreachable, wait = retry.reason, retry.unreachable, retry.wait
                if retry.final:
                    raise FetchError(url, reason, unreachable) from retry.__cause__
                if attempt >= self.retries or (retry.once and attempt >= 1):
                    raise FetchError(
                        url, f"{reason} after {attempt + 1} attempts", unreachable
                    ) from retry.__cause__
            delay = wait if wait is not None else self.backoff * 2**attempt
            delay *= 1 + self.rng.random() * 0.25
            if time.monotonic() + delay > ends:  # waiting would pass the deadline
                raise FetchError(
                    url, f"{reason}; no time left for another try ({self.deadline:g} s)"
                )
            log.warning("fetch %s: %s; retrying in %.1f s", url, reason, delay)
            self.sleep(delay)
            attempt += 1

    def _read(self, url: str, ends: float) -> bytes:
        """One request, read within the deadline; _Retry for what another try may mend."""
        left = ends - time.monotonic()
        if left <= 0:
            raise _Retry(f"took longer than {self.deadline:g} s", final=True)
        try:
            with self.http.stream("GET", url, timeout=min(self.timeout, left)) as response:
                if response.status_code != 200:
                    response.read()
                    status = f"HTTP {response.status_code}"
                    permanent = response.status_code != 429 and response.status_code < 500
                    raise _Retry(status, final=permanent, wait=_retry_after(response))
                chunks = []
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    if time.monotonic() > ends:
                        raise _Retry(f"took longer than {self.deadline:g} s", final=True)
                return b"".join(chunks)
        except httpx.ConnectError as exc:
            # A refused connection or a failed DNS look-up rarely heals in seconds: look once
            # more, soon, then say so.
            raise _Retry(
                f"cannot reach {urlparse(url).netloc} ({exc})",
                unreachable=True,
                wait=1.0,
                once=True,
            ) from exc
        except httpx.TransportError as exc:  # timeouts, dropped connections
            raise _Retry(f"cannot reach {urlparse(url).netloc} ({exc})", unreachable=True) from exc
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            # too many redirects, a body that does not decode: the same answer next time
            raise _Retry(f"{type(exc).__name__}: {exc}", final=True) from exc


class _Retry(Exception):
    """One request's failure, and whether another try may mend it."""

    def __init__(
        self,
        reason: str,
        *,
        final: bool = False,
        unreachable: bool = False,
        wait: float | None = None,
        once: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason, self.final, self.unreachable, self.wait = reason, final, unreachable, wait
        self.once = once


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(float(response.headers["Retry-After"]), 300.0)
    except (KeyError, ValueError):
        return None


def is_url(source: str) -> bool:
    return urlparse(source).scheme in ("http", "https")


def read_source(source: str, arxiv: Arxiv | None) -> bytes:
    """Bytes of a saved feed file (gzipped or not), or of a URL fetched politely."""
    if is_url(source):
        if arxiv is None:
            raise FetchError(source, "no HTTP client configured")
        return arxiv.get(source)
    return read_saved(source)


def read_saved(source: str | Path) -> bytes:
    """A saved feed's bytes; a gzipped file (saved days are large) is decompressed."""
    path = Path(source).expanduser()
    try:
        body = path.read_bytes()
        return gzip.decompress(body) if body[:2] == GZIP_MAGIC else body
    except OSError as exc:  # gzip.BadGzipFile is one: a damaged archive
        raise FetchError(str(source), f"cannot read the file ({exc.strerror or exc})") from exc
    except EOFError as exc:
        raise FetchError(str(source), "cannot read the file (the archive is cut short)") from exc


@dataclass
class Fetched:
    """The feeds that parsed whole, and those that failed with why."""

    feeds: list[Feed]
    missing: dict[str, Exception]

    @property
    def unreachable(self) -> bool:
        """True when nothing was read because the network could not reach arXiv."""
        return (
            not self.feeds
            and bool(self.missing)
            and all(
                isinstance(exc, FetchError) and exc.unreachable for exc in self.missing.values()
            )
        )


def fetch_feeds(sources: list[str], arxiv: Arxiv | None) -> Fetched:
    """Read and parse every source; one that fails is reported missing, the others go on."""
    feeds: list[Feed] = []
    missing: dict[str, Exception] = {}
    for source in sources:
        name = source.rstrip("/").rsplit("/", 1)[-1] if is_url(source) else Path(source).name
        try:
            feeds.append(parse_feed(name, read_source(source, arxiv)))
        except (FetchError, FeedError) as exc:
            log.warning("feed %s is missing from the day (the others go on): %s", name, exc)
            missing[source] = exc
    return Fetched(feeds, missing)
