"""Delivery without Slack or email: the digest in the terminal and as an HTML file."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TextIO

from paperboy.models import Delivery, Digest, Reader
from paperboy.render import digest_html, digest_table


@dataclass
class Terminal:
    """Prints the digest as a table."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    name: str = "terminal"

    def readers(self, day: date) -> list[Reader]:
        return []

    def deliver(self, delivery: Delivery) -> str:
        width = min(shutil.get_terminal_size((100, 24)).columns, 120)
        print(digest_table(delivery.digest, width), file=self.out)
        return "printed to the terminal"


@dataclass
class HtmlFile:
    """Writes the digest as a standalone HTML page in a folder."""

    folder: Path
    name: str = "html"
    written: Path | None = None

    def path_for(self, digest: Digest) -> Path:
        return self.folder / f"paperboy-{digest.day.isoformat()}.html"

    def readers(self, day: date) -> list[Reader]:
        return []

    def deliver(self, delivery: Delivery) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path_for(delivery.digest)
        path.write_text(digest_html(delivery.digest), encoding="utf-8")
        self.written = path
        return f"written to {path}"
