"""The `/paperboy` slash command: help, search, saved, seed, follow, unfollow, top, settings,
forget.

`top`, `search`, `saved bibtex` and the look-up of a seed paper Paperboy has not seen are
answered by the interactive worker (through the command's `response_url`, and a direct message
for the BibTeX file); the rest is answered in the acknowledgement.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot import Deps, UserError
from bot.home import request_home
from bot.jobs import NOT_RUNNING
from bot.saves import reading_list
from paperboy import blocks, seeds
from paperboy.models import Reader

log = logging.getLogger(__name__)

ANSWER_TOP = "workers.interactive.answer_top"
LOOK_UP_SEED = "workers.interactive.look_up_seed"
ANSWER_SEARCH = "workers.interactive.answer_search"
SEND_BIBTEX = "workers.interactive.send_bibtex"
MAX_QUERY = 200
"""Characters of a search query kept: a query is a few words."""

HELP = """*Paperboy* reads arXiv's new papers every weekday and ranks them for you.
• `/paperboy search <words>`: the papers Paperboy has seen that best match (titles, abstracts, \
authors), with a link to each one's thread
• `/paperboy saved`: your reading list (📌 Save on a paper adds it); `/paperboy saved bibtex` \
sends it to you as a BibTeX file (Zotero imports it)
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
    return {"text": blocks.seed_added(added)}, None


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


def settings(deps: Deps, user: str, arg: str) -> Reply:
    return {
        "text": "Your Paperboy settings",
        "blocks": blocks.settings_blocks(_reader(deps, user), deps.settings.digest_size),
    }


def forget(deps: Deps, user: str, arg: str) -> Reply:
    return {"text": "Delete your Paperboy data?", "blocks": blocks.forget_blocks()}


def saved(deps: Deps, user: str, arg: str) -> Reply:
    if arg.strip().lower() not in ("", "list"):
        raise UserError(
            "`/paperboy saved` lists your reading list; `/paperboy saved bibtex` sends it to "
            "you as a BibTeX file."
        )
    return reading_list(deps, user)


def show_help(deps: Deps, user: str, arg: str) -> Reply:
    return {"text": HELP}


VERBS: dict[str, Callable[[Deps, str, str], Reply]] = {
    "help": show_help,
    "follow": follow,
    "unfollow": unfollow,
    "settings": settings,
    "forget": forget,
    "saved": saved,
}
CHANGES_HOME = {"seed", "follow", "unfollow"}


def register(app: App, deps: Deps) -> None:
    """Listen to /paperboy and to the forget confirmation buttons."""

    def answer(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
        verb, arg = parse(command.get("text") or "")
        user = str(command["user_id"])
        response_url = str(command.get("response_url") or "")
        if verb == "top":
            if not deps.interactive.alive():
                raise UserError(NOT_RUNNING)
            deps.interactive.enqueue(ANSWER_TOP, user, response_url)
            ack(text="Ranking the latest day's papers for you…")
            return
        if verb == "search":
            words = " ".join(arg.split())[:MAX_QUERY]
            if not words:
                raise UserError("Search for what? Try `/paperboy search diffusion transformers`.")
            if not deps.interactive.alive():
                raise UserError(NOT_RUNNING)
            deps.interactive.enqueue(ANSWER_SEARCH, user, words, response_url)
            ack(text=f"Searching for “{blocks.escape(words)}”…")
            return
        if verb == "saved" and arg.strip().lower() == "bibtex":
            if not deps.interactive.alive():
                raise UserError(NOT_RUNNING)
            deps.interactive.enqueue(SEND_BIBTEX, user, response_url)
            ack(text="Sending your reading list as a BibTeX file in a direct message…")
            return
        if verb == "seed":
            reply, unknown = seed(deps, user, arg)
            if unknown:  # arXiv may take seconds: looked up by the interactive worker
                if not deps.interactive.alive():
                    raise UserError(NOT_RUNNING)
                deps.interactive.enqueue(LOOK_UP_SEED, user, unknown, response_url)
        elif verb in VERBS:
            reply = VERBS[verb](deps, user, arg)
        else:
            raise UserError(f"Paperboy does not know `{blocks.escape(verb)}`.\n{HELP}")
        context["home"] = verb in CHANGES_HOME
        ack(**reply)

    def later(command: dict[str, Any], context: BoltContext) -> None:
        if context.get("home"):
            request_home(deps, str(command["user_id"]))

    def confirm_forget(ack: Ack, body: dict[str, Any]) -> None:
        user = str(body["user"]["id"])
        deps.store.forget(user)
        log.info("forgot reader %s at their request", user)
        ack()

    def forgotten(body: dict[str, Any], respond: Respond) -> None:
        respond(
            replace_original=True,
            text="Done: Paperboy has deleted your votes, reading-group choices, reading list, "
            "seed papers, followed authors and settings.",
        )
        request_home(deps, str(body["user"]["id"]))

    def ack_only(ack: Ack) -> None:
        ack()

    def cancelled(respond: Respond) -> None:
        respond(replace_original=True, text="Nothing was deleted.")

    app.command("/paperboy")(ack=answer, lazy=[later])
    app.action(blocks.FORGET_CONFIRM)(ack=confirm_forget, lazy=[forgotten])
    app.action(blocks.FORGET_CANCEL)(ack=ack_only, lazy=[cancelled])
