"""The Spark job on ``local[2]``: its archive equals ``pitch export``'s, reruns, broken files.

One Spark session for the module (it takes seconds to start); three small
runs: the inputs, the same inputs again, one input with another date. Needs
Java 17+ (``./run-tests.sh`` installs Debian's default-jre-headless).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pytest

from pitch import spark as spark_cli
from pitch.cli import main
from pitch.file_tables import file_key
from tests.archive_support import (BROKEN, ROOT, RUN_COLUMNS, archive_tables, assert_same,
                                   data_files, gz_copy, ingest_all, make_inputs)


@pytest.fixture(scope="module")
def spark():
    session = spark_cli.session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inputs") / "in"
    make_inputs(folder)
    (folder / "broken_20240104.pitch").write_bytes(BROKEN)
    return folder


@pytest.fixture(scope="module")
def exported(tmp_path_factory, inputs) -> Path:
    """The reference: the good inputs ingested into a database, then ``pitch export``."""
    base = tmp_path_factory.mktemp("export")
    good = sorted(p for p in inputs.iterdir() if not p.name.startswith("broken"))
    ingest_all(base / "db.duckdb", good)
    assert main(["--db", str(base / "db.duckdb"), "export", str(base / "archive")]) == 0
    return base / "archive"


@pytest.fixture(scope="module")
def first_run(spark, inputs, tmp_path_factory) -> tuple[Path, int, str]:
    """The job over the inputs folder plus a .gz twin of one file: (archive, exit code, stdout)."""
    out = tmp_path_factory.mktemp("spark") / "archive"
    twin = gz_copy(inputs / "rejects.pitch", tmp_path_factory.mktemp("twin") / "twin.pitch.gz")
    code, text = _run(str(inputs), str(twin), "--out", str(out))
    return out, code, text


def _run(*argv: str) -> tuple[int, str]:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        code = spark_cli.main(list(argv))
    return code, buffer.getvalue()


def _landed(tables) -> dict:
    return {r["name"]: r for r in tables["files"].to_pylist()}


def test_spark_output_equals_the_export(first_run, exported) -> None:
    out = first_run[0]
    ours = archive_tables(out)
    broken = [r for r in ours["files"].to_pylist() if r["status"].startswith("failed")]
    assert [r["name"] for r in broken] == ["broken_20240104.pitch"]
    # The export knows no failed file: compare the rest, whatever says when and where it ran.
    ours["files"] = ours["files"].filter(pc.field("file_id") != broken[0]["file_id"])
    assert_same(ours, archive_tables(exported), {"files": RUN_COLUMNS})
    assert {r["source"] for r in ours["files"].to_pylist()} == {"spark"}
    # The same Parquet files as the export's (one writer for both); byte for byte but for
    # the files rows, which say when and where they were decoded.
    found = [f for f in data_files(out) if f"file={broken[0]['file_id']}" not in f]
    assert found == data_files(exported)
    for rel in found:
        if not rel.startswith("files/"):
            assert (out / rel).read_bytes() == (exported / rel).read_bytes(), rel


def test_a_broken_file_is_recorded_and_the_rest_lands(first_run) -> None:
    out, code, text = first_run
    assert code == 1  # one file failed
    files = _landed(archive_tables(out))
    row = files["broken_20240104.pitch"]
    assert row["status"].startswith("failed: not a PITCH file: no line is a PITCH message")
    assert row["messages"] is None and row["size"] == len(BROKEN)
    assert row["file_id"] == file_key(row["sha256"])
    assert (out / "files" / "date=2024-01-04" / f"file={row['file_id']}").is_dir()
    assert not list(out.glob(f"messages/*/file={row['file_id']}"))
    assert "broken_20240104.pitch: failed: not a PITCH file" in text
    assert "twin.pitch.gz: duplicate of rejects.pitch, nothing added" in text
    assert all(r["status"] in ("ingested", "ingested with rejects") for n, r in files.items()
               if n != "broken_20240104.pitch")
    assert "4 files landed, 1 duplicates, 1 failed" in text


def test_a_rerun_changes_nothing_and_a_new_date_moves_the_file(first_run, inputs,
                                                                tmp_path) -> None:
    out = tmp_path / "archive"
    shutil.copytree(first_run[0], out)
    before, folders = archive_tables(out), data_files(out)
    code, _ = _run(str(inputs), "--out", str(out))
    assert code == 1
    assert [f.rsplit("/", 1)[0] for f in data_files(out)] == [f.rsplit("/", 1)[0]
                                                              for f in folders]
    assert_same(before, archive_tables(out), {"files": RUN_COLUMNS})
    code, _ = _run(str(inputs / "sample_20240102.pitch"), "--out", str(out), "--date",
                   "2024-06-07")
    assert code == 0
    moved = archive_tables(out)
    assert_same(before, moved, {"files": RUN_COLUMNS})  # the same rows, not twice
    key = _landed(moved)["sample_20240102.pitch"]["file_id"]
    for table in ("messages", "orders", "executions", "files"):
        assert [p.parent.name for p in out.glob(f"{table}/*/file={key}")] == ["date=2024-06-07"]


def test_the_command_runs_as_a_module_and_checks_its_date_before_spark() -> None:
    run = lambda *a: subprocess.run([sys.executable, "-m", "pitch.spark", *a], cwd=ROOT,  # noqa: E731
                                    capture_output=True, text=True, timeout=120, check=False)
    shown = run("--help")
    assert shown.returncode == 0 and "--out DIR" in shown.stdout and "--master URL" in shown.stdout
    bad = run("x", "--out", "y", "--date", "2024-13-01")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --date '2024-13-01'")


def test_the_shipped_zip_decodes_away_from_the_repository(tmp_path) -> None:
    """Executors import pitch from the job's zip, with no .streamlit folder beside it."""
    package = spark_cli.package_zip(tmp_path)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import pitch.file_tables as f; "
            "got = f.decode_file(open(sys.argv[2], 'rb').read(), 'x.pitch'); "
            "assert f.__file__.startswith(sys.argv[1]), f.__file__; "
            "print(got.error, got.tables['messages'].num_rows)")
    done = subprocess.run([sys.executable, "-c", code, str(package), str(ROOT / "data" /
                           "sample.pitch")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False, env={k: v for k, v in os.environ.items()
                                            if k != "PYTHONPATH"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "50000"]


def test_a_missing_input_is_one_error_line_and_writes_nothing(spark, tmp_path) -> None:
    code, text = _run(str(tmp_path / "nowhere"), "--out", str(tmp_path / "archive"))
    assert code == 1
    errors = [line for line in text.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "nowhere" in errors[0], text
    assert not (tmp_path / "archive").exists()
