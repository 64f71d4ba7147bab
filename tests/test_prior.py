"""Loading the group's prior from its files, and the errors bad files give."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperboy.prior import load_authors, load_prior, load_seeds
from tests.conftest import FIXTURES

EXAMPLE = Path(__file__).parents[1] / "examples/profile"


def test_no_files_configured_uses_the_example_profile() -> None:
    prior = load_prior(None, None, None, EXAMPLE)
    assert "example profile" in prior.source
    assert "Model Compression" in prior.criteria
    assert len(prior.seeds) == 13
    assert prior.seeds[0].title == "When Does Sparsity Mitigate the Curse of Depth in LLMs"
    assert prior.seeds[1].title == ""  # null titles in the JSON become empty, not "None"
    assert prior.authors == [
        "Geoffrey E. Hinton",
        "Yoshua Bengio",
        "Samy Bengio",
        "Yann LeCun",
        "Kaiming He",
    ]


def test_configured_files_are_used_and_named_in_the_source(tmp_path: Path) -> None:
    criteria = tmp_path / "c.md"
    criteria.write_text("I read about pruning and sparsity.\n")
    prior = load_prior(criteria, None, None, EXAMPLE)
    assert prior.criteria.startswith("I read about pruning")
    assert prior.seeds == [] and prior.authors == []
    assert str(criteria) in prior.source


def test_bibtex_seeds(tmp_path: Path) -> None:
    bib = tmp_path / "seeds.bib"
    bib.write_text(
        "@comment{ignored}\n"
        "@article{a,\n  title = {When Does {Sparsity} Mitigate the Curse of Depth},\n"
        '  abstract = "Sparsity regulates variance",\n  eprint = {2502.11089},\n}\n'
        "@inproceedings{b, title={Casta\\~neda's Pruning}, year=2024}\n"
    )
    seeds = load_seeds(bib)
    assert [s.id for s in seeds] == ["2502.11089", None]
    assert seeds[0].title == "When Does Sparsity Mitigate the Curse of Depth"
    assert seeds[0].abstract == "Sparsity regulates variance"
    assert seeds[1].title == "Castañeda's Pruning"


def test_plain_id_seeds(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text(
        "# my papers\n2502.11089v2\narXiv:2401.00001\n\nhttps://arxiv.org/abs/2312.12345\n"
    )
    seeds = load_seeds(ids)
    assert [s.id for s in seeds] == ["2502.11089", "2401.00001", "2312.12345"]
    assert all(s.title == "" and s.abstract == "" for s in seeds)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("ids.txt", "2502.11089\nnot an id\n", ":2: 'not an id' is not an arXiv id"),
        ("s.json", '{"papers": [\n {"title": "x"},\n', ":3: invalid JSON"),
        ("s.json", '{"papers": [{"foo": 1}]}', "paper 1: has no title, abstract or arXiv id"),
        ("s.bib", "@article{a,\n title = {Open\n", ":1: unbalanced braces"),
    ],
)
def test_bad_seed_files_name_file_and_line(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=str(path)) as err:
        load_seeds(path)
    assert message in str(err.value)


def test_authors_file_with_comments_and_optional_ids(tmp_path: Path) -> None:
    path = tmp_path / "authors.txt"
    path.write_text(
        "# people\nYann LeCun, 1688882\nCarmen GÃ¡lvez\n\nSamy Bengio, 1751569 # colleague\n"
    )
    assert load_authors(path) == ["Yann LeCun", "Carmen Gálvez", "Samy Bengio"]
    assert load_authors(FIXTURES / "profile/authors.txt")[0] == "Geoffrey E. Hinton"


def test_bad_authors_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "authors.txt"
    path.write_text("Yann LeCun, 1688882\nKaiming He, not-an-id\n")
    with pytest.raises(ValueError, match=r"authors\.txt:2: .*numeric id"):
        load_authors(path)


def test_missing_and_empty_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such file"):
        load_prior(tmp_path / "nope.md", None, None, EXAMPLE)
    empty = tmp_path / "empty.md"
    empty.write_text("  \n")
    with pytest.raises(ValueError, match="empty"):
        load_prior(empty, None, None, EXAMPLE)
