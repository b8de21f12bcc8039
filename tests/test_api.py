"""The REST API over real HTTP: `streamlit run app.py` on a free local port.

The database is built before the server starts (the real sample, a generated
session, a file with rejects) and copied; every answer is checked against
the ``pitch`` functions run on the copy (the pages' CSV byte for byte), or
against facts of the real sample. Writes (uploads, deletes) clean up after
themselves, so the read checks hold whatever the order.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import http.client
import io
import json
import shutil
import socket
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from api_client import Answer, call, get, multipart, upload
from browser_support import streamlit_server
from conftest import SHARED_SAMPLE
from pitch import (api, api_errors, api_params, api_tables, cli, export, fmt, ids, ingest,
                   queries, sandbox, store)
from pitch.api_queries import messages_export, orders_export, trades_export
from pitch.filters import MessageFilter, OrderFilter

#: Lines 1-3 are messages; the others are rejects (one with a comma and quotes, for CSV quoting).
BAD_FILE = (b"S28800011AAK27GA0000DTS000100SH    0000619200Y\n"
            b"S28800012AAK27GA0000DUB000200SPY   0001000000Y\n"
            b"S28800013XAK27GA0000DT000050\n"
            b"Sthis is not a message\n"
            b'Sbad,line "quoted"\n'
            b"S2880001\n")
UPLOAD_LIMIT_MB = 2


@dataclass
class World:
    url: str  # .../api/v1
    base: str  # the server
    ref: object  # a DuckDB connection on a copy of the served database
    tmp: Path
    generated: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    generated = tmp / "generated.pitch"
    assert cli.main(["generate", str(generated), "--messages", "30000", "--seed", "7"]) == 0
    (tmp / "bad.pitch").write_bytes(BAD_FILE)
    conn = store.connect(tmp / "api.duckdb")
    for path in (SHARED_SAMPLE, generated, tmp / "bad.pitch"):
        ingest.ingest_path(conn, path)
    conn.close()
    shutil.copy(tmp / "api.duckdb", tmp / "ref.duckdb")
    ref = store.connect(tmp / "ref.duckdb", read_only=True)
    env = {"PITCH_DB": str(tmp / "api.duckdb"), "PITCH_INBOX": str(tmp / "inbox"),
           "PITCH_NO_SAMPLE": "1"}
    with streamlit_server(tmp, env, "--server.maxUploadSize", str(UPLOAD_LIMIT_MB)) as base:
        yield World(f"{base}/api/v1", base, ref, tmp, generated)
    ref.close()
    assert not (tmp / "api.duckdb.app.json").exists(), "the record outlived the server"


def ok(answer: Answer, status: int = 200) -> Answer:
    assert answer.status == status, (answer.status, answer.body[:500])
    return answer


def arrow(answer: Answer) -> pa.Table:
    return pa.ipc.open_stream(ok(answer).body).read_all()


# --- the server and its record ------------------------------------------------------------------

def test_health_and_the_record_beside_the_database(world) -> None:
    health = ok(get(world.url, "/health")).json
    assert health["status"] == "ok" and health["files"] == 3
    assert health["messages"] == 20_000 + 30_000 + 3 and health["rejects"] == 3
    assert health["upload_limit"] == UPLOAD_LIMIT_MB * 1024 * 1024
    record = json.loads((world.tmp / "api.duckdb.app.json").read_text())
    assert record["pid"] == health["pid"] and record["token_required"] is False
    assert f"{record['url']}" == world.url and record["host"] == "127.0.0.1"


def test_the_pages_and_streamlit_health_still_answer(world) -> None:
    assert ok(call(world.base, "GET", "/_stcore/health")).body == b"ok"
    assert b"<html" in ok(call(world.base, "GET", "/messages")).body.lower()


# --- reads ---------------------------------------------------------------------------------------

def test_counts_and_top_symbols(world) -> None:
    rows = ok(get(world.url, "/counts")).json["rows"]
    assert rows == api_tables.json_rows(queries.message_type_counts(world.ref))
    real = {"A": 10_361, "X": 9_592, "P": 27, "E": 20}  # the real sample's, plus the others
    assert all(r["count"] >= real.get(r["code"], 0) for r in rows)
    top = ok(get(world.url, "/top-symbols", n=3)).json["rows"]
    assert top == api_tables.json_rows(queries.top_symbols(world.ref, 3)) and len(top) == 3
    assert ok(get(world.url, "/counts", format="csv")).body == export.to_csv(
        queries.message_type_counts(world.ref))


def test_files_one_file_and_rejects(world) -> None:
    files = ok(get(world.url, "/files")).json["rows"]
    assert [f["name"] for f in files] == ["pitch_data.txt", "generated.pitch", "bad.pitch"]
    assert files[2]["rejects"] == 3 and files[2]["status"] == "ingested with rejects"
    assert ok(get(world.url, "/files/3")).json == files[2]
    page = ok(get(world.url, "/files/3/rejects", per_page=2)).json
    assert (page["total"], page["pages"], len(page["rows"])) == (3, 2, 2)
    assert (page["rows"][0]["line_no"], page["rows"][0]["raw"]) == (4, "Sthis is not a message")
    assert ok(get(world.url, "/files/3/rejects", format="csv")).body == queries.rejects_csv(
        world.ref, 3)
    every = ok(get(world.url, "/rejects")).json
    assert every["total"] == 3 and {r["file_id"] for r in every["rows"]} == {3}
    assert ok(get(world.url, "/rejects", file=1)).json["total"] == 0


MESSAGE_CASES = [
    ({}, MessageFilter()),
    ({"type": "E"}, MessageFilter(types=("E",))),
    ({"type": ["Add Order (Short)", "X"]}, MessageFilter(types=("A", "X"))),
    ({"symbol": ["spy", "SH"], "side": "buy"}, MessageFilter(symbols=("SPY", "SH"), side="B")),
    ({"from": "08:00:30", "to": "08:01:00.5"},
     MessageFilter(start_ns=fmt.parse_hms("08:00:30"), end_ns=fmt.parse_hms("08:01:00.500"))),
    ({"order_id": "ak27ga0000dt"}, MessageFilter(order_id=ids.parse_id("AK27GA0000DT"))),
    ({"file": 2, "type": "d"}, MessageFilter(file_id=2, types=("d",))),
]


@pytest.mark.parametrize("params, flt", MESSAGE_CASES)
def test_messages_match_the_messages_page(world, params, flt) -> None:
    answer = ok(get(world.url, "/messages", per_page=7, page=2, sort="price", desc="true", **params)).json
    total = queries.message_count(world.ref, flt)
    assert (answer["total"], answer["per_page"], answer["page"]) == (total, 7, 2)
    assert answer["filter"] == flt.sentence()
    expected = queries.messages_page(world.ref, flt, sort="price", desc=True, page=2,
                                     page_size=7, total=total)
    assert answer["rows"] == api_tables.json_rows(expected)
    for sort, desc in (("time", False), ("order_id", True)):
        csv = ok(get(world.url, "/messages", format="csv", sort=sort, desc=desc, **params)).body
        assert csv == queries.messages_csv(world.ref, flt, sort=sort.replace("_", " "), desc=desc)


def test_a_message_reads_as_in_the_file(world) -> None:
    row = ok(get(world.url, "/messages", file=1, per_page=1, sort="file")).json["rows"][0]
    assert (row["line_no"], row["type"], row["message_type"], row["symbol"], row["side"],
            row["shares"], row["price"], row["order_id"], row["time"]) == (
        1, "A", "Add Order (Short)", "SH", "S", 100, "61.9200", "AK27GA0000DT", "08:00:00.011")


def test_json_pages_add_up_to_the_export(world) -> None:
    params = {"type": "X", "file": 1, "sort": "symbol"}
    rows, page = [], 1
    while True:
        answer = ok(get(world.url, "/messages", per_page=1000, page=page, **params)).json
        rows += [(r["file_id"], r["line_no"]) for r in answer["rows"]]
        if page == answer["pages"]:
            break
        page += 1
    table = arrow(get(world.url, "/messages", format="arrow", **params))
    assert len(rows) == 9_592 == table.num_rows
    assert rows == list(zip(table.column("file_id").to_pylist(), table.column("line_no").to_pylist()))


def test_arrow_and_parquet_carry_typed_values(world) -> None:
    table = arrow(get(world.url, "/messages", format="arrow", type="E"))
    expected = world.ref.sql("SELECT * FROM messages WHERE type = 'E' "
                             "ORDER BY time_ns, file_id, line_no").to_arrow_table()
    assert table.equals(expected)
    assert table.schema.field("order_id").type == pa.uint64()
    answer = ok(get(world.url, "/messages", format="parquet", type="E"))
    assert answer.headers["Content-Type"] == "application/vnd.apache.parquet"
    assert 'filename="messages.parquet"' in answer.headers["Content-Disposition"]
    assert pq.read_table(io.BytesIO(answer.body)).equals(expected)
    empty = arrow(get(world.url, "/messages", format="arrow", symbol="NOSUCH"))
    assert empty.num_rows == 0 and empty.schema == expected.schema
    assert ok(get(world.url, "/messages", format="csv", symbol="NOSUCH")).body == \
        queries.messages_csv(world.ref, MessageFilter(symbols=("NOSUCH",)))


def test_orders_match_the_orders_page(world) -> None:
    flt = OrderFilter(symbols=("SPY",), statuses=("open", "cancelled"), side="S")
    params = {"symbol": "SPY", "status": ["open", "cancelled"], "side": "S"}
    answer = ok(get(world.url, "/orders", per_page=5, sort="remaining", desc="true", **params)).json
    total = queries.order_count(world.ref, flt)
    assert answer["total"] == total > 0 and answer["filter"] == flt.sentence()
    assert answer["rows"] == api_tables.json_rows(queries.orders_page(
        world.ref, flt, sort="remaining", desc=True, page_size=5, total=total))
    assert ok(get(world.url, "/orders", format="csv", sort="events", **params)).body == \
        queries.orders_csv(world.ref, flt, sort="events")


def test_an_order_lifecycle(world) -> None:
    answer = ok(get(world.url, "/orders/AK27GA0000DT")).json
    assert answer["order_id"] == "AK27GA0000DT"
    files = [o["file_id"] for o in answer["orders"]]
    assert files == [1, 3]  # the id is in the real sample and in bad.pitch
    first = answer["orders"][0]
    assert first["lifecycle"] == api_tables.json_rows(queries.order_lifecycle(world.ref, 1, 1))
    assert [e["event"] for e in first["lifecycle"]][0] == "add"
    one = ok(get(world.url, "/orders/AK27GA0000DT", file=3)).json["orders"]
    assert len(one) == 1 and [e["event"] for e in one[0]["lifecycle"]] == ["add", "cancelled"]
    csv = ok(get(world.url, "/orders/AK27GA0000DT", format="csv", file=3)).body.decode()
    assert csv.splitlines()[0].startswith("file_id,line_no,time_ns,time,type,")
    assert csv.splitlines()[2].startswith("3,3,28800013000000,08:00:00.013,X,")


def test_a_symbols_trades(world) -> None:
    symbol = queries.top_symbols(world.ref, 1)["symbol"][0]
    answer = ok(get(world.url, f"/symbols/{symbol.lower()}/trades", per_page=10, page=2)).json
    summary = queries.symbol_summary(world.ref, symbol)
    assert answer["symbol"] == symbol and answer["total"] == summary["trades"] > 10
    assert answer["summary"]["volume"] == summary["volume"]
    assert answer["summary"]["vwap"] == fmt.price(summary["vwap"]).replace(",", "")
    trades, _ = queries.symbol_trades(world.ref, symbol, limit=20)
    assert answer["rows"] == api_tables.json_rows(trades.iloc[10:20].reset_index(drop=True))
    assert ok(get(world.url, f"/symbols/{symbol}/trades", format="csv")).body == \
        queries.symbol_trades_csv(world.ref, symbol)


def test_query_is_the_sql_pages_sandbox(world) -> None:
    sql = "SELECT type, count(*) AS n, 1 AS n FROM messages GROUP BY type ORDER BY type"
    answer = ok(get(world.url, "/query", sql=sql, row_limit=3)).json
    assert answer["truncated"] is True and answer["row_limit"] == 3
    assert answer["columns"] == ["type", "n", "n_2"] and len(answer["rows"]) == 3
    assert answer["note"] == "only the first 3 rows (row limit)"
    csv = ok(get(world.url, "/query", sql="SELECT * FROM files ORDER BY file_id", format="csv"))
    assert csv.headers["X-Pitch-Truncated"] == "false"
    expected = sandbox.run_query(world.ref, "SELECT * FROM files ORDER BY file_id")
    assert csv.body == export.to_csv(expected.frame)


# --- bad requests ----------------------------------------------------------------------------------

BAD = [
    ("/messages", {"per_page": 1001}, 422, "per_page"),
    ("/messages", {"per_page": 0}, 422, "per_page"),
    ("/messages", {"page": 0}, 422, "page"),
    ("/messages", {"page": "two"}, 422, "page"),
    ("/messages", {"from": "9am"}, 422, "from: time '9am' is not HH:MM:SS.mmm"),
    ("/messages", {"to": "25:00"}, 422, "to: time '25:00' is out of range"),
    ("/messages", {"order_id": "not-an-id"}, 422, "order_id"),
    ("/messages", {"type": "Z"}, 422, "unknown message type 'Z'"),
    ("/messages", {"side": "up"}, 422, "side"),
    ("/messages", {"sort": "colour"}, 422, "sort"),
    ("/messages", {"file": "first"}, 422, "file"),
    ("/messages", {"format": "xml"}, 422, "format"),
    ("/orders", {"status": "done"}, 422, "status"),
    ("/top-symbols", {"n": 0}, 422, "n"),
    ("/query", {}, 422, "sql"),
    ("/query", {"sql": "SELECT 1", "row_limit": 0}, 422, "row_limit"),
    ("/query", {"sql": "SELECT 1", "timeout": 600}, 422, "timeout"),
    ("/query", {"sql": "SELECT * FROM nowhere"}, 400, "query failed"),
    ("/files/abc", {}, 422, "file_id"),
    ("/files/999", {}, 404, "no file 999"),
    ("/files/999/rejects", {}, 404, "no file 999"),
    ("/orders/ZZZZZZZZZZZZ", {}, 404, "no order ZZZZZZZZZZZZ"),
    ("/orders/AK27GA0000DT", {"file": 2}, 404, "no order AK27GA0000DT in file 2"),
    ("/orders/%21%21", {}, 422, "order id"),
    ("/symbols/NOPE/trades", {}, 404, "no trades or orders of symbol 'NOPE'"),
    ("/no-such-route", {}, 404, "Not Found"),
]


@pytest.mark.parametrize("path, params, status, words", BAD)
def test_bad_requests_get_a_status_and_one_json_line(world, path, params, status, words) -> None:
    answer = call(world.url, "GET", path, params)
    assert answer.status == status, answer.body
    assert answer.headers["Content-Type"] == "application/json"
    assert set(answer.json) == {"error"} and words in answer.json["error"]
    assert "Traceback" not in answer.json["error"] and "\n" not in answer.json["error"]


HOSTILE = [
    "DROP TABLE messages",
    "DELETE FROM files",
    "SELECT 1; DELETE FROM files",
    "WITH gone AS (DELETE FROM files RETURNING *) SELECT * FROM gone",
    "UPDATE orders SET shares = 0",
    "SELECT * FROM read_csv('/etc/passwd')",
    "COPY files TO '/tmp/stolen.csv'",
    "ATTACH '/tmp/other.duckdb' AS other",
    "SELECT getenv('HOME')",
    "SELECT nextval('file_ids')",
    "SET enable_external_access = true",
    "INSTALL httpfs",
    "SELECT * FROM '/etc/passwd'",
    "CREATE TABLE x AS SELECT 1",
]


def test_hostile_queries_are_refused_and_change_nothing(world) -> None:
    before = ok(get(world.url, "/health")).json, ok(get(world.url, "/files")).json
    for sql in HOSTILE:
        answer = get(world.url, "/query", sql=sql)
        assert answer.status == 400, (sql, answer.body)
        assert answer.json["error"], sql
    assert (ok(get(world.url, "/health")).json, ok(get(world.url, "/files")).json) == before
    assert not Path("/tmp/stolen.csv").exists()
    total = ok(get(world.url, "/query", sql="SELECT count(*) AS n FROM orders WHERE shares = 0"))
    assert total.json["rows"] == [{"n": 0}]


# --- writes ----------------------------------------------------------------------------------------

def generated(tmp: Path, seed: int, messages: int = 2000) -> bytes:
    path = tmp / f"seed-{seed}.pitch"
    assert cli.main(["generate", str(path), "--messages", str(messages), "--seed", str(seed)]) == 0
    return path.read_bytes()


def test_upload_lands_once_then_already_ingested_then_delete(world, tmp_path) -> None:
    data = generated(tmp_path, 101)
    first = ok(upload(world.url, "up.pitch", data), 201).json
    assert first["status"] == "ingested" and first["messages"] == 2000
    assert first["summary"].startswith("up.pitch: 2,000 messages, 0 rejects in ")
    again = ok(upload(world.url, "again.pitch", data), 200).json
    assert again["status"] == "already ingested" and again["file_id"] == first["file_id"]
    assert again["summary"] == f"again.pitch: already ingested as file {first['file_id']}, nothing added"
    fid = first["file_id"]
    assert ok(get(world.url, f"/files/{fid}")).json["source"] == "api"
    gone = ok(call(world.url, "DELETE", f"/files/{fid}")).json
    assert gone == {"deleted": fid, "name": "up.pitch", "messages": 2000, "rejects": 0}
    left = ok(get(world.url, "/query", sql=" UNION ALL ".join(
        f"SELECT '{t}' AS t, count(*) AS n FROM {t} WHERE file_id = {fid}"
        for t in ("messages_common", "messages_other", "rejects", "orders", "executions",
                  "files")))).json["rows"]
    assert [r["n"] for r in left] == [0] * 6, left
    assert call(world.url, "DELETE", f"/files/{fid}").status == 404
    assert ok(get(world.url, "/health")).json["files"] == 3


@pytest.mark.parametrize("name, data, words", [
    ("empty.txt", b"", "file is empty"),
    ("notes.txt", b"hello\nworld\n" * 50, "not a PITCH file"),
    ("image.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "not a PITCH file"),
])
def test_a_file_that_is_not_pitch_is_refused_and_stores_nothing(world, name, data, words) -> None:
    answer = upload(world.url, name, data)
    assert answer.status == 400 and words in answer.json["error"], answer.body
    assert ok(get(world.url, "/health")).json["files"] == 3


def test_uploads_over_the_limit_get_413(world, tmp_path) -> None:
    limit = UPLOAD_LIMIT_MB * 1024 * 1024
    big = generated(tmp_path, 5, 60_000)
    assert len(big) > limit
    answer = upload(world.url, "big.pitch", big)  # Content-Length says so
    assert answer.status == 413 and "over the 2 MB upload limit" in answer.json["error"]
    host, port = world.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as raw:  # as curl asks
        raw.sendall(f"POST /api/v1/files HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    f"Content-Type: multipart/form-data; boundary=x\r\n"
                    f"Content-Length: {10 ** 9}\r\nExpect: 100-continue\r\n\r\n".encode())
        reply = b""
        while b"upload limit" not in reply and (chunk := raw.recv(65536)):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413") and b"100 Continue" not in reply, reply
    # A file a little over the limit, whose body stays within the framing allowance.
    answer = upload(world.url, "edge.pitch", big[:limit + 100])
    assert answer.status == 413 and "edge.pitch: 2.0 MB is over" in answer.json["error"]
    # No Content-Length (chunked): stopped once the bytes read pass the limit.
    body, headers = multipart("chunked.pitch", big)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    conn.request("POST", "/api/v1/files", body=iter([body[i:i + 65536]
                                                     for i in range(0, len(body), 65536)]),
                 headers=headers, encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 413 and "upload limit" in json.loads(response.read())["error"]
    conn.close()
    assert ok(get(world.url, "/health")).json["files"] == 3


def test_concurrent_uploads_each_land_once(world, tmp_path) -> None:
    files = {f"c{seed}.pitch": generated(tmp_path, seed) for seed in range(201, 206)}
    twin = generated(tmp_path, 300)
    jobs = [(name, data) for name, data in files.items()] + [("t1.pitch", twin), ("t2.pitch", twin)]
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        answers = list(pool.map(lambda job: upload(world.url, *job), jobs))
    assert [a.status for a in answers[:5]] == [201] * 5, [a.body for a in answers]
    assert sorted(a.status for a in answers[5:]) == [200, 201]
    ids = {a.json["file_id"] for a in answers}
    assert len(ids) == 6
    listed = ok(get(world.url, "/files")).json["rows"]
    names = [f["name"] for f in listed]
    assert all(names.count(n) == 1 for n in files) and names.count("t1.pitch") + names.count(
        "t2.pitch") == 1
    assert ok(get(world.url, "/health")).json["messages"] == 50_003 + 6 * 2000
    for fid in ids:
        ok(call(world.url, "DELETE", f"/files/{fid}"))
    assert ok(get(world.url, "/health")).json["messages"] == 50_003


# --- the docs ----------------------------------------------------------------------------------------

def test_openapi_lists_every_route(world) -> None:
    spec = ok(get(world.url, "/openapi.json")).json
    assert spec["servers"] == [{"url": "/api/v1"}]
    assert set(spec["paths"]) == {
        "/health", "/counts", "/top-symbols", "/files", "/files/{file_id}",
        "/files/{file_id}/rejects", "/rejects", "/messages", "/orders", "/orders/{order_id}",
        "/symbols/{symbol}/trades", "/query", "/gaps", "/book/{symbol}", "/bbo/{symbol}"}
    assert set(spec["paths"]["/files"]) == {"get", "post"}
    assert set(spec["paths"]["/files/{file_id}"]) == {"get", "delete"}


def test_the_exports_follow_the_page_sql(world) -> None:
    """The API's export SQL is the pages' CSV SQL (pitch.api_queries mirrors pitch.queries)."""
    flt = MessageFilter(types=("A",), symbols=("SPY",))
    for sort in queries.MESSAGE_SORTS:
        for desc in (False, True):
            sql = messages_export(flt, sort, desc)
            assert queries.stream_csv(world.ref, sql.sql, sql.params) == \
                queries.messages_csv(world.ref, flt, sort=sort, desc=desc), (sort, desc)
    oflt = OrderFilter(symbols=("SPY",))
    for sort in queries.ORDER_SORTS:
        sql = orders_export(oflt, sort, True)
        assert queries.stream_csv(world.ref, sql.sql, sql.params) == \
            queries.orders_csv(world.ref, oflt, sort=sort, desc=True), sort
    sql = trades_export("SPY")
    assert queries.stream_csv(world.ref, sql.sql, sql.params) == \
        queries.symbol_trades_csv(world.ref, "SPY")


# --- who may ask -----------------------------------------------------------------------------------

def test_other_sites_and_other_hosts_are_refused(world) -> None:
    host = world.base.removeprefix("http://")
    assert ok(call(world.url, "GET", "/counts", headers={"Origin": world.base})).status == 200
    for headers, words in (({"Origin": "http://evil.example"}, "cross-site request"),
                           ({"Origin": "null"}, "cross-site request"),
                           ({"Host": "evil.example"}, "loopback only"),
                           ({"Host": f"rebound.example:{host.split(':')[1]}"}, "loopback only")):
        answer = call(world.url, "GET", "/counts", headers=headers)
        assert answer.status == 403 and words in answer.json["error"], (headers, answer.body)
    body, head = multipart("x.pitch", BAD_FILE)
    answer = call(world.url, "POST", "/files", body=body,
                  headers={**head, "Origin": "http://evil.example"})
    assert answer.status == 403 and ok(get(world.url, "/health")).json["files"] == 3


@pytest.fixture(scope="module")
def token_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("token")
    env = {"PITCH_DB": str(tmp / "t.duckdb"), "PITCH_INBOX": str(tmp / "inbox"),
           "PITCH_NO_SAMPLE": "1", "PITCH_API_TOKEN": "s3cret-token"}
    with streamlit_server(tmp, env) as base:
        yield f"{base}/api/v1", tmp
    assert not (tmp / "t.duckdb.app.json").exists()


def test_a_token_is_needed_on_every_call_when_set(token_server) -> None:
    url, tmp = token_server
    good = {"Authorization": "Bearer s3cret-token"}
    for path in ("/health", "/counts", "/files", "/query?sql=SELECT+1", "/files/1"):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}):
            answer = call(url, "GET", path, headers=headers)
            assert answer.status == 401 and answer.headers["WWW-Authenticate"] == "Bearer", path
            assert "bearer token" in answer.json["error"]
    assert ok(call(url, "GET", "/health", headers=good)).json["files"] == 0
    assert upload(url, "x.pitch", BAD_FILE).status == 401
    assert call(url, "DELETE", "/files/1").status == 401
    assert ok(upload(url, "x.pitch", BAD_FILE, headers=good), 201).json["messages"] == 3
    assert ok(call(url, "DELETE", "/files/1", headers=good)).json["deleted"] == 1
    # The documentation is not data: it opens without the token.
    assert ok(call(url, "GET", "/docs")).status == 200
    assert ok(call(url, "GET", "/openapi.json")).json["info"]["title"] == "PITCH Explorer API"
    assert json.loads((tmp / "t.duckdb.app.json").read_text())["token_required"] is True


@pytest.fixture(scope="module")
def wide_server(tmp_path_factory):
    """A server listening on every interface, without a token (briefly, on an empty database)."""
    tmp = tmp_path_factory.mktemp("wide")
    env = {"PITCH_DB": str(tmp / "w.duckdb"), "PITCH_INBOX": str(tmp / "inbox"),
           "PITCH_NO_SAMPLE": "1"}
    with streamlit_server(tmp, env, "--server.address", "0.0.0.0") as base:
        yield f"{base}/api/v1", tmp


def test_beyond_loopback_without_a_token_writes_are_refused(wide_server) -> None:
    url, tmp = wide_server
    assert ok(get(url, "/counts")).json == {"rows": []}
    answer = upload(url, "x.pitch", BAD_FILE)
    assert answer.status == 403 and "PITCH_API_TOKEN is not set" in answer.json["error"]
    assert call(url, "DELETE", "/files/1").status == 403
    assert ok(get(url, "/health")).json["files"] == 0
    record = json.loads((tmp / "w.duckdb.app.json").read_text())
    assert record["host"] == "127.0.0.1" and record["token_required"] is False


# --- in the browser ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    from browser_support import CHROMIUM, FLAGS

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run ./run-tests.sh"
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.mark.browser
def test_the_docs_open_with_no_request_leaving_the_machine(world, browser) -> None:
    page = browser.new_page()
    page.set_default_timeout(60_000)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(f"{world.url}/docs")
    page.wait_for_selector(".swagger-ui .opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert {"/messages", "/files/{file_id}", "/query"} <= {p.strip() for p in paths}
    # Try one call from the page: it goes to /api/v1/health and answers 200.
    page.locator(".opblock-summary", has_text="/health").first.click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    status = page.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip() == "200"
    page.close()
    assert any(u.endswith("/api/v1/docs-static/swagger-ui-bundle.js") for u in asked)
    assert any(u.endswith("/api/v1/openapi.json") for u in asked)
    assert any("/api/v1/health" in u for u in asked)
    from urllib.parse import urlsplit

    away = [u for u in asked if urlsplit(u).hostname != "127.0.0.1" and not u.startswith("data:")]
    assert not away, away


@pytest.mark.browser
def test_a_page_link_opened_first_on_a_fresh_server_shows_the_router(tmp_path, browser) -> None:
    """A shared link to a page, the first request of a new server, goes through the router.

    With the router beside pages/ (Streamlit's old multipage mode until
    st.navigation has run once), this page ran alone: no sidebar totals, the
    file names as the page list.
    """
    env = {"PITCH_DB": str(tmp_path / "fresh.duckdb"), "PITCH_INBOX": str(tmp_path / "inbox"),
           "PITCH_NO_WATCH": "1"}  # the sample loads: the page has data to show
    with streamlit_server(tmp_path, env) as base:
        page = browser.new_page()
        page.set_default_timeout(90_000)
        page.goto(f"{base}/messages?type=A")
        page.wait_for_selector('[data-testid="stSidebar"]')
        page.wait_for_function("() => document.body.innerText.includes('Database')")
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        links = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
        heading = page.locator("h1").first.inner_text()
        assert page.locator('[data-testid="stException"]').count() == 0
        page.close()
    assert "Database" in sidebar and "messages" in sidebar, sidebar
    titles = [link.strip().splitlines()[-1] for link in links]  # after the icon's name
    assert titles == ["Overview", "Messages", "Orders", "Symbols", "Book", "Ingest", "SQL"], links
    assert "Explore" in sidebar and "Data" in sidebar
    assert heading.strip() == "Messages"


# --- the pieces, without a server ------------------------------------------------------------------

@pytest.mark.parametrize("value, shown", [
    (None, None), (True, True), (7, 7), ("x", "x"), (1.5, 1.5), (float("nan"), None),
    (float("inf"), None), (Decimal("61.9200"), "61.9200"), (Decimal("5000"), 5000),
    (Decimal("NaN"), None), (datetime.date(2026, 11, 30), "2026-11-30"),
    (datetime.datetime(2026, 11, 30, 8, 0, tzinfo=datetime.timezone.utc),
     "2026-11-30T08:00:00+00:00"), (b"S\xff\x00", "S\\xff\x00"),
    ([1, float("nan")], [1, None]), ({"a": Decimal("1.50")}, {"a": "1.50"}),
])
def test_json_values(value, shown) -> None:
    assert api_tables.json_value(value) == shown


def test_binary_message_types_by_code_in_any_case() -> None:
    assert [api_params.type_code(t) for t in ("0x22", "0x2a", "0X2A")] == ["0x22", "0x2A", "0x2A"]


@pytest.mark.parametrize("text, code", [("E", "E"), ("d", "d"), ("Order Executed", "E"),
                                        (" A ", "A")])
def test_message_types_by_code_or_name(text, code) -> None:
    assert api_params.type_code(text) == code


@pytest.mark.parametrize("text", ["e", "Z", "0x5A", "0x", "", "order executed"])
def test_unknown_message_types(text) -> None:
    with pytest.raises(api_errors.BadParameter, match="unknown message type"):
        api_params.type_code(text)


@pytest.mark.parametrize("sort, label", [("time", "time"), ("order_id", "order id"),
                                         ("Order Id", "order id"), ("file", "file, line"),
                                         ("file, line", "file, line")])
def test_sort_labels_and_their_url_forms(sort, label) -> None:
    assert api_params.sort_key(sort, queries.MESSAGE_SORTS) == label


@pytest.mark.parametrize("address, loopback", [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("", False), ("0.0.0.0", False), ("::", False), ("10.0.0.5", False),
    ("pitch-box", False)])
def test_what_counts_as_loopback(address, loopback) -> None:
    assert api.is_loopback(address) is loopback


def test_every_error_class_has_its_status() -> None:
    from pitch.errors import DatabaseBusyError, IngestError, QueryRefused
    from pitch.sandbox import QueryTimeout

    cases = {api_errors.NotFound("x"): 404, api_errors.BadParameter("x"): 422,
             api_errors.TooLarge("x"): 413, api_errors.Forbidden("x"): 403,
             api_errors.Unauthorized("x"): 401, DatabaseBusyError("x"): 503,
             IngestError("x"): 400, QueryRefused("x"): 400, QueryTimeout("x"): 400}
    assert {type(e).__name__: api_errors.status_of(e) for e in cases} == \
        {type(e).__name__: s for e, s in cases.items()}


def test_json_rows_write_binary_files_ids_in_decimal() -> None:
    import pandas as pd

    from pitch.ids import FileFeeds

    frame = pd.DataFrame({"file_id": [1, 2], "order_id": pd.array([36, 36], "UInt64")})
    rows = api_tables.json_rows(frame, FileFeeds(binary=frozenset({2}), text=frozenset({1})))
    assert [r["order_id"] for r in rows] == ["000000000010", "36"]


def test_gaps_of_text_files_are_none_and_an_unknown_file_is_404(world) -> None:
    assert ok(get(world.url, "/gaps")).json == {"total": 0, "rows": []}
    assert get(world.url, "/gaps", file=99).status == 404
    assert ok(get(world.url, "/gaps", format="csv")).body == \
        b"file_id,unit,expected_sequence,received_sequence,missing\n"


def test_book_and_bbo_answer_as_the_commands_do(world) -> None:
    from pitch import book

    want = book.exact(book.book_at(world.ref, "SPY", book.parse_time("12:00:00"), 5))
    got = ok(get(world.url, "/book/SPY", at="12:00:00", levels=5)).json
    assert [[r["side"], r["shares"], r["orders"]] for r in got["rows"]] == \
        want[["side", "shares", "orders"]].values.tolist()
    assert [str(r["price"]) for r in got["rows"]] == [str(p) for p in want["price"]]
    csv = ok(get(world.url, "/bbo/SPY", format="csv")).body
    assert csv == book.to_csv(book.bbo(world.ref, "SPY"))
    assert csv.startswith(b"line_no,time_ns,bid_price,bid_shares,ask_price,ask_shares\n")
    full = book.load(world.ref, "SPY")  # the route reads only the live orders: the same
    for at in ("08:00:30", "12:00:00", None):
        query = {"levels": 3, "format": "csv"} | ({"at": at} if at else {})
        assert ok(get(world.url, "/book/SPY", **query)).body == book.to_csv(
            full.levels_at(at and book.parse_time(at), 3))
    assert get(world.url, "/book/NOPE").status == 404
    assert get(world.url, "/book/SPY", at="25:00").status == 422
