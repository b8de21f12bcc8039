"""Short differential fuzzing of the decoders and ingest (the long run is benchmarks/fuzz.py).

The properties are described in benchmarks/fuzz.py: decode_line returns or raises
DecodeError; decode_bytes agrees with decode_line line by line at any chunk size;
ingest raises only IngestError and, when a file lands, messages + rejects ==
non-blank lines.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

import pitch.columns
from benchmarks import fuzz
from pitch import store
from pitch.layouts import LAYOUTS

GOOD = b"S28800011AAK27GA0000DTS000100SH    0000619200Y"  # a real Add Order line

# Hand-made edge cases: every one is checked at every chunk size below.
EDGES: list[bytes] = [
    b"", b"\n", b"\r\n", b"\r", b"S", b"S\n", b"\n\n\n", b" \n", GOOD, GOOD + b"\r",
    GOOD + b"\r\r\n", GOOD[1:], GOOD.lower(), GOOD + b"\x00", b"\x00" * 10 + b"\n" + GOOD,
    GOOD.replace(b"A", "é".encode(), 1), b"\xff\xfe" + GOOD, "S2880001\u00e9".encode(),
    b"\r".join([GOOD] * 5),                      # CR-only endings: one line
    b"\r".join([GOOD] * 200),                    # ... longer than MAX_LINE
    b"A" * 4096, b"A" * 4097, b"A" * 4097 + b"\n" + GOOD,
    GOOD + b"\n" + b"B" * 5000 + b"\r\n" + GOOD + b"\n",
    (GOOD + b"\n") * 3 + b"X" * 10000,           # huge last line, no newline
    b"\n".join([GOOD] * 10), (GOOD + b"\r\n") * 10,
    GOOD[:20] + b"\n" + GOOD[20:],               # a line split in two
    GOOD.replace(b"AAK27GA0000DT", b"Aaak27ga0000d"),  # lower-case base-36
    GOOD.replace(b"000100", b"00 100"), GOOD.replace(b"SH    ", b"      "),  # blank symbol
]
CHUNK_SIZES = [1, 2, 3, 7, 45, 46, 47, 64, 4095, 4096, 4097, 5000, 1 << 22]


@pytest.mark.parametrize("data", EDGES, ids=[repr(e[:24]) for e in EDGES])
def test_edge_cases_agree_at_every_chunk_size(data):
    for chunk in CHUNK_SIZES:
        if chunk * 500 >= len(data):  # tiny chunks only on small inputs (each feed costs ~1 ms)
            fuzz.check_decode(data, chunk)


@pytest.mark.parametrize("layout", LAYOUTS, ids=[f"{l.code}{l.length}" for l in LAYOUTS])
def test_built_lines_of_every_layout_decode_and_mutants_agree(layout):
    rng = random.Random(layout.length * 131 + ord(layout.code))
    lines = [fuzz.valid_line(rng, layout) for _ in range(50)]
    valid, rejects = fuzz.check_decode(b"\n".join(lines), 64)
    assert (valid, rejects) == (50, 0)  # the generator builds only valid messages
    mutants = [fuzz.mutate(rng, l) for l in lines for _ in range(10)]
    fuzz.check_decode(b"\n".join(mutants), 4096)


def test_huge_lines_at_every_alignment():
    for before in range(0, 120, 29):
        for length in (4095, 4096, 4097, 8192, 8193, 12000):
            data = (GOOD + b"\n") * before + b"Z" * length + b"\n" + GOOD + b"\n" + b"Y" * length
            for chunk in (4096, 4097, 5000):
                fuzz.check_decode(data, chunk)


@pytest.mark.parametrize("seed", [101, 202])
def test_random_lines_and_files(seed):
    stats = fuzz.run(3000, seed, batch=1000, files_per_batch=20)
    assert stats["cases"] == 3000
    assert stats["file cases"] >= 40 and stats["valid lines"] > 500 and stats["rejected lines"] > 500


def test_random_ingests(tmp_path):
    conn = store.connect(tmp_path / "fuzz.duckdb")
    try:
        stats = fuzz.run(120, 303, batch=20, files_per_batch=10, ingest_every=3, conn=conn)
    finally:
        conn.close()
    assert stats["ingest landed"] >= 8, stats
    assert stats["ingest landed"] + stats["ingest refused"] + stats["ingest duplicate"] >= 12


@pytest.mark.parametrize("data, expected", [
    (b"", "refused"), (b"\n\r\n\n", "refused"), (b"not pitch\n" * 5, "refused"),
    (b"\x1f\x8b\x08garbage", "refused"), (GOOD + b"\nbad\n", "landed"),
])
def test_ingest_outcomes(tmp_path, data, expected):
    conn = store.connect(tmp_path / "one.duckdb")
    try:
        assert fuzz.check_ingest(conn, data, "case", 4096) == expected
    finally:
        conn.close()


def test_the_oracle_catches_a_decoder_that_disagrees(monkeypatch):
    """A fast decoder that takes ':' for a digit must be caught, with a one-line minimal case."""
    def lax_digits(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = m - np.uint8(48)
        value = np.zeros(len(m), np.int64)
        for j in range(m.shape[1]):
            value = value * 10 + d[:, j]
        return value, (d <= 10).all(axis=1)

    monkeypatch.setattr(pitch.columns, "_digits", lax_digits)
    bad = GOOD.replace(b"000100", b"00010:")
    with pytest.raises(fuzz.PropertyFailure, match="minimal case"):
        fuzz.check_decode_shrunk(b"\n".join([GOOD] * 20 + [bad]), 4096)
