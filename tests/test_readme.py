"""The README's command table and project layout against the code they describe."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from pitch.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    """The README's text from ``## title`` to the next ``## `` heading."""
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else len(README)]


def test_every_command_is_in_the_command_table() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    table = section("Command line")
    listed = set(re.findall(r"^\| `python -m pitch ([a-z-]+)", table, re.M))
    assert listed == set(sub.choices), "README command table vs python -m pitch --help"


def test_every_module_is_in_the_project_layout() -> None:
    layout = section("Project layout")
    listed = set(re.findall(r"^  ([a-z_]+)/? ", layout, re.M))
    modules = {p.stem for p in (ROOT / "pitch").glob("*.py") if not p.stem.startswith("__")}
    packages = {p.parent.name for p in (ROOT / "pitch").glob("*/__init__.py")}
    assert listed == modules | packages, "README project layout vs ls pitch/"
