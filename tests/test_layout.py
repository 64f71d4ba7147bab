"""The house's rules, read from the code: imports point one way, no private names cross."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

CHANNELS = ["console", "slack", "mailer", "emails", "blocks", "smtp", "render"]
"""The modules that deliver: they receive the day as data and never call back into it."""
THE_DAY = {"paperboy.pipeline", "paperboy.readers", "paperboy.days", "paperboy.services"}


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every `import` and `from … import` in a file, wherever it is."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
    return found


def test_channels_never_import_the_day() -> None:
    for name in CHANNELS:
        modules = {module for module, _ in imports(ROOT / "paperboy" / f"{name}.py")}
        assert not modules & THE_DAY, name


def test_the_domain_never_imports_the_shells() -> None:
    for path in (ROOT / "paperboy").glob("*.py"):
        for module, _ in imports(path):
            assert not module.startswith(("bot", "workers", "slack_bolt", "rq")), path.name


def test_no_private_name_crosses_a_module() -> None:
    for folder in ("paperboy", "bot", "workers"):
        for path in (ROOT / folder).glob("*.py"):
            for module, names in imports(path):
                if module.startswith(("paperboy", "bot", "workers")):
                    private = [n for n in names if n.startswith("_") and not n.endswith("__")]
                    assert not private, f"{path.name} imports {private} from {module}"
