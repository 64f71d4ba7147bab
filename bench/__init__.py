"""Benchmarks that print figures; run from the repository root as `python -m bench.NAME`.

Their data is real arXiv days in `bench/data/` (its README says what each file is): gzipped
feeds, read with `paperboy.arxiv.read_saved`.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository
DATA = ROOT / "bench" / "data"
DAYS = DATA / "days"
LABELED = DATA / "labeled"
PROFILE = DATA / "profile"
# The biggest day: 1,506 entries, 834 of them new or cross-listed.
BIG_DAY = DAYS / "cs.CL+cs.CV+cs.MM+cs.LG+cs.SI-2025-06-03.xml.gz"


def average_precision(ranking: list[str], labels: set[str]) -> float:
    """Mean of the precision at each labeled paper's rank."""
    hits, total = 0, 0.0
    for rank, pid in enumerate(ranking, 1):
        if pid in labels:
            hits += 1
            total += hits / rank
    return total / len(labels) if labels else 0.0
