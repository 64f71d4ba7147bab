"""The App Home tab: opened, and the settings controls on it (or in `/paperboy settings`):
email on and off, the address (checked at once), the digest size, daily or weekly, the hour.

Home shows what the reader's profile has learned, which takes ranking: the interactive worker
builds and publishes it. Requests that come while one is queued are served by that one. When
no interactive worker runs, the web process publishes Home without the learned part, saying so.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot import Deps, UserError
from paperboy import blocks
from paperboy.addresses import AddressError, checked
from paperboy.home import home_view
from paperboy.models import Reader

log = logging.getLogger(__name__)

REFRESH_HOME = "workers.interactive.refresh_home"
CONFIRM_ADDRESS = "workers.interactive.confirm_address"
CONFIRMATIONS_A_DAY = 5
"""Confirmation emails a reader may ask for in a day: a member cannot flood an address."""


def request_home(deps: Deps, user: str, notice: str | None = None) -> None:
    """Ask for the reader's Home to be refreshed (with a notice on top, if given)."""
    if not deps.interactive.alive():
        view = home_view(deps.settings, deps.store, user, None, notice)
        deps.client.views_publish(user_id=user, view=view)
        log.warning("no interactive worker: published %s's Home without the profile", user)
        return
    if notice is None and not deps.store.want_home_refresh(user):
        return  # a refresh is queued and has not started: it will show this too
    deps.interactive.enqueue(REFRESH_HOME, user, notice)


def _reader(deps: Deps, body: dict[str, Any]) -> Reader:
    user = str(body["user"]["id"])
    return deps.store.reader(user) or Reader(id=user)


def register(app: App, deps: Deps) -> None:
    """Listen to Home opening and to the settings controls (on Home or in /paperboy settings)."""

    def ack_only(ack: Ack) -> None:
        ack()

    def opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            request_home(deps, str(event["user"]))

    def toggle_email(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        reader = _reader(deps, body)
        turn_on = not reader.email_enabled
        if turn_on and not (reader.email or reader.pending_email):
            raise UserError(
                "Add your email address first (press Enter in the field), then turn "
                "the email digest on."
            )
        deps.store.save_reader(reader.model_copy(update={"email_enabled": turn_on}))
        context["changed"] = True
        ack()

    def set_email(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        """A new address is kept aside until its owner follows the link mailed to it; until
        then digests go on to the address confirmed before, if any."""
        reader = _reader(deps, body)
        address = str(body["actions"][0].get("value") or "").strip()
        if not address:
            update = {"email": None, "pending_email": None, "email_enabled": False}
            deps.store.save_reader(reader.model_copy(update=update))
            context["changed"] = True
            ack()
            return
        try:
            address = checked(address, deps.store.smtputf8())
        except AddressError as exc:
            raise UserError(str(exc)) from None
        if address == reader.email:  # back to the confirmed one: nothing to confirm
            deps.store.save_reader(reader.model_copy(update={"pending_email": None}))
            context["changed"] = True
            ack()
            return
        settings = deps.settings
        if not (settings.smtp_host and settings.email_from and settings.link_secret):
            raise UserError(
                "Paperboy's email is not set up here, so it cannot send a digest (or confirm "
                "an address). Ask your Paperboy admin."
            )
        if deps.store.count_confirmation(reader.id) > CONFIRMATIONS_A_DAY:
            raise UserError(
                f"You have asked for {CONFIRMATIONS_A_DAY} confirmation emails today: "
                "try again tomorrow."
            )
        deps.store.save_reader(reader.model_copy(update={"pending_email": address}))
        deps.interactive.enqueue(CONFIRM_ADDRESS, reader.id, address)
        # The job publishes Home with the confirmation's outcome; when no interactive worker
        # runs, it waits in the queue, and Home is published here, showing the address pending.
        context["changed"] = True
        context["confirming"] = deps.interactive.alive()
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

    def set_cadence(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        reader = _reader(deps, body)
        value = str((body["actions"][0].get("selected_option") or {}).get("value"))
        if value not in ("daily", "weekly"):
            raise UserError("Sorry, Paperboy could not read that choice.")
        deps.store.save_reader(reader.model_copy(update={"cadence": value}))
        context["changed"] = True
        ack()

    def set_hour(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        reader = _reader(deps, body)
        value = str((body["actions"][0].get("selected_option") or {}).get("value"))
        if value != blocks.GROUP_HOUR and not (value.isdigit() and 0 <= int(value) <= 23):
            raise UserError("Sorry, Paperboy could not read that hour.")
        hour = None if value == blocks.GROUP_HOUR else int(value)
        deps.store.save_reader(reader.model_copy(update={"hour": hour}))
        context["changed"] = True
        ack()

    def toggle_share(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        reader = _reader(deps, body)
        deps.store.save_reader(reader.model_copy(update={"share_votes": not reader.share_votes}))
        context["changed"] = True
        ack()

    def refresh(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
        if not context.get("changed"):
            return  # the error handler has told them what went wrong
        user = str(body["user"]["id"])
        if (body.get("container") or {}).get("type") == "view":
            if not context.get("confirming"):  # else the confirmation's job publishes Home
                request_home(deps, user)
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
    app.action(blocks.HOME_CADENCE)(ack=set_cadence, lazy=[refresh])
    app.action(blocks.HOME_HOUR)(ack=set_hour, lazy=[refresh])
    app.action(blocks.HOME_SHARE_TOGGLE)(ack=toggle_share, lazy=[refresh])
