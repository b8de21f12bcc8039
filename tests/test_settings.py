"""Every PITCH_* setting is read and checked in one place; a bad one is one line, everywhere.

A table of environments and what :func:`pitch.settings.load` makes of them,
then the three faces: the command line (exit 2, one line, no traceback), the
app (an error box) and the SQL page's row-limit input.
"""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pitch import queries, settings
from pitch.cli import main
from pitch.settings import Settings, SettingsError, load

ROOT = Path(__file__).resolve().parent.parent

WHOLE = "must be a whole number of at least 1"
SECONDS_POSITIVE = "must be a number of seconds more than 0"
FLAG = "must be 1 (on) or 0 (off)"
SIZE = "must be a size such as 1GB, 512MB, 2GiB or 50%"

# (environment, the fields it sets) -- each value as the README promises it.
GOOD = [
    ({}, {}),
    ({"PITCH_SQL_ROW_LIMIT": "25"}, {"sql_row_limit": 25}),
    ({"PITCH_SQL_ROW_LIMIT": " 25 "}, {"sql_row_limit": 25}),
    ({"PITCH_SQL_ROW_LIMIT": ""}, {}),  # empty counts as unset
    ({"PITCH_SQL_TIMEOUT": "0.5"}, {"sql_timeout": 0.5}),
    ({"PITCH_SQL_MAX_ROWS": "500", "PITCH_SQL_EXPORT_ROWS": "3"},
     {"sql_max_rows": 500, "sql_export_rows": 3}),
    ({"PITCH_SQL_MAX_SECONDS": "1"}, {"sql_max_seconds": 1.0}),
    ({"PITCH_WATCH_STABLE_SECONDS": "0"}, {"watch_stable_seconds": 0.0}),
    ({"PITCH_WATCH_POLLING": "1", "PITCH_NO_SAMPLE": "1", "PITCH_NO_WATCH": "0"},
     {"watch_polling": True, "no_sample": True, "no_watch": False}),
    ({"PITCH_THREADS": "2"}, {"threads": 2}),
    ({"PITCH_MEMORY_LIMIT": "512MB"}, {"memory_limit": "512MB"}),
    ({"PITCH_MEMORY_LIMIT": "1.5 GiB"}, {"memory_limit": "1.5 GiB"}),
    ({"PITCH_MEMORY_LIMIT": "50%"}, {"memory_limit": "50%"}),
    ({"PITCH_DB": "/x/y.duckdb", "PITCH_INBOX": "drop"},
     {"db": Path("/x/y.duckdb"), "inbox": Path("drop")}),
]

