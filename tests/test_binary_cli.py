"""python -m pitch files on a text file and a binary capture (tests/mixed_support.py)."""

from __future__ import annotations

from pathlib import Path

import mixed_support
import pytest

from pitch.cli import main


@pytest.fixture
def run(tmp_path, capsys):
    """``run(*argv) -> (exit code, stdout, stderr)`` against a new tmp database."""
    def go(*argv: str) -> tuple[int, str, str]:
        code = main(["--db", str(tmp_path / "cli.duckdb"), *argv])
        out, err = capsys.readouterr()
        return code, out, err
    return go


def _write(tmp_path: Path, name: str, data: bytes) -> str:
    (tmp_path / name).write_bytes(data)
    return str(tmp_path / name)


def test_files_shows_format_gaps_duplicates_and_skipped_frames_last(run, tmp_path) -> None:
    run("ingest", _write(tmp_path, "t.pitch", mixed_support.TEXT),
        _write(tmp_path, "b.pcap", mixed_support.capture()))
    lines = run("files", "--format", "csv")[1].splitlines()
    # The older columns first, in their order (scripts read them); binary PITCH's after.
    assert lines[0] == ("file_id,name,size,messages,rejects,status,source,finished_at,seconds,"
                        "format,gaps,missing_messages,duplicates,skipped_packets")
    assert [line.split(",")[:2] + line.split(",")[-5:] for line in lines[1:]] == [
        ["1", "t.pitch", "text", "0", "0", "0", "0"], ["2", "b.pcap", "pcap", "1", "1", "3", "0"]]
    table = run("files")[1].splitlines()
    assert table[0].split()[-5:] == ["format", "gaps", "missing_messages", "duplicates",
                                     "skipped_packets"]
