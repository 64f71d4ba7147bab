"""The local scorer on real days: quality, reasons, followed authors, speed, determinism."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from paperboy.features import ROWS_BATCH
from paperboy.local import LocalScorer
from paperboy.models import Paper, Prior
from paperboy.prior import load_prior
from tests.conftest import BIG_DAY, FIXTURES, parsed

EXAMPLE = Path(__file__).parents[1] / "examples/profile"


def _pool(date: str) -> tuple[list[Paper], set[str]]:
    papers = parsed(FIXTURES / f"labeled/pool-{date}.xml.gz").papers
    labels = set(json.loads((FIXTURES / f"labeled/labels-{date}.json").read_text()))
    return papers, labels


def _ranking(scores: dict) -> list[str]:
    return sorted(scores, key=lambda pid: (-scores[pid].score, pid))


def test_picked_papers_rank_far_above_chance() -> None:
    papers, labels = _pool("2025-02-17")
    scores = LocalScorer(load_prior(None, None, None, EXAMPLE)).score(papers)
    assert set(scores) == {p.id for p in papers}
    assert all(s.scorer == "local" for s in scores.values())
    top = _ranking(scores)[: len(labels)]
    # Chance gives about 14% of the top k; the scorer finds several times that.
    assert len(set(top) & labels) / len(labels) >= 0.4


def test_reasons_name_seed_papers_and_keywords() -> None:
    papers, _ = _pool("2025-02-17")
    scores = LocalScorer(load_prior(None, None, None, EXAMPLE)).score(papers)
    best = scores[_ranking(scores)[0]]
    assert best.reasons and best.criterion
    reasons = [r for s in scores.values() for r in s.reasons]
    assert any(r.startswith("matches: ") and "quantization" in r for r in reasons)
    assert any(r.startswith("similar to your paper '") for r in reasons)


def test_followed_author_is_boosted_and_explained() -> None:
    papers, _ = _pool("2025-02-14")
    plain = LocalScorer(load_prior(None, None, None, EXAMPLE))
    prior = plain.prior.model_copy(update={"authors": ["C. Galvez"]})  # mojibake in the feed
    scores = LocalScorer(prior).score(papers)
    assert _ranking(scores)[0] == "2502.08648"
    assert "followed author: C. Galvez" in scores["2502.08648"].reasons
    assert _ranking(plain.score(papers))[0] != "2502.08648"


def test_irrelevant_keywords_are_penalised_and_said() -> None:
    wanted = "**Keywords:**\n- Relevant: pruning, sparsity\n"
    prior = Prior(criteria=wanted + "- Irrelevant: Federated Learning\n")
    papers, _ = _pool("2025-02-17")
    papers = [
        *papers,
        Paper(
            id="x",
            title="Pruning in federated learning",
            abstract="Sparsity for federated learning.",
        ),
    ]
    with_penalty = LocalScorer(prior).score(papers)
    without = LocalScorer(Prior(criteria=wanted)).score(papers)
    assert with_penalty["x"].score < without["x"].score - 0.5
    assert "outside the criteria: federated learning" in with_penalty["x"].reasons
    assert "matches: pruning, sparsity" in with_penalty["x"].reasons


def test_empty_inputs() -> None:
    assert LocalScorer(Prior()).score([]) == {}
    only = LocalScorer(Prior()).score([Paper(id="1", title="A paper")])
    assert list(only) == ["1"]


def test_deterministic_and_fast_on_the_biggest_day() -> None:
    papers = parsed(BIG_DAY).papers
    assert len(papers) == 1506
    prior = load_prior(None, None, None, EXAMPLE)
    start = time.perf_counter()
    first = LocalScorer(prior).score(papers)
    elapsed = time.perf_counter() - start
    # A fresh prior (new criteria) must not reuse the cached corpus: same answer anyway.
    again = LocalScorer(prior.model_copy(update={"source": "again"})).score(papers)
    assert _ranking(first) == _ranking(again)
    assert elapsed < 3.0  # about 0.4 s on an idle 2-core machine; slack for a busy CI


def test_papers_of_other_days_are_the_same_rows_however_many_are_made_at_once() -> None:
    papers = parsed(BIG_DAY).papers
    day, others = papers[:200], papers[200:]
    assert len(others) > ROWS_BATCH  # made in more than one part
    prior = load_prior(None, None, None, EXAMPLE)
    together = LocalScorer(prior).fit(day).corpus.rows(others)
    corpus = LocalScorer(prior.model_copy(update={"source": "apart"})).fit(day).corpus
    for paper in others[:50]:  # one by one, then the rest in one call that finds them made
        corpus.rows([paper])
    apart = corpus.rows(others)
    assert np.array_equal(together.indptr, apart.indptr)
    assert np.array_equal(together.indices, apart.indices)
    assert np.allclose(together.data, apart.data) and together.indices.size > 10 * len(others)
