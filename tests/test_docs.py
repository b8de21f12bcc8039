"""The README's schema section and settings table are generated from the code and must match it."""

from __future__ import annotations

from pathlib import Path

from pitch import settings
from pitch.docs import BEGIN, END, SETTINGS_BEGIN, SETTINGS_END, schema_markdown, settings_markdown

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_schema_matches_the_code() -> None:
    text = README.read_text()
    block = text[text.index(BEGIN):text.index(END) + len(END)]
    assert block == schema_markdown(), "run: python -m pitch.docs README.md"


def test_readme_settings_table_matches_the_settings_object(monkeypatch) -> None:
    monkeypatch.setenv("PITCH_SQL_ROW_LIMIT", "7")  # this process's environment is not the docs
    text = README.read_text()
    block = text[text.index(SETTINGS_BEGIN):text.index(SETTINGS_END) + len(SETTINGS_END)]
    assert block == settings_markdown(), "run: python -m pitch.docs README.md"
    rows = [line for line in block.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + len(settings.FIELDS)
    for name in settings.VARIABLES:
        assert f"`${name}" in block, name
    assert "| 10,000 |" in block


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text().split("```")[1]
    assert "./run-app.sh" in head and "./run-tests.sh" in head
    ci = (README.parent / ".ci" / "run").read_text()
    assert "./run-tests.sh" in ci
