"""A local HTTP server standing in for arXiv's RSS: serves saved feeds, can fail on demand.

Faults: `script` answers the next requests with the given statuses; `faults` answers a path
with a fixed status, headers and body (a redirect to itself, a body that is not the gzip its
header says); `drip` answers a path with a few bytes at a time, for ever.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.standins import POLL_SECONDS


@dataclass
class FeedServer:
    """Routes a path to bytes; `script` queues status codes answered before the real body."""

    routes: dict[str, bytes] = field(default_factory=dict)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    faults: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    drip: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Path -> (bytes a time, seconds between): a server that never finishes its answer."""
    requests: list[tuple[float, str, dict[str, str]]] = field(default_factory=list)
    url: str = ""
    stopping: threading.Event = field(default_factory=threading.Event)


@contextmanager
def serve(server_state: FeedServer) -> Iterator[FeedServer]:
    """Serve on a free port of 127.0.0.1 for the duration of the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.requests.append((time.monotonic(), self.path, dict(self.headers)))
            if server_state.script:
                status, headers = server_state.script.pop(0)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path in server_state.faults:
                status, headers, content = server_state.faults[self.path]
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
                return
            if self.path in server_state.drip:
                size, every = server_state.drip[self.path]
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.end_headers()
                while not server_state.stopping.wait(every):
                    try:
                        self.wfile.write(b"<" * size)
                        self.wfile.flush()
                    except OSError:  # the client gave up
                        return
                return
            body = server_state.routes.get(self.path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, daemon=True
    )
    thread.start()
    try:
        yield server_state
    finally:
        server_state.stopping.set()
        httpd.shutdown()
        httpd.server_close()
