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
