"""The App Home tab: what a reader's profile has learned, their settings, and admin facts."""

from __future__ import annotations

import importlib
import logging
import re
import time
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot import Deps, UserError
from paperboy import blocks
from paperboy.models import Paper, Reader, Vote
from paperboy.pipeline import explain_reader
from paperboy.profiles import standing_votes

log = logging.getLogger(__name__)

RECENT_VOTES = 8
TERMS_SECONDS = 120.0
"""How long a reader's top terms shown on Home may lag their votes, in seconds."""
ADMIN_DAYS = 7
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def recent_votes(events: list[Vote], limit: int = RECENT_VOTES) -> list[Vote]:
    """The reader's standing votes, newest first."""
    return sorted(standing_votes(events), key=lambda v: v.at, reverse=True)[:limit]


def admin_lines(deps: Deps) -> list[str]:
    """The group's configuration and the last days' costs, one line each."""
    s, store = deps.settings, deps.store
    model = s.anthropic_model if s.anthropic_api_key else "none: local scorer only"
    lines = [
        f"Categories: {', '.join(s.arxiv_categories)} (announce types "
        f"{', '.join(s.arxiv_announce_types)}) · schedule {s.schedule_cron} UTC",
        f"Criteria file: {s.criteria_file or 'the example profile'}",
        f"Model: {model} · budget {s.llm_max_papers} papers and ${s.llm_max_usd_per_day:.2f} a "
        f"day · digest of {s.digest_size}",
    ]
    days = sorted(set(store.days()) | set(store.cost_days()))[-ADMIN_DAYS:]
    for day in reversed(days):
        record = store.day(day, "papers", "slack")
        cost = store.day_cost(day)
        read = len(record.papers or []) if record else 0
        posted = record.slack.picked if record and record.slack else "—"
        lines.append(
            f"{day:%a %d %b}: {read:,} read, {posted} posted, ${cost['usd']:.4f} for "
            f"{int(cost['papers'])} papers judged in {int(cost['calls'])} calls"
        )
    lines.append(
        "Change these in the environment (ARXIV_CATEGORIES, CRITERIA_FILE, "
        "ANTHROPIC_MODEL, LLM_MAX_USD_PER_DAY) and restart the worker."
    )
    return lines


def top_terms(deps: Deps, reader: Reader, events: list[Vote], fresh: bool) -> dict[str, list[Any]]:
    """The profile's top terms, recomputed when asked or when older than TERMS_SECONDS."""
    # Fitting the reader's model takes CPU that the web process's acks need: after a vote the
    # Home shows the new vote at once and the terms within TERMS_SECONDS.
    at, terms = deps.terms.get(reader.id, (0.0, {}))
    if fresh or time.monotonic() - at > TERMS_SECONDS:
        try:
            explained = explain_reader(deps.context, reader, events)
            criteria = explained.get("criteria", {})
            terms = {
                **explained.get("terms", {}),
                "criteria_up": criteria.get("up", []),
                "criteria_down": criteria.get("down", []),
            }
        except Exception:
            log.exception("explaining %s's profile failed; Home shows it without terms", reader.id)
        deps.terms[reader.id] = (time.monotonic(), terms)
    return terms


def warm(deps: Deps) -> None:
    """Pay the first Home's one-off costs while the process starts, not during its first clicks."""
    # Explaining a profile needs the group's prior (files to read) and scipy.sparse, which
    # paperboy.vectors imports on first use: about a second of CPU, more without bytecode caches,
    # that would otherwise be taken from the acks of the first burst of votes.
    started = time.process_time()
    try:
        deps.context  # noqa: B018 - a cached property: building it is the point
        importlib.import_module("scipy.sparse")
    except Exception:
        log.exception("warming the profile explainer failed; the first Home pays for it")
    log.info("Home explainer warm in %.2f s of CPU", time.process_time() - started)


def home_for(
    deps: Deps, user: str, notice: str | None = None, fresh: bool = False
) -> dict[str, Any]:
    """The Home view of one reader."""
    reader = deps.store.reader(user) or Reader(id=user)
    events = deps.store.votes(user)
    recent = recent_votes(events)
    papers = deps.store.papers([v.paper for v in recent])
    shown: list[tuple[Vote, Paper | None]] = [(v, papers.get(v.paper)) for v in recent]
    terms = top_terms(deps, reader, events, fresh)
    admin = admin_lines(deps) if deps.is_admin(user) else None
    return blocks.home_view(reader, shown, terms, deps.settings.digest_size, admin, notice)


def publish_home(deps: Deps, user: str, notice: str | None = None, fresh: bool = False) -> None:
    deps.client.views_publish(user_id=user, view=home_for(deps, user, notice, fresh))


def _reader(deps: Deps, body: dict[str, Any]) -> Reader:
    user = str(body["user"]["id"])
    return deps.store.reader(user) or Reader(id=user)


def register(app: App, deps: Deps) -> None:
    """Listen to Home opening and to the settings controls (on Home or in /paperboy settings)."""

    def ack_only(ack: Ack) -> None:
        ack()

    def opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            publish_home(deps, str(event["user"]), fresh=True)

    def toggle_email(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        reader = _reader(deps, body)
        turn_on = not reader.email_enabled
        if turn_on and not reader.email:
            raise UserError(
                "Add your email address first (press Enter in the field), then turn "
                "the email digest on."
            )
        deps.store.save_reader(reader.model_copy(update={"email_enabled": turn_on}))
        context["changed"] = True
        ack()

    def set_email(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        reader = _reader(deps, body)
        address = str(body["actions"][0].get("value") or "").strip()
        if address and not EMAIL.fullmatch(address):
            raise UserError(f"“{address}” does not look like an email address.")
        update: dict[str, Any] = {"email": address or None}
        if not address:
            update["email_enabled"] = False
        deps.store.save_reader(reader.model_copy(update=update))
        context["changed"] = True
        ack()

    def set_size(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        reader = _reader(deps, body)
        try:
            size = int(body["actions"][0]["selected_option"]["value"])
        except (KeyError, TypeError, ValueError):
            raise UserError("Sorry, Paperboy could not read that digest size.") from None
        deps.store.save_reader(reader.model_copy(update={"digest_size": max(1, min(size, 50))}))
        context["changed"] = True
        ack()

    def refresh(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
        if not context.get("changed"):
            return  # the error handler has told them what went wrong
        user = str(body["user"]["id"])
        if (body.get("container") or {}).get("type") == "view":
            publish_home(deps, user)
            return
        reader = deps.store.reader(user) or Reader(id=user)
        respond(
            text="Your Paperboy settings",
            replace_original=True,
            blocks=blocks.settings_blocks(reader, deps.settings.digest_size),
        )

    app.event("app_home_opened")(ack=ack_only, lazy=[opened])
    app.action(blocks.HOME_EMAIL_TOGGLE)(ack=toggle_email, lazy=[refresh])
    app.action(blocks.HOME_EMAIL)(ack=set_email, lazy=[refresh])
    app.action(blocks.HOME_DIGEST_SIZE)(ack=set_size, lazy=[refresh])
