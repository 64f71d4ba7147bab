"""The `/paperboy` slash command: help, seed, follow, unfollow, top, settings, forget."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot import Deps, UserError
from bot.home import publish_home
from paperboy import blocks, seeds
from paperboy.models import Reader, SeedPaper
from paperboy.pipeline import load_batch, load_order, rank_for, top_entries
from paperboy.services import arxiv_client

log = logging.getLogger(__name__)

TOP_LIMIT = 10
"""At most this many papers in `/paperboy top` (an ephemeral message stays short)."""

HELP = """*Paperboy* reads arXiv's new papers every weekday and ranks them for you.
• `/paperboy seed <arXiv id or URL>`: a paper that shows what you want more of
• `/paperboy follow <author>` and `/paperboy unfollow <author>`: papers by them come first
• `/paperboy top`: your own top papers of the latest day
• `/paperboy settings`: email digest on or off, its address, the digest size
• `/paperboy forget`: delete everything Paperboy keeps about you
👍/👎 on a paper teach your ranking; the Home tab shows what it has learned."""

Reply = dict[str, Any]


def parse(text: str) -> tuple[str, str]:
    """'follow  Yoshua Bengio' -> ('follow', 'Yoshua Bengio'); empty text is help."""
    parts = text.strip().split(None, 1)
    if not parts:
        return "help", ""
    return parts[0].lower(), parts[1].strip() if len(parts) > 1 else ""


def _reader(deps: Deps, user: str) -> Reader:
    return deps.store.reader(user) or Reader(id=user)


def seed(deps: Deps, user: str, arg: str) -> tuple[Reply, str | None]:
    """Add a seed paper at once when its title and abstract are at hand (a paper of a recent
    day, or cached); otherwise the reply says it is being looked up, and the id to look up."""
    try:
        paper_id = seeds.arxiv_id(arg)
    except ValueError:
        raise UserError(
            f"“{blocks.escape(arg)}” is not an arXiv id or URL: try "
            "`/paperboy seed 2502.11089` or an arxiv.org/abs/ link."
        ) from None
    reader = _reader(deps, user)
    if any(s.id == paper_id and (s.title or s.abstract) for s in reader.seed_papers):
        return {"text": f"{paper_id} is already one of your seed papers."}, None
    try:
        added = seeds.add_seed(deps.store, user, paper_id, None, deps.settings.arxiv_api_url)
    except LookupError:
        return {"text": f"Looking up {paper_id} on arXiv…"}, paper_id
    return _seed_added(added), None


def look_up_seed(deps: Deps, user: str, paper_id: str) -> Reply:
    """Fetch a seed paper's title and abstract from arXiv (politely, so it may take seconds)."""
    arxiv = arxiv_client(deps.settings, deps.store)
    try:
        added = seeds.add_seed(deps.store, user, paper_id, arxiv, deps.settings.arxiv_api_url)
    except LookupError as exc:
        return {"text": f"Nothing added: {exc}."}
    return _seed_added(added)


def _seed_added(added: SeedPaper) -> Reply:
    return {
        "text": f"Added seed paper {added.id} “{blocks.escape(added.title)}”. Your ranking leans "
        "towards it from the next day on."
    }


def follow(deps: Deps, user: str, arg: str) -> Reply:
    name = " ".join(arg.split())
    try:
        followed = seeds.follow(deps.store, user, name)
    except ValueError:  # no name, or no letters in it
        raise UserError(
            "Whom should Paperboy follow? Try `/paperboy follow Yoshua Bengio`."
        ) from None
    if not followed:
        return {"text": f"You already follow {blocks.escape(name)}."}
    return {"text": f"Following {blocks.escape(name)}: their papers come first in your ranking."}


def unfollow(deps: Deps, user: str, arg: str) -> Reply:
    name = " ".join(arg.split())
    if not name or not seeds.unfollow(deps.store, user, name):
        following = ", ".join(_reader(deps, user).authors) or "nobody yet"
        raise UserError(
            f"You do not follow “{blocks.escape(name)}”. You follow: {blocks.escape(following)}."
        )
    return {"text": f"No longer following {blocks.escape(name)}."}


def top(deps: Deps, user: str, arg: str = "") -> Reply:
    """The reader's own top papers of the latest ranked day."""
    ctx = deps.context
    for day in reversed(deps.store.days()):
        try:
            batch, order = load_batch(ctx, day), load_order(ctx, day)
        except LookupError:
            continue
        size = min(_reader(deps, user).digest_size or deps.settings.digest_size, TOP_LIMIT)
        by_id = {p.id: p for p in batch.papers}
        entries = top_entries(rank_for(ctx, user, batch, order), by_id, size)
        return {
            "text": f"Your top {len(entries)} papers of {day:%a %d %b}",
            "blocks": blocks.top_blocks(day, entries),
        }
    return {
        "text": "No day has been ranked yet: the first digest comes with the next announcement."
    }


def settings(deps: Deps, user: str, arg: str) -> Reply:
    return {
        "text": "Your Paperboy settings",
        "blocks": blocks.settings_blocks(_reader(deps, user), deps.settings.digest_size),
    }


def forget(deps: Deps, user: str, arg: str) -> Reply:
    return {"text": "Delete your Paperboy data?", "blocks": blocks.forget_blocks()}


def show_help(deps: Deps, user: str, arg: str) -> Reply:
    return {"text": HELP}


VERBS: dict[str, Callable[[Deps, str, str], Reply]] = {
    "help": show_help,
    "follow": follow,
    "unfollow": unfollow,
    "settings": settings,
    "forget": forget,
}
CHANGES_HOME = {"seed", "follow", "unfollow"}


def register(app: App, deps: Deps) -> None:
    """Listen to /paperboy and to the forget confirmation buttons."""

    def answer(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
        verb, arg = parse(command.get("text") or "")
        user = str(command["user_id"])
        if verb == "top":
            context["top"] = True
            ack(text="Ranking the latest day's papers for you…")
            return
        if verb == "seed":  # arXiv may take seconds: looked up after the ack
            reply, context["seed"] = seed(deps, user, arg)
        elif verb in VERBS:
            reply = VERBS[verb](deps, user, arg)
        else:
            raise UserError(f"Paperboy does not know `{blocks.escape(verb)}`.\n{HELP}")
        context["home"] = verb in CHANGES_HOME
        ack(**reply)

    def later(command: dict[str, Any], respond: Respond, context: BoltContext) -> None:
        user = str(command["user_id"])
        if context.get("top"):
            respond(response_type="ephemeral", **top(deps, user))
        if context.get("seed"):
            respond(response_type="ephemeral", **look_up_seed(deps, user, context["seed"]))
        if context.get("home"):
            publish_home(deps, user, fresh=True)

    def confirm_forget(ack: Ack, body: dict[str, Any]) -> None:
        user = str(body["user"]["id"])
        deps.store.forget(user)
        log.info("forgot reader %s at their request", user)
        ack()

    def forgotten(body: dict[str, Any], respond: Respond) -> None:
        respond(
            replace_original=True,
            text="Done: Paperboy has deleted your votes, seed papers, "
            "followed authors and settings.",
        )
        publish_home(deps, str(body["user"]["id"]), fresh=True)

    def ack_only(ack: Ack) -> None:
        ack()

    def cancelled(respond: Respond) -> None:
        respond(replace_original=True, text="Nothing was deleted.")

    app.command("/paperboy")(ack=answer, lazy=[later])
    app.action(blocks.FORGET_CONFIRM)(ack=confirm_forget, lazy=[forgotten])
    app.action(blocks.FORGET_CANCEL)(ack=ack_only, lazy=[cancelled])
