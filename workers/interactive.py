"""Work a person is waiting for, as RQ jobs on the `interactive` queue.

The web process records, acknowledges and enqueues these by name; they rank, explain, search and
look things up here, away from the acknowledgements, and answer through Slack: `/paperboy top`,
`/paperboy search` and seed look-ups through the command's `response_url`, Home through
`views.publish`, and the reading list's BibTeX file in a direct message (`files_upload_v2`). The
`interactive` process runs them in one long-lived worker (rq's SimpleWorker), so the ranking's
imports and per-day caches are paid once, not per job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from paperboy import bibtex, blocks, mailer, search_blocks, seeds, tokens
from paperboy.days import latest_ranked
from paperboy.home import home_view
from paperboy.models import Explanation, Reader
from paperboy.readers import explain_reader, ranking_for
from paperboy.search import ANSWERS, search
from paperboy.services import arxiv_client, context
from paperboy.settings import Settings
from paperboy.slack import web_client
from paperboy.smtp import SendError
from paperboy.store import Store, serving_store
from workers.steps import logged

log = logging.getLogger(__name__)

TOP_LIMIT = 10
"""At most this many papers in `/paperboy top` (an ephemeral message stays short)."""
HOME_SPACING_SECONDS = 0.6
"""Seconds between two Home publications across workers: views.publish allows ~100 a minute."""


def _settings_and_store() -> tuple[Settings, Store]:
    settings = Settings()
    return settings, serving_store(settings)


def _slack(settings: Settings) -> WebClient:
    if settings.slack_bot_token is None:
        raise ValueError("SLACK_BOT_TOKEN is not set: the interactive worker cannot answer")
    return web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)


def _respond(response_url: str, reply: dict[str, object]) -> None:
    """Answer a slash command privately through its response URL (valid for 30 minutes)."""
    WebhookClient(response_url).send_dict({"response_type": "ephemeral", **reply})


@logged
def refresh_home(user: str, notice: str | None = None) -> str:
    """Work out what the reader's profile has learned and publish their Home."""
    settings, store = _settings_and_store()
    store.home_refresh_started(user)  # votes from now on ask for another refresh
    learned: Explanation | None
    try:
        learned = explain_reader(context(settings, store), user)
    except Exception:  # the rest of Home is still worth showing
        log.exception("explaining %s's profile failed; Home shows it without", user)
        learned = None
    client = _slack(settings)
    learn_time_zone(client, store, user)
    view = home_view(settings, store, user, learned, notice)
    store.wait_turn("slack-home", HOME_SPACING_SECONDS * settings.pacing)
    client.views_publish(user_id=user, view=view)
    return f"Home of {user} published"


def learn_time_zone(client: WebClient, store: Store, user: str) -> None:
    """Keep the reader's time zone as Slack knows it (users.info's `tz`), for the hour their
    email comes; a reader Paperboy keeps nothing about stays unknown."""
    reader = store.reader(user)
    if reader is None:
        return
    try:
        found = client.users_info(user=user).get("user") or {}
    except SlackApiError as exc:
        log.warning("users.info for %s failed (%s): their time zone stays as it was", user, exc)
        return
    tz = found.get("tz")
    if isinstance(tz, str) and tz and tz != reader.slack_tz:
        store.save_reader(reader.model_copy(update={"slack_tz": tz}))


def top_reply(settings: Settings, store: Store, user: str) -> dict[str, object]:
    """The reader's own top papers of the latest ranked day, as a Slack message."""
    ctx = context(settings, store)
    reader = store.reader(user) or Reader(id=user)
    found = latest_ranked(ctx)
    if found is None:
        return {
            "text": "No day has been ranked yet: the first digest comes with the next announcement."
        }
    batch, order = found
    size = min(reader.digest_size or settings.digest_size, TOP_LIMIT)
    entries = ranking_for(ctx, user, batch, order).top(size)
    return {
        "text": f"Your top {len(entries)} papers of {batch.day:%a %d %b}",
        "blocks": blocks.top_blocks(batch.day, entries),
    }


@logged
def answer_top(user: str, response_url: str) -> str:
    """`/paperboy top`: the reader's ranking of the latest day, answered privately."""
    settings, store = _settings_and_store()
    _respond(response_url, top_reply(settings, store, user))
    return f"top answered for {user}"


