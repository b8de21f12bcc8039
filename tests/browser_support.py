"""Shared by the browser tests: Debian's chromium and a real `streamlit run app.py`."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env() -> dict[str, str]:
    """This process's environment without any PITCH_ setting (the test gives its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PITCH_")}


@contextlib.contextmanager
def streamlit_server(tmp: Path, env: dict[str, str], *args: str) -> Iterator[str]:
    """`streamlit run app.py` on a free local port; yields its URL, stops it at the end."""
    port = free_port()
    log_path = tmp / f"server-{port}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false", *args],
            cwd=ROOT, env={**clean_env(), **env}, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 60
            while True:
                try:
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"streamlit did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    lines = log_path.read_text().splitlines()
    problems = sorted({ln for ln in lines if re.search(r"Exception|Error|Conflicting lock", ln)})
    assert not problems, f"{sum('Traceback' in ln for ln in lines)} tracebacks in the server " \
        "log:\n" + "\n".join(problems[:20])
