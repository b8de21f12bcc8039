"""The Streamlit app driven headless with AppTest (streamlit.testing.v1).

Every page on an empty and on a loaded database, the sample on a fresh one,
uploads (good, bad, too big), the Messages filters and their URL, the SQL
page's refusals and limits, order and symbol drill-downs, clearing.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from urllib.parse import parse_qs
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from app_support import APP, count_line, fresh_caches, start, texts  # noqa: F401
from pitch import ingest, settings, store

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT.parent / "shared" / "pitch_data.txt"
PAGES = ["overview", "messages", "orders", "symbols", "ingest", "sql"]
BAD_FILE = b"S28800011AAK27GA0000DTS000100SH    0000619200Y\nSthis is not a message\n"




@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("PITCH_DB", str(tmp_path / "app.duckdb"))
    monkeypatch.setenv("PITCH_INBOX", str(tmp_path / "inbox"))
    monkeypatch.setenv("PITCH_NO_WATCH", "1")
    monkeypatch.setenv("PITCH_NO_SAMPLE", "1")
    return tmp_path


@pytest.fixture(scope="module")
def loaded_template(tmp_path_factory) -> Path:
    """A database holding the real sample (file 1) and a file with one reject (file 2)."""
    path = tmp_path_factory.mktemp("template") / "loaded.duckdb"
    conn = store.connect(path)
    ingest.ingest_path(conn, SAMPLE)
    ingest.ingest_bytes(conn, BAD_FILE, "bad.pitch")
    conn.close()
    return path


@pytest.fixture
def loaded(env, loaded_template) -> Path:
    shutil.copy(loaded_template, env / "app.duckdb")
    return env


def sidebar_totals(at: AppTest) -> str:
    """The sidebar's totals (drawn by app.py around every page)."""
    return texts(at.sidebar.markdown)


def totals_now() -> str:
    """The sidebar totals a new visitor sees (a fresh run of app.py, same caches)."""
    return sidebar_totals(start())


