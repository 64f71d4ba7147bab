"""Local servers that speak the outside systems' protocols (Slack, Anthropic, arXiv, SMTP)."""

import socket

POLL_SECONDS = 0.05
"""How often a stand-in's server loop looks for a shutdown request, in seconds: socketserver's
default (0.5 s) would hold up every test that stops a server."""

_REFUSING: list[socket.socket] = []


def refused_port() -> int:
    """A port on 127.0.0.1 that refuses every connection for as long as this test process runs:
    bound but never listening, so no server of another test can be given it. (A port found free
    and let go can be, while the tests run in parallel, and would then answer.)"""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    _REFUSING.append(sock)
    return int(sock.getsockname()[1])
