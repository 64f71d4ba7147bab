"""Delivery without Slack or email: the digest in the terminal and as an HTML file."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from paperboy.models import Digest
from paperboy.render import digest_html, digest_table

if TYPE_CHECKING:
    from paperboy.pipeline import Context


@dataclass
class Terminal:
    """Prints the digest as a table."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    name: str = "terminal"

    def deliver(self, digest: Digest, ctx: Context) -> str:
        width = min(shutil.get_terminal_size((100, 24)).columns, 120)
        print(digest_table(digest, width), file=self.out)
        return "printed to the terminal"


@dataclass
class HtmlFile:
    """Writes the digest as a standalone HTML page in a folder."""

    folder: Path
    name: str = "html"
    written: Path | None = None

    def path_for(self, digest: Digest) -> Path:
        return self.folder / f"paperboy-{digest.day.isoformat()}.html"

    def deliver(self, digest: Digest, ctx: Context) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path_for(digest)
        path.write_text(digest_html(digest), encoding="utf-8")
        self.written = path
        return f"written to {path}"