BAD = [
    ({"PITCH_SQL_ROW_LIMIT": "0"}, f"PITCH_SQL_ROW_LIMIT=0: {WHOLE}"),
    ({"PITCH_SQL_ROW_LIMIT": "abc"}, f"PITCH_SQL_ROW_LIMIT=abc: {WHOLE}"),
    ({"PITCH_SQL_ROW_LIMIT": "-5"}, f"PITCH_SQL_ROW_LIMIT=-5: {WHOLE}"),
    ({"PITCH_SQL_ROW_LIMIT": "2.5"}, f"PITCH_SQL_ROW_LIMIT=2.5: {WHOLE}"),
    ({"PITCH_SQL_MAX_ROWS": "0"}, f"PITCH_SQL_MAX_ROWS=0: {WHOLE}"),
    ({"PITCH_SQL_EXPORT_ROWS": "1e6"}, f"PITCH_SQL_EXPORT_ROWS=1e6: {WHOLE}"),
    ({"PITCH_SQL_TIMEOUT": "0"}, f"PITCH_SQL_TIMEOUT=0: {SECONDS_POSITIVE}"),
    ({"PITCH_SQL_TIMEOUT": "nan"}, f"PITCH_SQL_TIMEOUT=nan: {SECONDS_POSITIVE}"),
    ({"PITCH_SQL_TIMEOUT": "inf"}, f"PITCH_SQL_TIMEOUT=inf: {SECONDS_POSITIVE}"),
    ({"PITCH_SQL_TIMEOUT": "ten"}, f"PITCH_SQL_TIMEOUT=ten: {SECONDS_POSITIVE}"),
    ({"PITCH_SQL_MAX_SECONDS": "0.5"},
     "PITCH_SQL_MAX_SECONDS=0.5: must be a number of seconds at least 1"),
    ({"PITCH_WATCH_STABLE_SECONDS": "-1"},
     "PITCH_WATCH_STABLE_SECONDS=-1: must be a number of seconds at least 0"),
    ({"PITCH_WATCH_POLLING": "yes"}, f"PITCH_WATCH_POLLING=yes: {FLAG}"),
    ({"PITCH_NO_SAMPLE": "true"}, f"PITCH_NO_SAMPLE=true: {FLAG}"),
    ({"PITCH_NO_WATCH": "2"}, f"PITCH_NO_WATCH=2: {FLAG}"),
    ({"PITCH_THREADS": "0"}, f"PITCH_THREADS=0: {WHOLE}"),
    ({"PITCH_MEMORY_LIMIT": "lots"}, f"PITCH_MEMORY_LIMIT=lots: {SIZE}"),
    ({"PITCH_MEMORY_LIMIT": "100"}, f"PITCH_MEMORY_LIMIT=100: {SIZE}"),
    ({"PITCH_MEMORY_LIMIT": "0GB"}, f"PITCH_MEMORY_LIMIT=0GB: {SIZE}"),
    ({"PITCH_MEMORY_LIMIT": "150%"}, f"PITCH_MEMORY_LIMIT=150%: {SIZE}"),
    # one line, whatever the value holds
    ({"PITCH_SQL_ROW_LIMIT": "1\n2"}, f"PITCH_SQL_ROW_LIMIT=1\\n2: {WHOLE}"),
    ({"PITCH_SQL_ROW_LIMIT": "x" * 80}, f"PITCH_SQL_ROW_LIMIT={'x' * 59}\u2026: {WHOLE}"),
    ({"PITCH_THREADS": "9" * 12}, f"PITCH_THREADS={'9' * 12}: must be a whole number of at "
                                  f"most 2,147,483,647"),
    # the first bad one, in the README's order, is the one named
    ({"PITCH_THREADS": "x", "PITCH_SQL_ROW_LIMIT": "0"}, f"PITCH_SQL_ROW_LIMIT=0: {WHOLE}"),
]


@pytest.mark.parametrize("environ, fields", GOOD, ids=[str(e) for e, _ in GOOD])
def test_good_values(environ, fields) -> None:
    assert load(environ) == dataclasses.replace(Settings(), **fields)


@pytest.mark.parametrize("environ, message", BAD, ids=[str(e) for e, _ in BAD])
def test_bad_values_are_one_line_naming_the_setting_and_the_value(environ, message) -> None:
    with pytest.raises(SettingsError) as caught:
        load(environ)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_the_object_is_frozen_and_names_every_variable_the_code_reads() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().sql_row_limit = 0  # type: ignore[misc]
    assert set(settings.VARIABLES) == {
        "PITCH_DB", "PITCH_INBOX", "PITCH_SQL_ROW_LIMIT", "PITCH_SQL_MAX_ROWS",
        "PITCH_SQL_EXPORT_ROWS", "PITCH_SQL_TIMEOUT", "PITCH_SQL_MAX_SECONDS",
        "PITCH_WATCH_POLLING", "PITCH_WATCH_STABLE_SECONDS", "PITCH_NO_SAMPLE", "PITCH_NO_WATCH",
        "PITCH_THREADS", "PITCH_MEMORY_LIMIT", "PITCH_API_TOKEN", "PITCH_ARCHIVE"}


def test_every_pitch_variable_in_the_code_is_a_setting() -> None:
    """A ``PITCH_*`` name read anywhere in pitch/, pages/ or app.py must be declared here."""
    import re

    found: set[str] = set()
    for path in [ROOT / "app.py", *(ROOT / "pitch").glob("*.py"), *(ROOT / "pages").glob("*.py")]:
        found |= set(re.findall(r"\bPITCH_[A-Z_]+\b", path.read_text()))
    assert found - set(settings.VARIABLES) == set()


def test_upload_limit_comes_from_streamlits_config(tmp_path) -> None:
    config = tmp_path / "config.toml"
    assert load({}, config).upload_mb == settings.STREAMLIT_UPLOAD_MB  # no file: Streamlit's own
    config.write_text("[server]\nmaxUploadSize = 50\n")
    assert load({}, config).upload_mb == 50
    config.write_text("[server]\nmaxUploadSize = 0\n")
    with pytest.raises(SettingsError, match=f"^config.toml server.maxUploadSize=0: {WHOLE}$"):
        load({}, config)
    assert load({}).upload_mb == 200  # the committed .streamlit/config.toml


