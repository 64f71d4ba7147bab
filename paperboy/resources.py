"""Files shipped with the package: templates and the example profile."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def packaged(package: str, source: str) -> Path:
    """The folder installed as `paperboy.<package>`, or `source` beside it in a checkout."""
    try:
        return Path(str(files(f"paperboy.{package}")))
    except ModuleNotFoundError:  # an editable install of the source tree
        return Path(__file__).resolve().parents[1] / source


def template_dir() -> Path:
    return packaged("templates", "templates")


def example_profile_dir() -> Path:
    return packaged("example_profile", "examples/profile")
