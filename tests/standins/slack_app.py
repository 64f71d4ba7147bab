"""The Slack app as its manifest declares it, and the scopes Slack asks of each Web API method.

The Web API stand-in (`slack_api.py`) serves a bot token holding exactly the manifest's bot
scopes and refuses a method none of whose scopes the token holds, as Slack does; it also
applies the manifest's App Home settings (Home tab, Messages tab). By default the manifest is
the repository's own `slack/manifest.json`, so a scope missing there fails the tests as it
would fail in Slack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = Path(__file__).resolve().parents[2] / "slack" / "manifest.json"
"""The app manifest an admin pastes into Slack to create Paperboy's app."""

Scopes = str | dict[str, str]
"""One bot scope (empty: none needed), or one per conversation type the call reaches."""

CONVERSATION_TYPES = ("public_channel", "private_channel", "mpim", "im")
"""Slack's names for the kinds of conversation (as in `conversations.list`'s `types`)."""

HISTORY: dict[str, str] = {
    "public_channel": "channels:history",
    "private_channel": "groups:history",
    "mpim": "mpim:history",
    "im": "im:history",
}
OPEN: dict[str, str] = {
    "public_channel": "channels:manage",
    "private_channel": "groups:write",
    "mpim": "mpim:write",
    "im": "im:write",
}

# The bot-token scopes of each Web API method the stand-in serves, from the "Scopes" facts of
# the method's reference page, https://docs.slack.dev/reference/methods/<method> (auth.test,
# chat.getPermalink and views.publish list none; chat:write's scope page lists the three chat.*
# methods). Where a page lists one scope per conversation type (the *:history and *:write
# families), the call needs the scope of the conversation it reaches, and that scope is what a
# refusal names as `needed`.
METHOD_SCOPES: dict[str, Scopes] = {
    "auth.test": "",
    "chat.getPermalink": "",
    "chat.postEphemeral": "chat:write",
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "conversations.history": HISTORY,
    "conversations.open": OPEN,
    "conversations.replies": HISTORY,
    "files.completeUploadExternal": "files:write",
    "files.getUploadURLExternal": "files:write",
    "users.info": "users:read",
    "views.publish": "",
}


def read_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    """The manifest as a dict (the repository's own by default)."""
    found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return found


@dataclass(frozen=True)
class SlackApp:
    """What the manifest grants the bot token and turns on in App Home."""

    scopes: tuple[str, ...]
    home_tab: bool
    messages_tab: bool
    """The app's Messages tab, its DM with each person: off, the app cannot write there. (Its
    read-only setting only stops people writing to the app.)"""

    @classmethod
    def of(cls, manifest: dict[str, Any]) -> SlackApp:
        home = (manifest.get("features") or {}).get("app_home") or {}
        bot = ((manifest.get("oauth_config") or {}).get("scopes") or {}).get("bot") or []
        return cls(
            scopes=tuple(bot),
            home_tab=bool(home.get("home_tab_enabled", False)),
            messages_tab=bool(home.get("messages_tab_enabled", False)),
        )

    def needed(self, method: str, conversation: str | None = None) -> str | None:
        """The scope `method` needs on this kind of conversation that the token lacks, or None."""
        scopes = METHOD_SCOPES[method]
        if isinstance(scopes, dict):
            scopes = scopes[conversation or "public_channel"]
        return scopes if scopes and scopes not in self.scopes else None

    def refusal(self, needed: str) -> dict[str, Any]:
        """Slack's answer to a call the token's scopes do not allow."""
        return {
            "ok": False,
            "error": "missing_scope",
            "needed": needed,
            "provided": ",".join(self.scopes),
        }
