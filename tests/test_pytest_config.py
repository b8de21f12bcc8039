"""The slow marker: registered, on the long tests, and never deselected by default.

``pytest -m "not slow"`` is the quick loop; CI (``.ci/run`` -> ``./run-tests.sh``)
and a bare ``pytest`` run everything.
"""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import test_crash
import test_many_users
import test_watch

ROOT = Path(__file__).resolve().parent.parent


def _marks(obj) -> set[str]:
    marks = getattr(obj, "pytestmark", [])
    return {m.name for m in (marks if isinstance(marks, list) else [marks])}


def test_slow_is_registered_and_the_default_run_selects_everything() -> None:
    ini = configparser.ConfigParser()
    ini.read(ROOT / "pytest.ini")
    assert any(line.strip().startswith("slow:") for line in ini["pytest"]["markers"].splitlines())
    assert "-m" not in ini["pytest"]["addopts"].split()
    # CI runs run-tests.sh without arguments: the solo scenario, then everything else;
    # arguments go to one plain pytest run.
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("exec bash ./run-tests.sh")
    script = (ROOT / "run-tests.sh").read_text()
    assert 'exec .venv/bin/python -m pytest "$@"' in script
    phases = [shlex.split(ln) for ln in script.splitlines()
              if ln.startswith(".venv/bin/python -m pytest")]
    marks = [words[words.index("-m", words.index("pytest")) + 1] for words in phases]
    assert marks == ["solo", "not solo"], phases  # together: every test, each once


def test_the_long_tests_are_marked_slow() -> None:
    assert "slow" in _marks(test_crash) and "slow" in _marks(test_many_users)
    for name in ("test_stop_mid_ingest_leaves_the_file_and_the_next_start_takes_it_whole",
                 "test_a_big_file_appended_while_the_watcher_ingests_it_lands_whole_once",
                 "test_cli_says_in_one_line_when_the_database_is_held",
                 "test_cli_prints_one_line_per_file_and_stops_on_ctrl_c"):
        assert "slow" in _marks(getattr(test_watch, name)), name