def test_every_page_renders_on_an_empty_database(env) -> None:
    at = start()
    assert "**0** messages" in sidebar_totals(at)
    for page in PAGES:
        at.switch_page(f"../pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
        if page not in ("ingest", "sql"):
            assert "No data yet" in texts(at.info), page


def test_every_page_renders_on_a_loaded_database(loaded) -> None:
    at = start()
    assert "**20,001** messages" in sidebar_totals(at)
    assert [m.value for m in at.metric][:3] == ["20,001", "2", "288"]
    type_table = at.dataframe[0].value
    assert type_table[["message_type", "count"]].values.tolist()[:2] == [
        ["Add Order (Short)", 10_362], ["Order Cancel", 9_592]]
    for page in PAGES[1:]:
        at.switch_page(f"../pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, texts(at.error))
        assert "**20,001** messages" in sidebar_totals(at), page  # app.py ran around it


def test_fresh_database_opens_on_the_sample(env, monkeypatch) -> None:
    monkeypatch.delenv("PITCH_NO_SAMPLE")
    at = start()
    assert "**50,000** messages" in sidebar_totals(at)
    assert "sample was loaded" in texts(at.toast)
    assert "committed sample" in texts(at.info)
    assert settings.SAMPLE_FILE.exists()


def test_upload_updates_the_counts(env) -> None:
    at = start("ingest")
    at.file_uploader[0].set_value(("pitch_data.txt", SAMPLE.read_bytes(), "text/plain")).run()
    assert not at.exception, at.exception
    assert "pitch_data.txt: 20,000 messages, 0 rejects" in texts(at.success)
    assert "pitch_data.txt" in at.dataframe[0].value["name"].tolist()
    assert "**20,000** messages" in sidebar_totals(at)  # this session, right away
    assert "**20,000** messages" in totals_now()  # and a new visitor
    at.switch_page("../pages/overview.py").run()
    assert at.metric[0].value == "20,000"
    # The same file again adds nothing, and says so.
    at.switch_page("../pages/ingest.py").run()
    at.file_uploader[0].set_value(("copy.txt", SAMPLE.read_bytes(), "text/plain")).run()
    assert "already ingested" in texts(at.info)
    assert "**20,000** messages" in totals_now()


@pytest.mark.parametrize("name, data, message", [
    ("notes.txt", b"hello\nworld\n", "not a PITCH file"),
    ("empty.txt", b"", "file is empty"),
    ("broken.gz", b"\x1f\x8b\x08\x00garbage", "cannot read"),
])
def test_bad_upload_is_explained_and_changes_nothing(env, name, data, message) -> None:
    at = start("ingest")
    at.file_uploader[0].set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, at.exception
    assert message in texts(at.error) and "nothing was loaded" in texts(at.error)
    assert "**0** messages  \n**0** files" in totals_now()


def test_too_big_upload_is_refused(env, monkeypatch) -> None:
    old = st_config.get_option("server.maxUploadSize")
    st_config.set_option("server.maxUploadSize", 1)
    try:
        at = start("ingest")
        assert "**1 MB per file**" in texts(at.caption)
        at.file_uploader[0].set_value(("big.txt", SAMPLE.read_bytes() * 2, "text/plain")).run()
        assert "over the 1 MB upload limit" in texts(at.error)
        assert "**0** files" in totals_now()
    finally:
        st_config.set_option("server.maxUploadSize", old)


def test_upload_limit_comes_from_the_config_file() -> None:
    text = (ROOT / ".streamlit" / "config.toml").read_text()
    assert "maxUploadSize = 200" in text


def test_the_toolbar_shows_no_deploy_button() -> None:
    # "viewer" hides the developer options (Deploy, rerun, clear cache), keeps print and theme.
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] == "viewer"
    # And Streamlit, started here as `streamlit run` is, takes it from that file.
    assert st_config.get_option("client.toolbarMode") == "viewer"
    assert st_config.get_where_defined("client.toolbarMode") == \
        str(ROOT / ".streamlit" / "config.toml")


def test_message_filters_change_the_table(loaded) -> None:
    at = start("messages")
    assert count_line(at) == "All messages: **20,001**"
    assert len(at.dataframe[0].value) == 50
    at.multiselect(key="type").set_value(["P"]).run()  # shown as "Trade (Short)"
    assert count_line(at) == "Trade (Short) messages: **27**"
    assert at.query_params["type"] == "P"  # the URL holds codes, not names
    table = at.dataframe[0].value
    assert len(table) == 27 and set(table["type"]) == {"P"}
    at.segmented_control(key="side").set_value("Buy").run()
    buys = int(count_line(at).split("**")[1])
    assert 0 < buys < 27 and set(at.dataframe[0].value["side"]) == {"B"}
    at.segmented_control(key="side").set_value(None).run()
    at.multiselect(key="type").set_value([]).run()
    assert "type" not in at.query_params
    at.text_input(key="from").set_value("08:00:00").run()
    at.text_input(key="to").set_value("08:00:00.100").run()
    window = at.dataframe[0].value
    assert count_line(at).startswith("All messages between 08:00:00.000 and 08:00:00.100")
    assert window["time"].between("08:00:00.000", "08:00:00.100").all()
    at.text_input(key="to").set_value("8 o'clock").run()
    assert "is not HH:MM:SS.mmm" in texts(at.error)


def test_order_id_filter_is_base36_as_in_the_file(loaded) -> None:
    at = start("messages", order="ak27ga0000dt")  # typed lower case, no matter
    # Its add and cancel in the real sample, and the add in bad.pitch.
    assert count_line(at).endswith("of order AK27GA0000DT: **3**")
    assert at.dataframe[0].value["order_id"].tolist() == ["AK27GA0000DT"] * 3


def test_url_reproduces_a_messages_view(loaded) -> None:
    at = start("messages", type=["E", "P"], sort="shares", desc="true", page="2")
    assert count_line(at) == "Order Executed, Trade (Short) messages: **47**"
    assert at.multiselect(key="type").value == ["E", "P"]
    at = start("messages", type=["E"], sort="shares", desc="true", page="2")
    assert count_line(at) == "Order Executed messages: **20**"
    assert "Page 1 of 1" in texts(at.caption)  # page 2 of a 1-page answer falls back to 1
    shares = at.dataframe[0].value["shares"].tolist()
    assert shares == sorted(shares, reverse=True)


def column_types(table) -> dict[str, tuple[str, str | None]]:
    """A shown table's column types and number formats, as sent to the browser."""
    columns = json.loads(table.proto.columns)
    return {name: (c["type_config"]["type"], c["type_config"].get("format"))
            for name, c in columns.items() if "type_config" in c}


def test_messages_table_sorts_numbers_as_numbers(loaded) -> None:
    at = start("messages", sort="shares", desc="true")
    table = at.dataframe[0]
    frame = table.value
    assert pd.api.types.is_integer_dtype(frame["shares"])  # not "1,000" as text
    assert pd.api.types.is_float_dtype(frame["price"])
    types = column_types(table)
    assert types["shares"] == ("number", "%,d") and types["line_no"] == ("number", "%,d")
    assert types["price"] == ("number", "%,.4f")  # 1,234.5600
    assert types["order_id"] == ("text", None) and types["time"] == ("text", None)
    # A missing number is an empty cell, not "None".
    assert table.proto.HasField("placeholder") and table.proto.placeholder == ""
    assert all(isinstance(v, str) and len(v) == 12 for v in frame["order_id"])  # as in the file
    # The largest number of shares first, numerically: 1000 above 41 and 100.
    assert frame["shares"].tolist() == sorted(frame["shares"].tolist(), reverse=True)


def test_paging_and_sorting(loaded) -> None:
    at = start("messages")
    first_page = at.dataframe[0].value["line_no"].tolist()
    at.pagination(key="page").set_value(3).run()
    assert "Page 3 of 401" in texts(at.caption)
    assert at.dataframe[0].value["line_no"].tolist() != first_page
    at.number_input(key="goto").set_value(401).run()  # far beyond the visible page buttons
    assert "Page 401 of 401 · rows 20,001–20,001" in texts(at.caption)
    assert at.dataframe[0].value["line_no"].tolist() == [20_000]  # the latest message
    at.selectbox(key="sort").set_value("shares").run()
    at.toggle(key="desc").set_value(True).run()
    shares = at.dataframe[0].value["shares"].fillna(0).tolist()
    assert shares == sorted(shares, reverse=True)
    assert "Page 1 of 401" in texts(at.caption)  # a new order starts at its first page


def test_sql_refuses_a_write_and_says_when_the_row_limit_cuts(loaded) -> None:
    at = start("sql")
    at.text_area(key="sql").set_value("DELETE FROM messages").run()
    assert not at.exception and at.error, "a write must be refused on screen"
    assert "DELETE" in texts(at.error) or "SELECT" in texts(at.error)
    assert "**20,001** messages" in totals_now()  # nothing was deleted
    at.text_area(key="sql").set_value("SELECT * FROM messages ORDER BY file_id, line_no").run()
    at.number_input(key="rows").set_value(100).run()
    assert "cut at the row limit" in texts(at.warning)
    assert "first 100 rows" in texts(at.warning)
    assert len(at.dataframe[0].value) == 100
    assert at.dataframe[0].value["order_id"].iloc[0] == "AK27GA0000DT"  # ids shown as in the file
    at.text_area(key="sql").set_value("SELECT count(*) AS n FROM messages").run()
    assert not at.warning and at.dataframe[0].value["n"].tolist() == [20_001]


def test_sql_time_limit_is_shown_when_it_stops_a_query(loaded) -> None:
    at = start("sql", seconds="1")
    at.text_area(key="sql").set_value(
        "SELECT count(*) FROM range(100000000) a, range(100000) b WHERE a.range + b.range = 7"
    ).run(timeout=30)
    assert "time limit stopped it" in texts(at.warning)


def test_sql_examples_fill_the_editor(loaded) -> None:
    at = start("sql")
    at.selectbox(key="example").set_value("Top 10 symbols by executed shares").run()
    assert at.text_area(key="sql").value.startswith("SELECT symbol, sum(shares)")
    assert at.dataframe[0].value["symbol"].iloc[0] == "OIH"
    assert "messages" in [e.label for e in at.expander]  # the schema beside the editor


def test_orders_page_opens_one_order_lifecycle(loaded) -> None:
    at = start("orders", order="AK27GA0000DT", file="1")
    assert count_line(at).endswith("with id AK27GA0000DT in file pitch_data.txt: **1**")
    assert "Order AK27GA0000DT: sell 100 SH @ 61.9200" in texts(at.subheader)
    lifecycle = at.dataframe[0].value  # shown above the orders table
    assert lifecycle[["event", "shares", "remaining_shares"]].values.tolist() == [
        ["add", 100, 100], ["cancelled", 100, 0]]
    # The add is not an event: the metric and the table's events column say 1 (the cancel).
    assert {m.label: m.value for m in at.metric}["Events"] == "1"
    assert at.dataframe[1].value["events"].tolist() == [1]
    at.pills(key="status").set_value(["open"]).run()
    assert count_line(at).startswith("Open orders with id")
    assert "**0**" in count_line(at)


def test_orders_filters(loaded) -> None:
    at = start("orders", symbols=["SPY"], side="Buy", status=["open"])
    assert count_line(at) == "Open buy orders for SPY: **37**"
    table = at.dataframe[0].value
    assert len(table) == 37 and set(table["symbol"]) == {"SPY"}
    assert set(table["status"]) == {"open"} and set(table["side"]) == {"B"}
    at.pills(key="status").set_value(["open", "cancelled"]).run()
    assert count_line(at) == "Open or cancelled buy orders for SPY: **857**"
    assert "Page 1 of 18" in texts(at.caption)


def test_symbols_page_for_one_symbol(loaded) -> None:
    at = start("symbols", symbol="SPY")
    values = {m.label: m.value for m in at.metric}
    assert values["Trades"] == "4" and values["Executed shares"] == "2,000"
    assert values["VWAP"] == "142.5500"
    assert "SPY: orders" in texts(at.subheader)
    assert set(at.dataframe[0].value["symbol"]) == {"SPY"}
    at.slider(key="top").set_value(5).run()
    assert not at.exception


def test_ingest_page_lists_files_and_rejects(loaded) -> None:
    at = start("ingest")
    files = at.dataframe[0].value
    assert files[["name", "messages", "rejects"]].values.tolist() == [
        ["bad.pitch", 1, 1], ["pitch_data.txt", 20_000, 0]]
    rejects = at.dataframe[1].value
    assert rejects[["line_no", "raw"]].values.tolist() == [[2, "Sthis is not a message"]]
    assert "CSV of all 1 rejects" in [b.label for b in at.get("download_button")]
    assert "Folder watching is off" in texts(at.caption)


def test_clear_the_database_after_confirmation(loaded) -> None:
    at = start("ingest")
    clear = next(b for b in at.button if b.label == "Clear the database")
    assert clear.disabled  # nothing happens without the confirmation
    at.checkbox(key="confirm_clear").check().run()
    next(b for b in at.button if b.label == "Clear the database").click().run()
    assert "The database is empty." in texts(at.success)
    assert "**0** messages" in totals_now()


def select_row(at: AppTest, key: str, row: int) -> AppTest:
    """Pick one row of a selectable table, and run."""
    at.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception
    return at


def follow(at: AppTest, label_start: str) -> AppTest:
    """Click the link whose label starts with ``label_start``: its page at its URL, run.

    (AppTest cannot click a link; a browser opens the page with exactly the
    query string the link carries, which is what this does.)
    """
    link = next(e.proto for e in at.get("page_link") if e.proto.label.startswith(label_start))
    at.query_params.clear()
    at.query_params.update(parse_qs(link.query_string))
    at.switch_page(f"../pages/{link.page}.py").run()
    assert not at.exception, at.exception
    return at


def test_drill_downs_travel_in_the_url(loaded) -> None:
    """Messages -> Orders -> Messages -> Symbols -> Orders by links: each target's URL
    holds exactly its filters (nothing follows from the page left), and its widgets show them."""
    at = start("symbols", symbol="SPY")  # a symbol chosen earlier must not win over a link
    at.query_params.clear()
    at.query_params.update(order="AK27GA0000DT", file="2", side="Sell", sort="shares")
    at.switch_page("../pages/messages.py").run()
    assert count_line(at) == "All messages on the sell side of order AK27GA0000DT in file " \
                             "bad.pitch: **1**"
    follow(select_row(at, "message_rows", 0), "Order AK27GA0000DT lifecycle")
    assert at.query_params == {"order": "AK27GA0000DT", "file": "2"}
    assert count_line(at) == "All orders with id AK27GA0000DT in file bad.pitch: **1**"
    assert "Order AK27GA0000DT: sell 100 SH @ 61.9200" in texts(at.subheader)
    assert at.text_input(key="order").value == "AK27GA0000DT"
    assert at.selectbox(key="file").value == 2
    assert at.segmented_control(key="side").value is None
    assert at.selectbox(key="sort").value == "time"
    follow(at, "Its messages")
    assert at.query_params == {"order": "AK27GA0000DT", "file": "2"}
    assert count_line(at) == "All messages of order AK27GA0000DT in file bad.pitch: **1**"
    follow(select_row(at, "message_rows", 0), "Symbol SH")
    assert at.query_params == {"symbol": "SH"}
    assert at.selectbox(key="symbol").value == "SH" and "SH: orders" in texts(at.subheader)
    follow(at, "Open in Orders")
    assert at.query_params == {"symbols": "SH"}
    assert count_line(at).startswith("All orders for SH: **")
    assert at.multiselect(key="symbols").value == ["SH"]


def test_its_messages_are_all_of_them_whatever_the_orders_filters(loaded) -> None:
    # A symbol filter on Orders must not follow onto Messages: executions and cancels
    # carry no symbol, so "Its messages" would show the add alone.
    at = start("orders", symbols=["SH"], order="AK27GA0000DT", file="1")
    assert "Order AK27GA0000DT" in texts(at.subheader)
    follow(at, "Its messages")
    assert at.query_params == {"order": "AK27GA0000DT", "file": "1"}
    assert count_line(at) == "All messages of order AK27GA0000DT in file pitch_data.txt: **2**"
    assert at.multiselect(key="symbols").value == []


def test_every_message_of_an_order_clears_the_other_filters(loaded) -> None:
    at = start("messages", order="AK27GA0000DT", side="Sell", type=["A"], page="1",
               **{"from": "08:00"})
    assert count_line(at).startswith("Add Order (Short) messages on the sell side of order")
    select_row(at, "message_rows", 1)  # the add in bad.pitch (rows in time order)
    assert "bad.pitch" in at.subheader[0].value, at.subheader[0].value
    follow(at, "Every message of order AK27GA0000DT")
    assert at.query_params == {"order": "AK27GA0000DT", "file": "2"}
    assert count_line(at) == "All messages of order AK27GA0000DT in file bad.pitch: **1**"
    assert at.segmented_control(key="side").value is None and at.text_input(key="from").value == ""
    assert at.multiselect(key="type").value == []


def test_overview_opens_messages_of_one_type_by_code(loaded) -> None:
    at = select_row(start(), "type_table", 2)  # the third most frequent: Trade (Short), 27
    assert at.query_params == {"type": "P"}
    assert count_line(at) == "Trade (Short) messages: **27**"
    assert at.multiselect(key="type").value == ["P"]


@pytest.mark.parametrize("query, shown, warning", [
    ({"type": ["P", "Z"]}, "Trade (Short) messages: **27**", "No message type has the code 'Z'"),
    ({"file": "9"}, "All messages: **20,001**", "There is no file '9'"),
    ({"file": "1: pitch_data.txt"}, "All messages in file pitch_data.txt: **20,000**", None),
    ({"side": "Both", "page": "999"}, "All messages: **20,001**", None),
])
def test_odd_links_are_read_as_well_as_they_can_be(loaded, query, shown, warning) -> None:
    at = start("messages", **query)
    assert count_line(at) == shown
    assert (warning in texts(at.warning)) if warning else not at.warning


def test_one_connection_per_process_survives_clear_caches(env, monkeypatch) -> None:
    from pitch import ui

    conn = ui.connection()
    st.cache_resource.clear()  # what the app menu's "Clear caches" does
    st.cache_data.clear()
    assert ui.connection() is conn  # the watcher's thread may be using it
    monkeypatch.setenv("PITCH_DB", str(env / "other.duckdb"))
    other = ui.connection()
    assert other is not conn
    with pytest.raises(Exception):
        conn.execute("SELECT 1")  # the old file was closed, so it can be opened again


def test_the_sidebar_watches_the_version_its_totals_came_from(monkeypatch) -> None:
    """A file that lands between the sidebar's reads must still make the page rerun.

    Reading the version twice (once for the totals, once for the watch) let the
    watch start from the new version while the old totals stayed on screen.
    """
    from pitch import runtime, ui

    versions = iter([(1, 1, 10, 0)] + [(2, 2, 30, 0)] * 10)  # a file lands after the first read
    used: dict[str, tuple] = {}

    def cached(name, version, args, kwargs):
        used[name.rpartition(".")[2]] = version
        return {"messages": 10, "files": 1, "rejects": 0}
    monkeypatch.setattr(runtime, "data_version", lambda: next(versions))
    monkeypatch.setattr(runtime, "_cached", cached)
    monkeypatch.setattr(ui, "_watch_for_new_data", lambda seen: used.setdefault("watch", seen))
    ui.sidebar(None)  # bare mode: no page, the elements go nowhere
    assert used == {"totals": (1, 1, 10, 0), "watch": (1, 1, 10, 0)}
