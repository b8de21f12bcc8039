"""The README's schema section is generated from the code and must match it."""

from __future__ import annotations

from pathlib import Path

from pitch.docs import BEGIN, END, schema_markdown

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_schema_matches_the_code() -> None:
    text = README.read_text()
    block = text[text.index(BEGIN):text.index(END) + len(END)]
    assert block == schema_markdown(), "run: python -m pitch.docs README.md"


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text().split("```")[1]
    assert "./run-app.sh" in head and "./run-tests.sh" in head
    ci = (README.parent / ".ci" / "run").read_text()
    assert "./run-tests.sh" in ci
