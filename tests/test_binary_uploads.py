"""Binary captures land whatever their extension, by upload and through the watched folder.

The Ingest page's uploader has no extension filter and the inbox takes any
complete file: the format (pcap, pcapng, raw Sequenced Units, gzipped or not)
is told by content. A capture named .pcap, .pcapng, .dat or .bin, or .gz of
each, lands with its format recorded.
"""

from __future__ import annotations

import gzip

import pytest
from test_uploads import app_env, drop, finished, upload, watcher  # noqa: F401  (fixtures)

from pitch import capture_write, generate_binary, store


def capture(container: str, seed: int) -> bytes:
    """A small generated binary session as a pcap, a pcapng or a raw units file."""
    units = generate_binary.session(120, seed).units
    return {"pcap": capture_write.write_pcap, "pcapng": capture_write.write_pcapng,
            "units": capture_write.write_units}[container](units)


# (name, container, files.format): the extensions people give captures, gzipped too.
CAPTURES = [(f"s{i}.{ext}{gz}", container, container)
            for i, (ext, container, gz) in enumerate(
                (ext, container, gz) for gz in ("", ".gz")
                for ext, container in (("pcap", "pcap"), ("pcapng", "pcapng"),
                                       ("dat", "units"), ("bin", "units")))]


def capture_bytes(name: str, container: str) -> bytes:
    data = capture(container, seed=int(name[1:name.index(".")]))
    return gzip.compress(data) if name.endswith(".gz") else data


@pytest.mark.parametrize("name, container, fmt", CAPTURES, ids=[c[0] for c in CAPTURES])
def test_a_capture_upload_lands_whatever_its_extension(app_env, name, container,  # noqa: F811
                                                        fmt) -> None:
    at = upload(name, capture_bytes(name, container))
    assert [e.value for e in at.error] == []
    assert f"{name}: " in " ".join(str(s.value) for s in at.success)
    conn = store.connect(app_env)
    try:
        assert conn.execute("SELECT format FROM files WHERE name = ?", [name]).fetchall() == \
            [(fmt,)]
    finally:
        conn.close()


def test_the_inbox_takes_captures_whatever_their_extension(watcher) -> None:  # noqa: F811
    w, conn = watcher
    for name, container, _ in CAPTURES:
        drop(w.inbox, name, capture_bytes(name, container))
    entries = finished(w, len(CAPTURES))
    assert {e["name"]: e["status"] for e in entries} == {
        name: "ingested" for name, _, _ in CAPTURES}, entries
    formats = dict(conn.execute("SELECT name, format FROM files").fetchall())
    assert formats == {name: fmt for name, _, fmt in CAPTURES}
    assert sorted(p.name for p in (w.inbox / "processed").iterdir()) == \
        sorted(name for name, _, _ in CAPTURES)
