"""How many people can browse while a big file ingests?

Runs the scenario of tests/test_many_users.py with other sizes: a
`streamlit run app.py` server with the folder watcher on, the real sample
first, then a generated file of --messages renamed into the inbox while
--sessions browser sessions (one headless chromium, Playwright's async API)
each go --rounds times through every page. Every check of the test applies
(no exception, error box or lock error; every number is the state before the
file or after it; the views that ended before the commit saw the old state).
Prints how long page views took and the one-line summary the README quotes.

Run:  .venv/bin/python benchmarks/bench_users.py [--sessions 20] [--rounds 2]
      [--messages 1000000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_many_users import BIG, ROUNDS, SESSIONS, many_users  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--messages", type=int, default=BIG, help="messages in the big file")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-users-"))
    try:
        print(many_users(tmp, args.sessions, args.rounds, args.messages))
    except AssertionError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
