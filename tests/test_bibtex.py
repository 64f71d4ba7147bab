"""BibTeX that Zotero imports: parsed back with a BibTeX parser (bibtexparser), every field
there, names in "Last, First" form, stable keys; and `paperboy saved --bibtex`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import bibtexparser
import pytest
from bibtexparser.middlewares import SeparateCoAuthors, SplitNameParts

from paperboy import bibtex
from paperboy.cli import main
from paperboy.models import Paper
from paperboy.store import Store
from tests.conftest import FIXTURES, parsed

STAT = FIXTURES / "rss" / "stat-2024-03-26.xml"
FIELDS = {"title", "author", "year", "eprint", "archivePrefix", "primaryClass", "url"}


def parse(text: str) -> bibtexparser.Library:
    library = bibtexparser.parse_string(
        text, append_middleware=[SeparateCoAuthors(), SplitNameParts()]
    )
    assert not library.failed_blocks, [b.error for b in library.failed_blocks]
    return library


def test_every_paper_of_a_real_day_parses_with_every_field() -> None:
    papers = [p.model_copy(update={"day": date(2024, 3, 26)}) for p in parsed(STAT).papers]
    library = parse(bibtex.entries(papers))
    assert len(library.entries) == len(papers)
    assert len({e.key for e in library.entries}) == len(papers)
    for paper, found in zip(papers, library.entries, strict=True):
        fields = {f.key: f.value for f in found.fields}
        assert found.entry_type == "misc" and set(fields) == FIELDS
        assert fields["eprint"] == paper.id and fields["archivePrefix"] == "arXiv"
        assert fields["primaryClass"] == paper.categories[0] and fields["year"] == "2024"
        assert fields["url"] == f"https://arxiv.org/abs/{paper.id}"
        assert len(fields["author"]) == len(paper.authors)
        for name, raw in zip(fields["author"], paper.authors, strict=True):
            assert name.last and " ".join(name.last) in raw  # "Last, First": the surname last
        assert found.key == bibtex.key(paper)  # made from the paper alone: the same every time


def test_names_titles_and_keys() -> None:
    paper = Paper(
        id="2506.00030",
        title="Scaling BERT to $O(n^{2})$ tokens: 50% faster & cheaper_",
        authors=[
            "Ludwig van Beethoven",
            "Martin Luther King Jr.",
            "ATLAS Collaboration",
            "José García-Pérez",
        ],
        categories=["cs.LG", "stat.ML"],
        day=date(2025, 6, 3),
    )
    (found,) = parse(bibtex.entries([paper])).entries
    names = found["author"]
    assert (names[0].von, names[0].last, names[0].first) == (["van"], ["Beethoven"], ["Ludwig"])
    assert (names[1].last, names[1].jr, names[1].first) == (["King"], ["Jr."], ["Martin", "Luther"])
    assert names[2].last == ["{ATLAS Collaboration}"] and names[3].last == ["García-Pérez"]
    assert found["title"] == (r"Scaling {BERT} to $O(n^{2})$ tokens: 50\% faster \& cheaper\_")
    assert found.key == "beethoven2025scaling_2506.00030"
    assert bibtex.title("GPT-4 and LLMs for Post-Imputation") == (
        "{GPT-4} and {LLMs} for Post-Imputation"
    )
    old = Paper(id="math/0601001", title="Sur les courbes", authors=["A. Weil"])
    assert bibtex.key(old) == "weil2006courbes_math-0601001" and bibtex.year(old) == "2006"
    stray = Paper(id="2506.00031", title="Costs in $ and {braces", authors=["Ada Lovelace"])
    (odd,) = parse(bibtex.entries([stray])).entries
    assert odd["title"] == r"Costs in \$ and \{braces"
    assert "primaryClass" not in {f.key for f in odd.fields}  # the feed named no category


def test_paperboy_saved_prints_the_list_and_its_bibtex(
    capsys: pytest.CaptureFixture[str], unconfigured: Path, store: Store
) -> None:
    papers = parsed(STAT).papers[:3]
    store.save_papers(papers)
    for paper in papers:
        store.save("U1", paper.id)
    capsys.readouterr()
    assert main(["saved", "--user", "U1"]) == 0
    out = capsys.readouterr().out
    assert "3 papers, newest first" in out
    assert out.index(papers[2].id) < out.index(papers[0].id)
    assert main(["saved", "--user", "U1", "--bibtex"]) == 0
    library = parse(capsys.readouterr().out)
    assert [e["eprint"] for e in library.entries] == [p.id for p in reversed(papers)]
    assert main(["saved", "--user", "U2"]) == 0
    assert "U2 has saved nothing" in capsys.readouterr().out
