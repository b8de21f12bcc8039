"""The fast path (columnar decoder, split tables, spools) stores exactly what the reference decoder reads.

Every row of ``messages`` is compared, column by column, with
``decode_line`` applied to the raw line it came from, and every reject with
the reference decoder's reason. Small chunks and small spool limits force
lines across chunk boundaries and the rarer types and rejects through the
temporary spool files.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pitch import generate, ingest, ingest_text, store
from pitch.decode import decode_line
from pitch.errors import DecodeError
from pitch.layouts import COMMON_CODES, LAYOUTS

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = list(store.MESSAGE_COLUMNS)[1:]  # without file_id


def generated(n: int, seed: int) -> bytes:
    out = io.BytesIO()
    generate.write_session(out, n, seed)
    return out.getvalue()


def expected(data: bytes) -> tuple[list[tuple], list[tuple]]:
    """(messages rows, rejects (line_no, reason)) by the reference decoder, line by line."""
    rows, rejects = [], []
    for line_no, line in enumerate(data.split(b"\n"), 1):
        line = line.removesuffix(b"\r")
        if not line:
            continue
        try:
            record = decode_line(line)
        except DecodeError as exc:
            rejects.append((line_no, exc.reason))
            continue
        record["line_no"] = line_no
        rows.append(tuple(record.get(c) for c in COLUMNS))
    return rows, rejects


def stored(conn, file_id: int) -> tuple[list[tuple], list[tuple]]:
    rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM messages WHERE file_id = ? "
                        "ORDER BY line_no", [file_id]).fetchall()
    rejects = conn.execute("SELECT line_no, reason FROM rejects WHERE file_id = ? "
                           "ORDER BY line_no", [file_id]).fetchall()
    return rows, rejects


def with_damage(data: bytes) -> bytes:
    """Every 97th line broken in one of several ways, CRLF on some, blank lines between."""
    lines = data.split(b"\n")
    for i in range(0, len(lines), 97):
        lines[i] = [lines[i][:-1], lines[i] + b"!", lines[i].replace(b"0", b"O", 1),
                    b"", lines[i] + b"\r"][i % 5]
    return b"\n".join(lines)


@pytest.fixture
def small_spools(monkeypatch):
    monkeypatch.setattr(ingest_text, "SPOOL_OTHER", 50)
    monkeypatch.setattr(ingest_text, "SPOOL_REJECTS", 10)


def fixtures() -> list[tuple[str, bytes]]:
    cases = [("data/sample.pitch", (ROOT / "data" / "sample.pitch").read_bytes()),
             ("generated", generated(20_000, 7)),
             ("generated, damaged", with_damage(generated(20_000, 8)))]
    real = ROOT.parent / "shared" / "pitch_data.txt"
    if real.exists():
        cases.append(("pitch_data.txt", real.read_bytes()))
    return cases


@pytest.mark.parametrize("name, data", fixtures(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_stored_row_is_what_the_reference_decoder_reads(db, small_spools, name, data) -> None:
    result = ingest.ingest_bytes(db, data, name, chunk_size=4099)
    rows, rejects = expected(data)
    assert (result.messages, result.rejects) == (len(rows), len(rejects))
    got_rows, got_rejects = stored(db, result.file_id)
    assert got_rows == rows
    assert got_rejects == rejects


def test_the_generated_file_has_every_type_in_both_tables(db, small_spools) -> None:
    result = ingest.ingest_bytes(db, generated(20_000, 7), "all.pitch", chunk_size=4099)
    types = dict(db.execute("SELECT type, count(*) FROM messages GROUP BY type").fetchall())
    assert set(types) == {l.code for l in LAYOUTS}
    common = db.execute("SELECT count(*) FROM messages_common").fetchone()[0]
    other = db.execute("SELECT count(*) FROM messages_other").fetchone()[0]
    assert common == sum(n for t, n in types.items() if t in COMMON_CODES)
    assert other == result.messages - common > 50  # more than one spool's worth: spilled


# alpha_key packs a field's bytes into one word and trims trailing spaces with word
# operations; the plain rule, byte by byte: strip trailing spaces, keep the rest.
@pytest.mark.parametrize("raw", [b"A", b"AAPL", b"AAPL  ", b"        ", b"A B     ", b" B",
                                 b"ZVZZT   ", b"ABCDEFGH", b"A\x00 ", b"A \x00", b"\x7f\xff  ",
                                 b"", b"  x", b"    B", b"A      B"])
def test_alpha_key_strips_trailing_spaces_only(raw: bytes) -> None:
    import numpy as np

    from pitch.arrays import ALPHA_MARKER, alpha_key

    for width in range(max(1, len(raw)), 9):
        field = raw.ljust(width, b" ")
        key = int(alpha_key(np.frombuffer(field, np.uint8).reshape(1, width))[0])
        assert key & int(ALPHA_MARKER)
        assert (key & ~int(ALPHA_MARKER)).to_bytes(8, "little") == field.rstrip(b" ").ljust(8, b"\0")


def test_packed_printable_is_32_to_126_in_every_byte() -> None:
    import numpy as np

    from pitch.arrays import packed_printable

    for width in range(1, 9):
        for at in range(width):
            for byte in (0, 31, 32, 65, 126, 127, 128, 160, 255):
                field = bytearray(b"A" * width)
                field[at] = byte
                word = np.frombuffer(bytes(field).ljust(8, b"\0"), "<u8")
                assert bool(packed_printable(word, width)[0]) == (32 <= byte <= 126), \
                    (width, at, byte)
