"""Local servers that speak the outside systems' protocols (Slack, Anthropic, arXiv, SMTP)."""

POLL_SECONDS = 0.05
"""How often a stand-in's server loop looks for a shutdown request, in seconds: socketserver's
default (0.5 s) would hold up every test that stops a server."""
