"""The web process: a sync Bolt app behind Flask, run by gunicorn (`bot.app:wsgi()`).

Serves `/slack/events` (actions, the slash command, events; signatures verified), `/healthz`,
and the email-link routes of `bot.links`. With SLACK_APP_TOKEN set, Slack traffic comes over
Socket Mode instead and the web process still serves the email links.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import redis
from flask import Flask, Response, jsonify, request
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient

from bot import Deps, UserError, commands, guard, home, poll, saves, votes
from bot.jobs import Interactive
from bot.links import links
from paperboy import logs
from paperboy.models import utc_now as _utc_now
from paperboy.settings import Settings, load_or_exit
from paperboy.slack import SPACING, Coalescer, web_client
from paperboy.store import Store, serving_store

log = logging.getLogger(__name__)

SORRY = "Sorry, something went wrong on Paperboy's side. Please try again in a minute."
LISTENER_THREADS = 4
"""Threads for lazy listeners and follow-up work; Slack's 3-second ack never waits for them.
Few on purpose: each follow-up is mostly a wait on Slack, and every extra thread contends for
the GIL with the request threads (16 here cut a 2-core box's votes/s by a third)."""
REFRESH_THREADS = 2
"""Threads for each kind of coalesced refresh (chat.update, views.publish); their calls are
spaced across processes anyway, so more threads only wait and contend."""


def tell(deps: Deps, body: dict[str, Any], message: str) -> BoltResponse:
    """Say `message` to whoever sent `body`: in the command's reply, ephemerally, or on Home."""
    if body.get("command"):
        return BoltResponse(status=200, body=message)
    user = (body.get("user") or {}).get("id")
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    if user and channel:
        thread = (body.get("message") or {}).get("thread_ts") or container.get("thread_ts")
        deps.background.submit(
            deps.client.chat_postEphemeral,
            channel=channel,
            user=user,
            text=message,
            thread_ts=thread,
        )
    elif user and container.get("type") == "view":
        deps.background.submit(home.request_home, deps, user, message)
    return BoltResponse(status=200, body="")


class ActionShape(Middleware):
    """Answers a `block_actions` payload without an action before Bolt's matchers index it."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        body = req.body
        actions = body.get("actions")
        if body.get("type") == "block_actions" and not (
            isinstance(actions, list) and actions and isinstance(actions[0], dict)
        ):
            log.info("a block_actions payload without an action from %s", body.get("user"))
            return tell(self.deps, body, votes.MALFORMED)
        return next()


class Redelivery(Middleware):
    """Answers an event delivered before (Slack retries one it got no timely answer for, with
    the same `event_id`) without serving it again."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        event_id = req.body.get("event_id")
        redelivered = (
            req.body.get("type") == "event_callback"
            and isinstance(event_id, str)
            and not self.deps.store.first_delivery("event", event_id)
        )
        if redelivered:
            log.info("event %s delivered again: served once", event_id)
            return BoltResponse(status=200, body="")
        return next()


def _client_token_wins(record: logging.LogRecord) -> bool:
    """False for Bolt's warning that the client's token wins over SLACK_BOT_TOKEN's."""
    return not record.getMessage().startswith("As you gave `client` as well")


def build_bolt(deps: Deps, signing_secret: str) -> App:
    """The Bolt app with every listener and the one error handler."""
    token = deps.client.token

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        # The bot token is known: no auth.test before a listener, so a vote is recorded and
        # acknowledged even while Slack's Web API cannot be reached.
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

    # Bolt reads SLACK_BOT_TOKEN from the environment as well as taking the client below, and
    # would warn on every start that the client's token wins: here that is the design.
    logging.getLogger("slack_bolt.App").addFilter(_client_token_wins)
    app = App(
        # Bolt's own client goes without a token: with one it would call auth.test first.
        client=WebClient(base_url=deps.client.base_url, timeout=deps.client.timeout),
        authorize=authorize,
        signing_secret=signing_secret,
        process_before_response=True,  # the ack listener runs in the request; slow work is lazy
        raise_error_for_unhandled_request=True,
        listener_executor=deps.background,
        # Bolt gives the logger named after the app the root's level of this moment; named
        # "paperboy", it would fix the level of every paperboy.* logger in this process.
        name="bot.bolt",
    )
    app.use(Redelivery(deps))
    app.use(ActionShape(deps))
    votes.register(app, deps)
    saves.register(app, deps)
    poll.register(app, deps)
    home.register(app, deps)
    commands.register(app, deps)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        if isinstance(error, BoltUnhandledRequestError):
            if body.get("type") in ("block_actions", "view_submission"):
                return tell(deps, body, "Paperboy does not know that button.")
            log.debug("unhandled Slack request: %s", body.get("type") or body.get("event"))
            return BoltResponse(status=200, body="")
        user = (body.get("user") or {}).get("id") or body.get("user_id")
        if isinstance(error, UserError):
            log.info("told %s: %s", user, error)
            return tell(deps, body, str(error))
        log.error("Slack request from %s failed", user, exc_info=error)
        return tell(deps, body, SORRY)

    return app


def create_app(
    settings: Settings,
    store: Store,
    client: WebClient | None,
    *,
    now: Callable[[], datetime] = _utc_now,
    spacing: dict[str, float] | None = None,
) -> Flask:
    """The Flask app of the web process; Slack routes only when Slack is configured."""
    flask_app = Flask("paperboy")
    flask_app.config["PAPERBOY_SETTINGS"] = settings
    flask_app.config["PAPERBOY_STORE"] = store

    @flask_app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        try:
            store.redis.ping()
        except redis.RedisError as exc:
            return jsonify(ok=False, redis=str(exc)), 503
        return jsonify(ok=True, slack=client is not None), 200

    flask_app.register_blueprint(links)

    if client is None:
        return flask_app
    executor = ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="paperboy-listener")
    paces = dict(spacing or SPACING)
    # The poll's counts are refreshed with chat.update, as the tallies are: at their pace.
    paces.setdefault("poll", paces.get("tally", SPACING["tally"]))
    coalescer = Coalescer(store, {}, paces, REFRESH_THREADS)
    deps = Deps(
        settings=settings,
        store=store,
        client=client,
        coalescer=coalescer,
        interactive=Interactive(store.redis),
        background=executor,
        now=now,
    )
    coalescer.handlers.update(
        tally=lambda p: votes.refresh_tally(deps, p), poll=lambda p: poll.refresh(deps, p)
    )
    signing = settings.slack_signing_secret
    secret = signing.get_secret_value() if signing else ""
    bolt = build_bolt(deps, secret)
    flask_app.extensions["paperboy_bolt"] = bolt
    flask_app.extensions["paperboy_deps"] = deps
    flask_app.extensions["paperboy_email_vote"] = lambda paper: votes.after_email_vote(deps, paper)
    if secret:  # without a signing secret nothing over HTTP can be trusted: Socket Mode only
        handler = SlackRequestHandler(bolt)
        flask_app.config["MAX_CONTENT_LENGTH"] = guard.MAX_BODY  # beyond it: 413

        @flask_app.post("/slack/events")
        def slack_events() -> Response | tuple[str, int]:
            body = request.get_data()
            try:  # before Bolt: nothing is done, nothing said, for a request that fails here
                stamp = request.headers.get("X-Slack-Request-Timestamp", "")
                signature = request.headers.get("X-Slack-Signature", "")
                guard.check_signature(secret, stamp, signature, body)
                guard.check_shape(request.content_type or "", body)
            except guard.Refused as refused:
                log.info("refused a request to /slack/events: %s", refused)
                return "refused", refused.status
            return handler.handle(request)

    return flask_app


def wsgi() -> Flask:
    """The gunicorn entry point: collaborators from Settings(), Socket Mode when configured."""
    settings = load_or_exit()
    logs.configure(settings.log_format, settings.log_level)  # as gunicorn_conf did, if it ran
    store = serving_store(settings)
    client = None
    if settings.slack_bot_token:
        client = web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    elif settings.slack_signing_secret or settings.slack_app_token:
        log.warning("SLACK_BOT_TOKEN is not set: the web process serves email links only")
    flask_app = create_app(settings, store, client)
    if client is not None and settings.slack_app_token:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        SocketModeHandler(
            flask_app.extensions["paperboy_bolt"], settings.slack_app_token.get_secret_value()
        ).connect()
        log.info("Slack over Socket Mode; HTTP serves the email links and /healthz")
    elif client is not None and not settings.slack_signing_secret:
        log.warning(
            "neither SLACK_SIGNING_SECRET nor SLACK_APP_TOKEN is set: Slack cannot "
            "reach this process; set one of them"
        )
    return flask_app
