"""The session generator: deterministic, decodable, every type, consistent lifecycles.

The lifecycle checks parse the lines here with the spec's offsets
(pitch-formats.md 1.3, +1 for the leading ``S``), independently of
pitch.layouts, so a layout mistake shared by generator and decoder shows up.
"""

from __future__ import annotations

import gzip
import io
from collections import Counter
from decimal import Decimal

import pytest

from pitch.columns import decode_bytes
from pitch.decode import decode_line
from pitch.generate import OPEN_MS, TEMPLATES, base36, generate_lines, write_file, write_session
from pitch.layouts import BY_CODE_LENGTH, LAYOUTS, Kind

N = 4000


def session(n: int = N, seed: int = 0) -> bytes:
    return b"".join(generate_lines(n, seed))


@pytest.fixture(scope="module")
def sessions() -> dict[int, bytes]:
    return {seed: session(N, seed) for seed in (0, 1, 2)}


@pytest.mark.parametrize("n, text", [(0, "000000000000"), (35, "00000000000Z"), (36, "000000000010"),
                                     (36 ** 12 - 1, "ZZZZZZZZZZZZ"),  # next: the real file's largest
                                     (1652807758185603309, "CK27GA00006L")])
def test_base36(n: int, text: str) -> None:
    assert base36(n) == text
    assert int(text, 36) == n


def _sample_value(kind: Kind, width: int, values: str, i: int):
    if kind is Kind.NUMERIC:
        return 7 * i + 1
    if kind is Kind.PRICE:
        return 619200 + i
    if kind is Kind.BASE36:
        return 36 ** 11 + 1000 * i
    if kind is Kind.CODE:
        return values[i % len(values)]
    return "ZVZZT"[:width]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda l: f"{l.code}{l.length}")
def test_every_template_round_trips_through_the_reference_decoder(layout) -> None:
    values = [_sample_value(f.kind, f.width, f.values, i) for i, f in enumerate(layout.fields)]
    args = [base36(v) if f.kind is Kind.BASE36 else v for f, v in zip(layout.fields, values)]
    line = TEMPLATES[layout.code, layout.length](34_200_123, *args)
    assert line.endswith("\n") and len(line) == 1 + layout.length + 1
    record = decode_line(line.rstrip("\n").encode())
    assert record["time_ns"] == 34_200_123 * 1_000_000 and record["type"] == layout.code
    for f, v in zip(layout.fields, values):
        expected = Decimal(v) / 10_000 if f.kind is Kind.PRICE else v
        assert record[f.column] == expected, f.name


def test_same_seed_same_bytes_other_seed_other_bytes(sessions) -> None:
    assert session(N, 0) == sessions[0]
    assert sessions[0] != sessions[1]
    assert session(100, 1) == sessions[1][:len(session(100, 1))]  # a prefix of the longer run


@pytest.mark.parametrize("n", [0, 1, 57, 1000])
def test_exactly_n_lines_each_ending_in_newline(n: int) -> None:
    data = session(n, 5)
    assert data.count(b"\n") == n
    assert data == b"" or data.endswith(b"\n")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decodes_with_no_rejects_and_every_type(sessions, seed: int) -> None:
    table, rejects = decode_bytes(sessions[seed])
    assert rejects == []
    assert table.num_rows == N
    present = set(table.column("type").to_pylist())
    assert present == {l.code for l in LAYOUTS}  # every text type
    lengths = {len(line) - 1 for line in sessions[seed].split(b"\n") if line[9:10] == b"d"}
    assert lengths == {51, 52}  # both forms of the long add


def test_proportions_are_plausible() -> None:
    counts = Counter(line[9:10] for line in session(20_000, 3).split(b"\n") if line)
    share = {code.decode(): c / 20_000 for code, c in counts.items()}
    assert 0.44 < share["A"] < 0.52
    assert 0.37 < share["X"] < 0.45
    assert 0.03 < share["E"] < 0.06
    assert 0.01 < share["P"] < 0.04


def _check_session(data: bytes) -> dict[str, int]:
    """Replay the session with the spec's offsets; assert every consistency rule."""
    live: dict[str, list] = {}  # order id -> [open shares, symbol]
    gone: set[str] = set()
    executions: set[str] = set()
    stats = Counter()
    last_time = 0
    for raw in data.split(b"\n")[:-1]:
        line = raw.decode("ascii")
        assert line[0] == "S"
        time, code = int(line[1:9]), line[9]
        assert time >= last_time and time >= OPEN_MS
        last_time = time
        if code in "Ad1":
            oid, shares = line[10:22], int(line[23:29])
            symbol = line[29:35] if code == "A" else line[29:37]
            assert oid not in live, f"order id {oid} re-added while live"
            stats["reused"] += oid in gone
            assert shares > 0
            live[oid] = [shares, symbol.rstrip()]
        elif code in "EX":
            oid, shares = line[10:22], int(line[22:28])
            assert oid in live, f"{code} for an order that is not live: {oid}"
            assert 0 < shares <= live[oid][0], f"{code} of {shares} exceeds open {live[oid][0]}"
            live[oid][0] -= shares
            if live[oid][0] == 0:
                del live[oid]
                gone.add(oid)
            if code == "E":
                exec_id = line[28:40]
                assert exec_id not in executions
                executions.add(exec_id)
        elif code in "Pr2":
            exec_id = {"P": line[45:57], "r": line[47:59], "2": line[51:63]}[code]
            assert exec_id not in executions
            executions.add(exec_id)
        elif code == "B":
            assert line[10:22] in executions, "break of an unknown execution"
            stats["breaks"] += 1
        elif code == "s":
            symbol = line[10:18].rstrip()
            assert not any(s == symbol for _, s in live.values()), "clear with live orders"
    stats["open"] = len(live)
    return stats


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lifecycles_are_consistent(sessions, seed: int) -> None:
    stats = _check_session(sessions[seed])
    assert stats["reused"] > 0 and stats["breaks"] > 0  # the interesting cases do occur


def test_the_checker_catches_an_overdrawn_cancel(sessions) -> None:
    data = sessions[0]
    lines = data.split(b"\n")
    i = next(k for k, l in enumerate(lines) if l[9:10] == b"X")
    lines[i] = lines[i][:22] + b"999999"  # cancel more shares than any order has
    with pytest.raises(AssertionError, match="exceeds"):
        _check_session(b"\n".join(lines))


def test_write_file_plain_and_gzip_hold_the_same_session(tmp_path) -> None:
    expected = io.BytesIO()
    written = write_session(expected, 1500, 4)
    assert written == len(expected.getvalue())
    assert write_file(tmp_path / "a.pitch", 1500, 4) == written
    write_file(tmp_path / "a.pitch.gz", 1500, 4)
    assert (tmp_path / "a.pitch").read_bytes() == expected.getvalue()
    assert gzip.decompress((tmp_path / "a.pitch.gz").read_bytes()) == expected.getvalue()


def test_templates_cover_every_layout() -> None:
    assert set(TEMPLATES) == set(BY_CODE_LENGTH)


def test_committed_sample_is_the_seed_1_session() -> None:
    """data/sample.pitch is `python -m pitch generate data/sample.pitch --messages 50000 --seed 1`."""
    from pitch.settings import SAMPLE_FILE

    expected = io.BytesIO()
    write_session(expected, 50_000, 1)
    assert SAMPLE_FILE.read_bytes() == expected.getvalue(), "regenerate the sample (see docstring)"
