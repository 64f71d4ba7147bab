"""A reader's own prior: seed papers named by arXiv id or URL, and followed authors.

Seed metadata (title, abstract) comes from the arXiv API through the same polite client as the
feeds (`Arxiv.get`: 3 s spacing shared by every worker, retries), and is cached in the store for
good, so a SEED_PAPERS_FILE of bare ids is fetched once, not on every run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import urlencode

from paperboy.arxiv import Arxiv, FetchError
from paperboy.feed import FeedError, parse_arxiv_id, parse_feed
from paperboy.models import Prior, Reader, SeedPaper
from paperboy.store import Store

log = logging.getLogger(__name__)

BATCH = 50
"""Ids per API request to arXiv's metadata API (ARXIV_API_URL): arXiv asks for modest pages."""


def arxiv_id(id_or_url: str) -> str:
    """`2502.11089v2`, `arXiv:2502.11089`, an abs or pdf URL -> `2502.11089`; ValueError if none."""
    found = parse_arxiv_id(id_or_url.strip())
    if found is None:
        raise ValueError(
            f"{id_or_url.strip()!r} is not an arXiv id or URL (like 2502.11089 or "
            "https://arxiv.org/abs/2502.11089)"
        )
    return found[0]


def fetch_seed_metadata(ids: Iterable[str], arxiv: Arxiv, api_url: str) -> list[SeedPaper]:
    """Title and abstract of each id arXiv knows, in the order asked; unknown ids are left out.

    Raises FetchError when arXiv cannot be reached, FeedError when it answers garbage.
    """
    wanted = list(dict.fromkeys(ids))
    found: dict[str, SeedPaper] = {}
    for start in range(0, len(wanted), BATCH):
        chunk = wanted[start : start + BATCH]
        query = urlencode({"id_list": ",".join(chunk), "max_results": len(chunk)})
        feed = parse_feed("arXiv API", arxiv.get(f"{api_url}?{query}"))
        for paper in feed.papers:
            # The API answers an unknown id with an "Error" entry of its own: keep only ours.
            if paper.id in chunk and paper.title:
                found[paper.id] = SeedPaper(title=paper.title, abstract=paper.abstract, id=paper.id)
    missing = [pid for pid in wanted if pid not in found]
    if missing:
        log.warning("arXiv does not know %s: left out of the seed papers", ", ".join(missing))
    return [found[pid] for pid in wanted if pid in found]


def bare_ids(seeds: list[SeedPaper]) -> list[str]:
    """The ids of seeds named by id alone, without title or abstract."""
    return [s.id for s in seeds if s.id and not (s.title or s.abstract)]


def complete(
    seeds: list[SeedPaper], store: Store, arxiv: Arxiv | None, api_url: str
) -> list[SeedPaper]:
    """Seeds given by id alone filled in with their title and abstract: from the seed cache or
    the papers of recent days the store holds, else fetched from arXiv (and cached).

    When arXiv cannot be reached the bare seeds are kept (they teach nothing until a later run
    fetches them) and the log says so; the day goes on.
    """
    bare = bare_ids(seeds)
    if not bare:
        return seeds
    known = store.seed_metadata(bare)
    recent = store.papers([pid for pid in bare if pid not in known])
    known.update(
        {pid: SeedPaper(id=pid, title=p.title, abstract=p.abstract) for pid, p in recent.items()}
    )
    todo = [pid for pid in bare if pid not in known]
    if todo and arxiv is not None:
        try:
            fetched = fetch_seed_metadata(todo, arxiv, api_url)
        except (FetchError, FeedError) as exc:
            log.warning("seed papers %s stay bare: %s", ", ".join(todo), exc)
        else:
            store.save_seed_metadata(fetched)
            known.update({s.id: s for s in fetched if s.id})
    return [known.get(s.id, s) if s.id and not (s.title or s.abstract) else s for s in seeds]


def complete_prior(prior: Prior, store: Store, arxiv: Arxiv | None, api_url: str) -> Prior:
    """The group's prior with its bare-id seed papers (SEED_PAPERS_FILE) filled in."""
    seeds = complete(prior.seeds, store, arxiv, api_url)
    return prior if seeds == prior.seeds else prior.model_copy(update={"seeds": seeds})


def add_seed(
    store: Store, reader_id: str, id_or_url: str, arxiv: Arxiv | None, api_url: str
) -> SeedPaper:
    """Add a paper to a reader's seeds by arXiv id or URL, with its title and abstract.

    Raises ValueError for text that names no arXiv id, LookupError when arXiv does not know the
    paper (or cannot be reached and it is not cached), so that the caller can say which.
    Adding a seed the reader already has changes nothing and returns it.
    """
    pid = arxiv_id(id_or_url)
    reader = store.reader(reader_id) or Reader(id=reader_id)
    for seed in reader.seed_papers:
        if seed.id == pid and (seed.title or seed.abstract):
            return seed
    (seed,) = complete([SeedPaper(id=pid)], store, arxiv, api_url)
    if not (seed.title or seed.abstract):
        raise LookupError(f"arXiv has no paper {pid} (or cannot be reached now): nothing added")
    kept = [s for s in reader.seed_papers if s.id != pid]
    store.save_reader(reader.model_copy(update={"seed_papers": [*kept, seed]}))
    log.info("reader %s: seed paper %s added", reader_id, pid)
    return seed


def remove_seed(store: Store, reader_id: str, id_or_url: str) -> bool:
    """Remove a paper from a reader's seeds; False when it was not one."""
    pid = arxiv_id(id_or_url)
    reader = store.reader(reader_id)
    if reader is None or not any(s.id == pid for s in reader.seed_papers):
        return False
    kept = [s for s in reader.seed_papers if s.id != pid]
    store.save_reader(reader.model_copy(update={"seed_papers": kept}))
    return True


def follow(store: Store, reader_id: str, name: str) -> bool:
    """Follow an author (as the reader writes the name); False when already followed."""
    name = " ".join(name.split())
    if not any(c.isalpha() for c in name):
        raise ValueError(f"{name!r} is not an author's name")
    reader = store.reader(reader_id) or Reader(id=reader_id)
    if any(a.casefold() == name.casefold() for a in reader.authors):
        return False
    store.save_reader(reader.model_copy(update={"authors": [*reader.authors, name]}))
    return True


def unfollow(store: Store, reader_id: str, name: str) -> bool:
    """Stop following an author (case-insensitive); False when they were not followed."""
    name = " ".join(name.split())
    reader = store.reader(reader_id)
    if reader is None:
        return False
    kept = [a for a in reader.authors if a.casefold() != name.casefold()]
    if len(kept) == len(reader.authors):
        return False
    store.save_reader(reader.model_copy(update={"authors": kept}))
    return True