def test_current_is_loaded_once_per_environment_and_accessors_read_it(monkeypatch) -> None:
    monkeypatch.setenv("PITCH_SQL_ROW_LIMIT", "7")
    first = settings.current()
    assert first is settings.current() and settings.sql_row_limit() == 7
    monkeypatch.setenv("PITCH_SQL_ROW_LIMIT", "0")
    with pytest.raises(SettingsError, match=f"^PITCH_SQL_ROW_LIMIT=0: {WHOLE}$"):
        settings.sql_row_limit()
    assert settings.problem() == f"PITCH_SQL_ROW_LIMIT=0: {WHOLE}"
    monkeypatch.setenv("PITCH_SQL_ROW_LIMIT", "9")
    assert settings.problem() is None
    assert (settings.sql_row_limit(), settings.sql_timeout(), settings.watch_stable_seconds(),
            settings.inbox_dir()) == (9, 10.0, 2.0, Path("data") / "inbox")


def test_limits_used_elsewhere_match_the_settings() -> None:
    """Until every module reads these from the settings, they must at least agree."""
    s = Settings()
    assert queries.PAGE_SIZE == s.page_size
    assert inspect.signature(queries.symbol_trades).parameters["limit"].default == s.trade_points


# -- the command line: exit 2, one line, no traceback ------------------------------------------

@pytest.mark.parametrize("name, value, argv", [
    ("PITCH_SQL_ROW_LIMIT", "0", ["query", "SELECT 1"]),
    ("PITCH_SQL_ROW_LIMIT", "abc", ["query", "SELECT 1"]),
    ("PITCH_SQL_TIMEOUT", "-1", ["query", "SELECT 1"]),
    ("PITCH_MEMORY_LIMIT", "lots", ["counts"]),
    ("PITCH_THREADS", "many", ["files"]),
    ("PITCH_NO_WATCH", "yes", ["generate", "x.pitch", "--messages", "1"]),
])
def test_cli_bad_setting_is_exit_2_and_one_line(monkeypatch, tmp_path, capsys, name, value,
                                                argv) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as expected:
        load({name: value})
    code = main(["--db", str(tmp_path / "t.duckdb"), *argv])
    out, err = capsys.readouterr()
    assert (code, out, err) == (2, "", f"error: {expected.value}\n")
    assert err.startswith(f"error: {name}={value}: ")
    assert not (tmp_path / "t.duckdb").exists() and not (tmp_path / "x.pitch").exists()


def test_cli_bad_setting_in_a_real_process(tmp_path) -> None:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "PITCH_SQL_ROW_LIMIT": "0"}
    done = subprocess.run([sys.executable, "-m", "pitch", "--db", "t.duckdb", "query", "SELECT 1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"error: PITCH_SQL_ROW_LIMIT=0: {WHOLE}\n"


# -- the app: an error box; the SQL page's row limit never 0 -----------------------------------

@pytest.fixture
def app_env(tmp_path, monkeypatch):
    st.cache_data.clear()
    st.cache_resource.clear()
    monkeypatch.setenv("PITCH_DB", str(tmp_path / "app.duckdb"))
    monkeypatch.setenv("PITCH_INBOX", str(tmp_path / "inbox"))
    monkeypatch.setenv("PITCH_NO_WATCH", "1")
    monkeypatch.setenv("PITCH_NO_SAMPLE", "1")
    yield monkeypatch
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.mark.parametrize("page", [None, "sql"])
def test_app_shows_a_bad_setting_in_an_error_box(app_env, page) -> None:
    app_env.setenv("PITCH_SQL_ROW_LIMIT", "0")
    at = AppTest.from_file(str(ROOT / "explorer" / "router.py"), default_timeout=30)
    at.run()
    if page:
        at.switch_page(f"../pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == [f"PITCH_SQL_ROW_LIMIT=0: {WHOLE}"]


def test_sql_page_row_limit_is_never_below_1(app_env) -> None:
    app_env.setenv("PITCH_SQL_MAX_ROWS", "500")
    at = AppTest.from_file(str(ROOT / "explorer" / "router.py"), default_timeout=30)
    at.run()
    at.query_params.update(rows="0", sql="SELECT 1 AS x")
    at.switch_page("../pages/sql.py").run()
    assert not at.exception, [e.value for e in at.exception]
    rows = at.number_input(key="rows")
    assert (rows.min, rows.max, rows.value) == (1, 500, 500)  # default 10,000 capped by the max
    rows.set_value(0).run()
    assert not at.exception and at.number_input(key="rows").value >= 1
