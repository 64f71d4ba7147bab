"""Our own web process's apps served on 127.0.0.1 in a thread, for requests over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from werkzeug.serving import make_server

from tests.standins import POLL_SECONDS

HTTP = httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0))
"""The tests' one client for requests to our web apps. Building an httpx client builds a TLS
context, loading the system's certificates (some 20 ms of CPU): a client per request, as
`httpx.post` makes, cost the suite more CPU than any test. No connection is kept alive, so each
request is a fresh connection, as before."""


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Serve a WSGI app on a free port for the duration of the block; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
