"""The command line, run in-process through ``main([...])`` plus a few real subprocesses."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pitch.cli import main
from pitch.cli_output import write_frame
from pitch.generate import write_session
from pitch.layouts import LAYOUTS
from pitch.progress import BIG_FILE, ByteProgress
from pitch.settings import SAMPLE_FILE

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "pitch_data.txt"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def _runner(db: Path, capsys):
    def go(*argv: str) -> tuple[int, str, str]:
        code = main(["--db", str(db), *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return go


@pytest.fixture
def run(tmp_path, capsys):
    """``run(*argv) -> (exit code, stdout, stderr)`` against a new tmp database."""
    return _runner(tmp_path / "cli.duckdb", capsys)


@pytest.fixture(scope="module")
def real_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("real") / "real.duckdb"
    assert main(["--db", str(db), "ingest", str(REAL)]) == 0
    return db


@pytest.fixture
def loaded(real_db, capsys):
    """Like ``run``, on a database holding the real file (shared: read-only use)."""
    return _runner(real_db, capsys)


# -- ingest ---------------------------------------------------------------------------------

def _write(tmp_path: Path, name: str, data: bytes) -> str:
    (tmp_path / name).write_bytes(data)
    return str(tmp_path / name)


INGEST_CASES = [
    # (id, files: name -> bytes or REAL, expected code, stdout parts, stderr parts)
    ("good", {"real.txt": REAL}, 0, ["real.txt: 20,000 messages, 0 rejects"], []),
    ("empty", {"empty.pitch": b""}, 1, [], ["error: empty.pitch: file is empty"]),
    ("png", {"pic.png": PNG}, 1, [], ["error: pic.png: not a PITCH file"]),
    ("missing", {}, 1, [], ["error: ", "nope.pitch: no such file or folder"]),
    ("good and bad", {"a.txt": REAL, "b.png": PNG}, 1, ["a.txt: 20,000 messages"], ["error: b.png"]),
    ("rejects do not fail", {"r.txt": b"S28800011AXXXX\n" + REAL.read_bytes()}, 0,
     ["r.txt: 20,000 messages, 1 rejects", "(first reject line 1: "], []),
]


@pytest.mark.parametrize("case", INGEST_CASES, ids=[c[0] for c in INGEST_CASES])
def test_ingest(run, tmp_path, case) -> None:
    _, files, code, outs, errs = case
    paths = [_write(tmp_path, name, REAL.read_bytes() if data is REAL else data)
             for name, data in files.items()] or [str(tmp_path / "nope.pitch")]
    got, out, err = run("ingest", *paths)
    assert got == code, err
    for part in outs:
        assert part in out
    for part in errs:
        assert part in err
    assert "Traceback" not in err and all(l.startswith("error: ") for l in err.splitlines())


def test_ingest_twice_says_already_ingested(run, tmp_path) -> None:
    path = _write(tmp_path, "x.txt", REAL.read_bytes())
    assert run("ingest", path)[0] == 0
    code, out, err = run("ingest", path)
    assert (code, err) == (0, "")
    assert out == "x.txt: already ingested as file 1, nothing added\n"


def test_ingest_folder_is_not_recursive_and_skips_hidden(run, tmp_path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    buf = io.BytesIO()
    write_session(buf, 300, 1)
    (folder / "b.pitch").write_bytes(buf.getvalue())
    (folder / "a.pitch.gz").write_bytes(gzip.compress(REAL.read_bytes()))
    (folder / ".hidden").write_bytes(PNG)
    (folder / "sub" / "deep.pitch").write_bytes(PNG)
    code, out, err = run("ingest", str(folder))
    assert (code, err) == (0, "")
    assert [l.split(":")[0] for l in out.splitlines()] == ["a.pitch.gz", "b.pitch"]


def test_committed_sample_ingests_whole_with_every_type(run) -> None:
    code, out, _ = run("ingest", str(SAMPLE_FILE))
    assert code == 0 and "50,000 messages, 0 rejects" in out
    _, out, _ = run("counts", "--format", "csv")
    names = [row["message_type"] for row in csv.DictReader(io.StringIO(out))]
    assert sorted(names) == sorted({l.name for l in LAYOUTS})  # every text type


# -- read commands ---------------------------------------------------------------------------

def test_counts_on_the_real_file(loaded) -> None:
    code, out, err = loaded("counts", "--format", "csv")
    assert (code, err) == (0, "")
    assert out == ("message_type,count\nAdd Order (Short),10361\nOrder Cancel,9592\n"
                   "Trade (Short),27\nOrder Executed,20\n")
    table = loaded("counts")[1].splitlines()
    assert table[0].split() == ["message_type", "count"]
    assert table[2].split() == ["Add", "Order", "(Short)", "10,361"]


def _top_symbols_from_raw(n: int) -> list[tuple[str, int]]:
    """Executed shares per symbol, straight from the raw lines (offsets include the S)."""
    symbol_of: dict[str, str] = {}
    volume: Counter[str] = Counter()
    for line in REAL.read_text().splitlines():
        code = line[9]
        if code == "A":
            symbol_of[line[10:22]] = line[29:35].rstrip()
        elif code == "E":
            volume[symbol_of[line[10:22]]] += int(line[22:28])
        elif code == "P":
            volume[line[29:35].rstrip()] += int(line[23:29])
    return sorted(volume.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


@pytest.mark.parametrize("n", [3, 10, 500])
def test_top_symbols_csv_matches_the_raw_file(loaded, n: int) -> None:
    code, out, _ = loaded("top-symbols", "-n", str(n), "--format", "csv")
    expected = "symbol,executed_shares\n" + "".join(f"{s},{v}\n" for s, v in _top_symbols_from_raw(n))
    assert code == 0 and out == expected


def _first_adds(k: int) -> list[dict]:
    lines = [l for l in REAL.read_text().splitlines() if l[9] == "A"][:k]
    return [{"order_id": int(l[10:22], 36), "price": f"{int(l[35:45]) / 10_000:.4f}",
             "symbol": l[29:35].rstrip()} for l in lines]


SQL = "SELECT order_id, price, symbol FROM messages WHERE type = 'A' ORDER BY line_no LIMIT 3"


def test_query_csv_keeps_ids_whole_and_prices_at_4_decimals(loaded) -> None:
    code, out, err = loaded("query", SQL, "--format", "csv")
    assert (code, err) == (0, "")
    expected = "order_id,price,symbol\n" + "".join(
        f"{r['order_id']},{r['price']},{r['symbol']}\n" for r in _first_adds(3))
    assert out == expected


def test_query_json_is_a_list_of_objects(loaded) -> None:
    code, out, _ = loaded("query", SQL, "--format", "json")
    rows = json.loads(out, parse_float=Decimal)
    assert code == 0
    assert [{**r, "price": f"{r['price']:.4f}"} for r in rows] == _first_adds(3)
    assert f'"price": {_first_adds(1)[0]["price"]}' in out  # the exact digits, not a float


def test_query_row_limit_says_so(loaded) -> None:
    code, out, err = loaded("query", "SELECT line_no FROM messages ORDER BY line_no",
                            "--row-limit", "2", "--format", "csv")
    assert (code, out) == (0, "line_no\n1\n2\n")
    assert "only the first 2 rows" in err


@pytest.mark.parametrize("sql, reason", [
    ("DELETE FROM messages", "SELECT"),
    ("SELECT 1; SELECT 2", ""),
    ("SELECT * FROM read_csv('/etc/passwd')", "read"),
    ("SELECT * FROM no_such_table", "no_such_table"),
])
def test_query_refused_is_one_line_and_exit_1(loaded, sql: str, reason: str) -> None:
    code, out, err = loaded("query", sql)
    assert (code, out) == (1, "")
    assert err.startswith("error: ") and err.count("\n") == 1 and reason in err
    assert loaded("counts", "--format", "csv")[1].count("\n") == 5  # nothing was deleted


@pytest.mark.parametrize("argv", [[], ["bogus"], ["counts", "--format", "xml"], ["top-symbols", "-n", "0"],
                                  ["generate", "x.pitch"], ["query"], ["ingest"]])
def test_usage_errors_exit_2(run, argv) -> None:
    code, _, err = run(*argv)
    assert code == 2 and "usage:" in err


@pytest.mark.parametrize("cmd", ["ingest", "counts", "top-symbols", "query", "files", "rejects",
                                 "generate", "remove", "watch"])
def test_help_on_every_command(run, cmd: str) -> None:
    code, out, _ = run(cmd, "--help")
    assert code == 0 and out.startswith("usage:") and "--db" in out


def test_files_and_rejects(run, tmp_path) -> None:
    path = _write(tmp_path, "r.txt", b"S28800011AXXXX\n" + REAL.read_bytes())
    run("ingest", path)
    files = json.loads(run("files", "--format", "json")[1])
    assert [(f["name"], f["messages"], f["rejects"]) for f in files] == [("r.txt", 20_000, 1)]
    rejects = json.loads(run("rejects", "--file", "1", "--format", "json")[1])
    assert [(r["line_no"], r["raw"]) for r in rejects] == [(1, "S28800011AXXXX")]
    assert run("rejects", "--file", "2", "--format", "csv")[1] == "file_id,line_no,byte_offset,reason,raw\n"


def test_generate_writes_the_seeded_session(run, tmp_path) -> None:
    expected = io.BytesIO()
    write_session(expected, 800, 9)
    assert run("generate", str(tmp_path / "g.pitch"), "--messages", "800", "--seed", "9")[0] == 0
    assert run("generate", str(tmp_path / "g.pitch.gz"), "--messages", "800", "--seed", "9")[0] == 0
    assert (tmp_path / "g.pitch").read_bytes() == expected.getvalue()
    assert gzip.decompress((tmp_path / "g.pitch.gz").read_bytes()) == expected.getvalue()
    code, _, err = run("generate", str(tmp_path / "no" / "dir.pitch"), "--messages", "5")
    assert code == 1 and err.startswith("error: ") and "cannot write" in err


# -- output formats and progress -------------------------------------------------------------

FRAME = pd.DataFrame({
    "order_id": np.array([2 ** 63 + 5, 7], dtype=np.uint64),
    "price": [Decimal("61.9200"), None],
    "shares": [1_234_567, -3],
    "raw": [b"S\x01x", None],
})


@pytest.mark.parametrize("fmt, expected", [
    ("csv", "order_id,price,shares,raw\n9223372036854775813,61.9200,1234567,S\\x01x\n7,,-3,\n"),
    ("json", '[\n  {"order_id": 9223372036854775813, "price": 61.9200, "shares": 1234567, '
             '"raw": "S\\\\x01x"},\n  {"order_id": 7, "price": null, "shares": -3, "raw": null}\n]\n'),
    ("table", "           order_id    price     shares  raw\n"
              "-------------------  -------  ---------  ------\n"
              "9223372036854775813  61.9200  1,234,567  S\\x01x\n"
              "                  7                  -3\n"),
])
def test_write_frame(fmt: str, expected: str) -> None:
    out = io.StringIO()
    write_frame(FRAME, fmt, out)
    assert out.getvalue() == expected


DERIVING = ", deriving orders and executions"


@pytest.mark.parametrize("tty, size, expected", [
    (True, 1000, "\r   0% 0.0 MB/0.0 MB\r  50% 0.0 MB/0.0 MB\r 100% 0.0 MB/0.0 MB"
                 f"\r 100% 0.0 MB/0.0 MB{DERIVING}\r" + " " * (19 + len(DERIVING)) + "\r"),
    (False, 1000, ""),  # a small file into a log: silent
    (False, BIG_FILE, "   0% 0.0 MB/67 MB\n  50% 34 MB/67 MB\n 100% 67 MB/67 MB\n"
                      f" 100% 67 MB/67 MB{DERIVING}\n"),
])
def test_progress(tty: bool, size: int, expected: str) -> None:
    out = io.StringIO()
    bar = ByteProgress(size, out, tty=tty)
    for done in (0, size // 2, size // 2 + 1, size):
        bar(done, size, "reading")
    bar(size, size, "deriving")
    bar(size, size, "deriving")  # shown once
    bar.finish()
    assert out.getvalue() == expected


# -- real processes: exit codes, no traceback, a busy database --------------------------------

def _pitch(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pitch", *argv], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_subprocess_exit_codes_without_traceback(tmp_path) -> None:
    (tmp_path / "empty.pitch").write_bytes(b"")
    bad = _pitch("--db", "t.duckdb", "ingest", "empty.pitch", str(REAL), cwd=tmp_path)
    assert bad.returncode == 1, bad.stderr
    assert bad.stderr == "error: empty.pitch: file is empty\n"
    assert bad.stdout == "pitch_data.txt: " + bad.stdout.split(": ", 1)[1]
    usage = _pitch("counts", "--format", "xml", cwd=tmp_path)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_busy_database_is_exit_1_with_a_clear_message(run, tmp_path) -> None:
    db = tmp_path / "cli.duckdb"
    run("counts")  # create it
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; "
                               f"c = duckdb.connect({str(db)!r}); print('ready', flush=True); "
                               "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        code, out, err = run("counts")
        assert (code, out) == (1, "")
        assert err.startswith("error: database ") and "in use by another process" in err
    finally:
        holder.kill()
        holder.wait()
