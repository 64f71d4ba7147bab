"""Loading the group's prior: criteria text, seed papers (JSON, BibTeX or arXiv ids), authors.

Every format error is a ValueError naming the file and the line, so an admin can fix it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from paperboy.feed import parse_arxiv_id
from paperboy.models import Prior, SeedPaper
from paperboy.tex import clean

CRITERIA_NAME = "criteria.md"
SEEDS_NAME = "seed_papers.json"
AUTHORS_NAME = "authors.txt"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text ({err.reason})") from None


def load_criteria(path: Path) -> str:
    """The criteria text; an empty file is an error, since it would silently score nothing."""
    text = _read(path)
    if not text.strip():
        raise ValueError(f"{path}: the criteria file is empty")
    return text


def load_seeds(path: Path) -> list[SeedPaper]:
    """Seed papers from JSON (as in the fixtures), BibTeX, or one arXiv id per line."""
    text = _read(path)
    head = text.lstrip()[:1]
    if head in "{[" and head:
        return _json_seeds(path, text)
    if re.search(r"^\s*@\w+\s*[{(]", text, re.M):
        return _bibtex_seeds(path, text)
    return _id_seeds(path, text)


def _json_seeds(path: Path, text: str) -> list[SeedPaper]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None
    items = data.get("papers") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValueError(f'{path}:1: expected a list of papers or {{"papers": [...]}}')
    seeds = []
    for n, item in enumerate(items, 1):
        if isinstance(item, str):
            seeds.append(_id_seed(path, f"paper {n}", item))
            continue
        if not isinstance(item, dict):
            raise ValueError(f"{path}: paper {n}: expected an object with title and abstract")
        raw_id = item.get("id") or item.get("arxiv_id") or item.get("eprint")
        ident = parse_arxiv_id(str(raw_id)) if raw_id else None
        seed = SeedPaper(
            title=clean(str(item.get("title") or "")),
            abstract=clean(str(item.get("abstract") or "")),
            id=ident[0] if ident else None,
        )
        if not (seed.title or seed.abstract or seed.id):
            raise ValueError(f"{path}: paper {n}: has no title, abstract or arXiv id")
        seeds.append(seed)
    return seeds


def _id_seed(path: Path, where: str, raw: str) -> SeedPaper:
    ident = parse_arxiv_id(raw)
    if ident is None:
        raise ValueError(f"{path}:{where}: {raw.strip()!r} is not an arXiv id")
    return SeedPaper(id=ident[0])


def _id_seeds(path: Path, text: str) -> list[SeedPaper]:
    seeds = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if line:
            seeds.append(_id_seed(path, str(n), line))
    return seeds


def _bibtex_seeds(path: Path, text: str) -> list[SeedPaper]:
    """Each @entry's title, abstract and eprint (or an arXiv id in its url or doi)."""
    seeds = []
    for start, body in _bibtex_entries(path, text):
        fields = _bibtex_fields(path, text, start, body)
        ident = None
        for key in ("eprint", "arxiv", "url", "doi", "journal"):
            if key in fields and (found := parse_arxiv_id(fields[key])):
                ident = found[0]
                break
        seed = SeedPaper(
            title=clean(fields.get("title", "")),
            abstract=clean(fields.get("abstract", "")),
            id=ident,
        )
        if seed.title or seed.abstract or seed.id:
            seeds.append(seed)
    return seeds


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _bibtex_entries(path: Path, text: str) -> list[tuple[int, str]]:
    """(offset, body) of every @type{...} entry, braces balanced; @comment and @string skipped."""
    out = []
    for match in re.finditer(r"@(\w+)\s*([{(])", text):
        kind, opener = match.group(1).lower(), match.group(2)
        closer = "}" if opener == "{" else ")"
        depth, i = 1, match.end()
        while i < len(text) and depth:
            if text[i] == "{" or (opener == "(" and text[i] == "("):
                depth += 1
            elif text[i] == "}" or (opener == "(" and text[i] == closer):
                depth -= 1
            i += 1
        if depth:
            raise ValueError(f"{path}:{_line(text, match.start())}: unbalanced braces in @{kind}")
        if kind not in ("comment", "string", "preamble"):
            out.append((match.end(), text[match.end() : i - 1]))
    return out


def _bibtex_fields(path: Path, text: str, start: int, body: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key_end = body.find(",")
    i = key_end + 1 if key_end >= 0 else len(body)
    while i < len(body):
        m = re.compile(r"\s*(?:,\s*)?([A-Za-z][\w-]*)\s*=\s*").match(body, i)
        if not m:
            if body[i:].strip(" \t\r\n,"):
                raise ValueError(
                    f"{path}:{_line(text, start + i)}: cannot read a BibTeX field here"
                )
            break
        name, j = m.group(1).lower(), m.end()
        if j < len(body) and body[j] in '{"':
            closer, depth, k = ("}" if body[j] == "{" else '"'), 1, j + 1
            while k < len(body) and depth:
                if body[k] == "{" and closer == "}":
                    depth += 1
                elif body[k] == closer:
                    depth -= 1
                k += 1
            if depth:
                raise ValueError(f"{path}:{_line(text, start + j)}: unterminated value of {name}")
            fields[name] = body[j + 1 : k - 1]
        else:
            k = j
            while k < len(body) and body[k] not in ",\n":
                k += 1
            fields[name] = body[j:k].strip()
        i = k
    return fields


def load_authors(path: Path) -> list[str]:
    """Followed authors from `Name, Semantic Scholar id` lines (id optional, `#` comments)."""
    names = []
    for n, raw in enumerate(_read(path).splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, ident = (part.strip() for part in line.partition(","))
        if ident and not ident.isdigit():
            raise ValueError(
                f"{path}:{n}: expected `Name, Semantic Scholar id` with a numeric id, got {ident!r}"
            )
        name = clean(name)
        if not re.search(r"[^\W\d_]", name):
            raise ValueError(f"{path}:{n}: {raw.strip()!r} has no author name")
        names.append(name)
    return names


def load_prior(
    criteria_file: Path | None,
    seed_papers_file: Path | None,
    authors_file: Path | None,
    fallback_dir: Path,
) -> Prior:
    """The group's prior from the configured files, or the example profile when none is set."""
    if criteria_file is None and seed_papers_file is None and authors_file is None:
        prior = load_prior(
            fallback_dir / CRITERIA_NAME,
            fallback_dir / SEEDS_NAME,
            fallback_dir / AUTHORS_NAME,
            fallback_dir,
        )
        return prior.model_copy(update={"source": f"example profile in {fallback_dir}"})
    parts = []
    if criteria_file is not None:
        parts.append(f"criteria {criteria_file}")
    if seed_papers_file is not None:
        parts.append(f"seed papers {seed_papers_file}")
    if authors_file is not None:
        parts.append(f"authors {authors_file}")
    return Prior(
        criteria=load_criteria(criteria_file) if criteria_file else "",
        seeds=load_seeds(seed_papers_file) if seed_papers_file else [],
        authors=load_authors(authors_file) if authors_file else [],
        source=", ".join(parts),
    )