def permalinks(client: WebClient) -> Callable[[str, str], str | None]:
    """Looks up a posted message's permalink (`chat.getPermalink`); None when Slack refuses."""

    def look(channel: str, ts: str) -> str | None:
        try:
            return str(client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except SlackApiError as exc:
            log.warning("no permalink for %s/%s: %s", channel, ts, exc.response.get("error"))
            return None

    return look


@logged
def answer_search(user: str, text: str, response_url: str) -> str:
    """`/paperboy search WORDS`: the best-matching papers Paperboy has seen, answered privately."""
    settings, store = _settings_and_store()
    found = search(store, text, ANSWERS, permalinks(_slack(settings)))
    _respond(response_url, search_blocks.answer(text, found))
    return f"search by {user}: {len(found)} papers"


BIBTEX_FILE = "paperboy-reading-list.bib"


@logged
def send_bibtex(user: str, response_url: str) -> str:
    """`/paperboy saved bibtex`: the reader's reading list as a BibTeX file, in a direct message
    (`conversations.open`, then `files_upload_v2`); the command's answer says it went."""
    settings, store = _settings_and_store()
    saved = store.saved(user)
    papers = store.papers([s.paper for s in saved])
    kept = [papers[s.paper] for s in saved if s.paper in papers]
    if not kept:
        _respond(response_url, {"text": "Your reading list is empty: 📌 Save a paper first."})
        return f"no reading list for {user}"
    client = _slack(settings)
    noun = f"{len(kept)} paper{'' if len(kept) == 1 else 's'}"
    try:
        channel = str(client.conversations_open(users=user)["channel"]["id"])
        client.files_upload_v2(
            channel=channel,
            content=bibtex.entries(kept),
            filename=BIBTEX_FILE,
            title=f"Reading list ({noun})",
            initial_comment=f"Your reading list as BibTeX, {noun}, newest first (Zotero: "
            "File → Import…).",
        )
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.warning("the BibTeX file for %s could not be sent: %s", user, error)
        why = f"Sorry, Slack refused the file ({error})."
        if error == "missing_scope":
            needed = exc.response.get("needed") or "files:write, im:write"
            why = (
                f"Sorry, Paperboy's Slack app may not send files ({needed} is missing): ask "
                "your Paperboy admin to add it from slack/manifest.json and reinstall the app."
            )
        _respond(response_url, {"text": why})
        return f"BibTeX for {user} refused: {error}"
    sent = f"Sent: {noun} as a BibTeX file in your messages with Paperboy."
    _respond(response_url, {"text": sent})
    return f"BibTeX of {len(kept)} papers sent to {user}"


@logged
def look_up_seed(user: str, paper_id: str, response_url: str) -> str:
    """`/paperboy seed ID` for a paper Paperboy has not seen: fetch its title and abstract from
    arXiv (politely, so it may take seconds), add it, say so, and refresh the reader's Home."""
    settings, store = _settings_and_store()
    arxiv = arxiv_client(settings, store)
    try:
        added = seeds.add_seed(store, user, paper_id, arxiv, settings.arxiv_api_url)
    except LookupError as exc:
        _respond(response_url, {"text": f"Nothing added: {exc}."})
        return f"seed {paper_id} not found for {user}"
    _respond(response_url, {"text": blocks.seed_added(added)})
    refresh_home(user)
    return f"seed {paper_id} added for {user}"


@logged
def confirm_address(user: str, address: str) -> str:
    """Mail the link that confirms an address the reader set on Home, then show on Home that
    it went (or why it did not)."""
    settings, store = _settings_and_store()
    reader = store.reader(user)
    if reader is None or reader.pending_email != address:
        return f"{user}'s address changed since: no confirmation sent"
    email = mailer.from_settings(settings, store)
    if email is None:  # email was switched off since the address was set
        notice = "Paperboy's email is not set up, so it cannot confirm your address."
    else:
        try:
            email.confirm(user, address)
        except (SendError, ValueError) as exc:
            log.warning("the confirmation for reader %s could not be sent: %s", user, exc)
            notice = (
                f"Paperboy could not send the confirmation to {address} ({exc}). "
                "Check the address and enter it again."
            )
        else:
            notice = (
                f"A confirmation link is on its way to {address}: follow it, and your digest "
                f"goes there. It works for {tokens.CONFIRM_HOURS} hours."
            )
    refresh_home(user, notice)
    return f"confirmation for {user}: {notice}"
