"""Seed papers from arXiv ids (served API response), a SEED_PAPERS_FILE, BibTeX and the CLI."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from paperboy.arxiv import Arxiv
from paperboy.local import LocalScorer
from paperboy.models import Paper, SeedPaper
from paperboy.prior import load_prior, load_seeds
from paperboy.seeds import add_seed, arxiv_id, complete_prior, fetch_seed_metadata, remove_seed
from paperboy.store import Store
from tests.conftest import FIXTURES
from tests.standins.feeds import FeedServer, serve

API_RESPONSE = (FIXTURES / "rss/api-query-cs.LG-2026-04-30.atom.xml").read_bytes()
FIRST = "2604.26951"  # "Turning the TIDE: Cross-Architecture Distillation for Diffusion …"
SECOND = "2604.26942"


class ApiServer(FeedServer):
    """The arXiv API stand-in: answers every query with the saved response, records the ids."""

    def asked(self) -> list[list[str]]:
        return [
            parse_qs(urlparse(path).query).get("id_list", [""])[0].split(",")
            for _, path, _ in self.requests
        ]


@pytest.fixture
def api() -> ApiServer:
    return ApiServer()


def _client(server: FeedServer) -> Arxiv:
    """The polite client as the CLI builds it, with no spacing to wait for in a test."""
    return Arxiv(http=httpx.Client(timeout=5), wait_turn=lambda: None, sleep=lambda _: None)


class _ByPath(dict[str, bytes]):
    """Routes that ignore the query string: the saved response answers any id_list."""

    def get(self, key: str, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
        return super().get(key.split("?", 1)[0], default)


def _served(server: ApiServer) -> ApiServer:
    server.routes = _ByPath({"/api/query": API_RESPONSE})
    return server


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2604.26951", FIRST),
        ("2604.26951v3", FIRST),
        ("arXiv:2604.26951", FIRST),
        ("https://arxiv.org/abs/2604.26951v1", FIRST),
        ("https://arxiv.org/pdf/2604.26951", FIRST),
        ("hep-th/9901001", "hep-th/9901001"),
    ],
)
def test_ids_and_urls(text: str, expected: str) -> None:
    assert arxiv_id(text) == expected


def test_not_an_id_is_said_plainly() -> None:
    with pytest.raises(ValueError, match="not an arXiv id or URL"):
        arxiv_id("my favourite paper")


def test_a_served_api_response_becomes_seed_papers(api: ApiServer) -> None:
    with serve(_served(api)) as server:
        seeds = fetch_seed_metadata(
            [SECOND, FIRST, "2604.99999"], _client(server), f"{server.url}/api/query"
        )
    assert [s.id for s in seeds] == [SECOND, FIRST]  # the unknown id is left out
    assert seeds[1].title.startswith("Turning the TIDE: Cross-Architecture Distillation")
    assert seeds[1].abstract.startswith("Diffusion large language models (dLLMs)")
    assert "Announce Type" not in seeds[1].abstract
    assert api.asked() == [[SECOND, FIRST, "2604.99999"]]


def test_add_seed_fetches_once_and_keeps_it(store: Store, api: ApiServer) -> None:
    with serve(_served(api)) as server:
        arxiv, url = _client(server), f"{server.url}/api/query"
        seed = add_seed(store, "U1", f"https://arxiv.org/abs/{FIRST}v1", arxiv, url)
        assert seed.id == FIRST and seed.title.startswith("Turning the TIDE")
        assert add_seed(store, "U1", FIRST, arxiv, url) == seed  # already there: no request
        assert add_seed(store, "U2", FIRST, arxiv, url) == seed  # cached in the store
        with pytest.raises(LookupError, match=r"arXiv has no paper 2604\.99999"):
            add_seed(store, "U1", "2604.99999", arxiv, url)
    assert len(api.requests) == 2  # FIRST once, the unknown id once
    reader = store.reader("U1")
    assert reader is not None and [s.id for s in reader.seed_papers] == [FIRST]
    assert remove_seed(store, "U1", FIRST) and not remove_seed(store, "U1", FIRST)


def test_a_paper_of_a_recent_day_becomes_a_seed_without_asking_arxiv(store: Store) -> None:
    paper = Paper(id="2506.00001", title="Sparse experts", abstract="We route tokens sparsely.")
    store.save_papers([paper])
    seed = add_seed(store, "U1", "https://arxiv.org/abs/2506.00001v2", None, "unused")
    assert (seed.id, seed.title, seed.abstract) == (paper.id, paper.title, paper.abstract)
    reader = store.reader("U1")
    assert reader is not None and reader.seed_papers == [seed]


def test_a_seed_file_of_bare_ids_is_filled_in_and_cached(
    store: Store, api: ApiServer, tmp_path: Path
) -> None:
    ids = tmp_path / "seeds.txt"
    ids.write_text(f"# our papers\n{FIRST}v1\nhttps://arxiv.org/abs/{SECOND}\n")
    prior = load_prior(None, ids, None, tmp_path)
    assert prior.seeds == [SeedPaper(id=FIRST), SeedPaper(id=SECOND)]
    with serve(_served(api)) as server:
        url = f"{server.url}/api/query"
        filled = complete_prior(prior, store, _client(server), url)
        again = complete_prior(prior, store, _client(server), url)  # a later run: from the store
    assert len(api.requests) == 1
    assert again == filled
    assert [s.title[:16] for s in filled.seeds] == ["Turning the TIDE", again.seeds[1].title[:16]]
    assert all(s.abstract for s in filled.seeds)
    # The filled-in seeds teach the local scorer: their own abstract ranks them first.
    day = [p for p in _papers() if p.id in (FIRST, SECOND)] + _papers()[5:40]
    top = sorted(LocalScorer(filled).score(day).items(), key=lambda kv: -kv[1].score)[:2]
    assert {pid for pid, _ in top} == {FIRST, SECOND}


def test_unreachable_arxiv_keeps_bare_seeds(store: Store, tmp_path: Path) -> None:
    ids = tmp_path / "seeds.txt"
    ids.write_text(f"{FIRST}\n")
    prior = load_prior(None, ids, None, tmp_path)
    dead = Arxiv(
        http=httpx.Client(base_url="http://127.0.0.1:9", timeout=1),
        wait_turn=lambda: None,
        sleep=lambda _: None,
        retries=0,
    )
    assert complete_prior(prior, store, dead, "http://127.0.0.1:9/api").seeds == [
        SeedPaper(id=FIRST)
    ]


def test_a_bibtex_file_becomes_seed_papers(tmp_path: Path) -> None:
    bib = tmp_path / "ours.bib"
    bib.write_text(
        "@misc{tide2026,\n"
        "  title = {Turning the {TIDE}: Cross-Architecture Distillation},\n"
        "  author = {Yuan, Li and G{\\'a}lvez, Carmen},\n"
        "  abstract = {Diffusion large language models offer parallel decoding.},\n"
        "  eprint = {2604.26951}, archivePrefix = {arXiv},\n}\n"
        '@article{old, title = "Sparse Casta\\~neda Nets", url = {https://arxiv.org/abs/2401.00001v2}}\n'
    )
    seeds = load_seeds(bib)
    assert seeds == [
        SeedPaper(
            title="Turning the TIDE: Cross-Architecture Distillation",
            abstract="Diffusion large language models offer parallel decoding.",
            id=FIRST,
        ),
        SeedPaper(title="Sparse Castañeda Nets", abstract="", id="2401.00001"),
    ]


def _papers():
    from paperboy.feed import parse_feed

    return parse_feed("api", API_RESPONSE).papers
