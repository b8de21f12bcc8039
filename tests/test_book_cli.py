"""``python -m pitch book`` and ``bbo``: exact output (scripted against), exit codes, errors."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal

import pytest

import book_reference as ref
from pitch import cli, ingest, store
from pitch.cli_book import parse_at
from test_book import rows_of


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    from conftest import SHARED_SAMPLE

    path = tmp_path_factory.mktemp("cli") / "cli.duckdb"
    conn = store.connect(path)
    ingest.ingest_path(conn, SHARED_SAMPLE)
    rows = rows_of(conn, 1)
    conn.close()
    return str(path), rows


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ticks(p: int | None) -> str:
    return "" if p is None else f"{p // 10_000}.{p % 10_000:04d}"


def test_book_csv_is_the_reference_book(db, capsys) -> None:
    path, rows = db
    code, out, err = run(capsys, "book", "SPY", "--at", "08:01:30.250", "--levels", "4",
                         "--format", "csv", "--db", path)
    assert (code, err) == (0, "")
    want = ref.book_at(rows, "SPY", parse_at("08:01:30.250"))
    bids = sorted(((p, v) for (s, p), v in want.items() if s == "B"), reverse=True)[:4]
    asks = sorted((p, v) for (s, p), v in want.items() if s == "S")[:4]
    expected = ["side,price,shares,orders"] + [
        f"{side},{ticks(p)},{v[0]},{v[1]}" for side, levels in (("B", bids), ("S", asks))
        for p, v in levels]
    assert out.splitlines() == expected
    assert len(bids) == 4 and len(asks) == 4  # the cut bit on both sides


def test_bbo_csv_is_the_reference_series(db, capsys) -> None:
    path, rows = db
    code, out, _ = run(capsys, "--db", path, "bbo", "SPY", "--format", "csv")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "line_no,time_ns,bid_price,bid_shares,ask_price,ask_shares"
    want = [",".join(map(str, (line, time, ticks(b), "" if bs is None else bs, ticks(a),
                                "" if s is None else s)))
            for line, time, b, bs, a, s in ref.bbo(rows, "SPY")]
    assert lines[1:] == want
    assert any(",," in line or line.endswith(",,") for line in lines[1:])  # an empty side


def test_json_and_table(db, capsys) -> None:
    path, _ = db
    code, out, _ = run(capsys, "book", "SPY", "--at", "08:02:00", "--db", path,
                       "--format", "json")
    levels = json.loads(out, parse_float=Decimal)
    assert code == 0 and levels and set(levels[0]) == {"side", "price", "shares", "orders"}
    assert len(str(levels[0]["price"]).split(".")[1]) == 4
    code, out, _ = run(capsys, "bbo", "SPY", "--db", path)
    assert code == 0 and out.splitlines()[0].split() == [
        "line_no", "time_ns", "bid_price", "bid_shares", "ask_price", "ask_shares"]


@pytest.mark.parametrize("argv, code, message", [
    (["book", "NOPE", "--at", "08:00:00"], 1, "error: unknown symbol 'NOPE'\n"),
    (["bbo", "SPY", "--file", "7"], 1, "error: no file 7\n"),
    (["book", "SPY", "--at", "8:61:00"], 2, "not a time of day"),
    (["book", "SPY", "--at", "08:00:00", "--levels", "0"], 2, "must be at least 1"),
    (["book", "SPY"], 2, "--at"),
])
def test_errors(db, capsys, argv, code, message) -> None:
    path, _ = db
    got, out, err = run(capsys, *argv, "--db", path)
    assert got == code and out == ""
    assert message in err
    if code == 1:
        assert err.count("\n") == 1  # one line, no traceback


@pytest.mark.parametrize("text, ns", [
    ("08:00:00", 28_800 * 10**9), ("08:00:00.5", 28_800 * 10**9 + 500_000_000),
    ("23:59:59.000000001", 86_399 * 10**9 + 1), ("9:30:00.123", 34_200_123_000_000)])
def test_parse_at(text: str, ns: int) -> None:
    assert parse_at(text) == ns


@pytest.mark.parametrize("text", ["24:00:00", "08:00", "08:00:00.1234567890", "noon", ""])
def test_parse_at_refuses(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_at(text)
