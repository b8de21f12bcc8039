"""The Dockerfile cannot be built here (no Docker engine), so its promises are read from it."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return out


@pytest.fixture(scope="module")
def docker() -> list[tuple[str, str]]:
    return instructions((ROOT / "Dockerfile").read_text())


def args_of(docker, name: str) -> list[str]:
    return [rest for word, rest in docker if word == name]


def exec_form(rest: str) -> list[str]:
    """A JSON exec-form argument list (what CMD and HEALTHCHECK CMD must use)."""
    value = json.loads(rest)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


def test_base_image_is_python_311_slim(docker):
    assert docker[0] == ("FROM", "python:3.11-slim")


def test_requirements_are_installed_from_the_file(docker):
    assert any("requirements.txt" in rest.split() for rest in args_of(docker, "COPY"))
    assert any(re.search(r"pip install .*-r requirements\.txt", rest) for rest in args_of(docker, "RUN"))


def test_runs_as_a_non_root_user(docker):
    users = args_of(docker, "USER")
    assert users, "no USER instruction"
    assert users[-1] not in ("root", "0", "0:0")
    created = " ".join(args_of(docker, "RUN"))
    assert re.search(rf"useradd\b.*\b{re.escape(users[-1])}\b", created)
    # USER comes after every RUN: nothing at run time needs root.
    last_user = max(i for i, (w, _) in enumerate(docker) if w == "USER")
    assert all(i < last_user for i, (w, _) in enumerate(docker) if w == "RUN")


def test_data_lives_on_the_volume(docker):
    volumes = [v for rest in args_of(docker, "VOLUME") for v in
               (json.loads(rest) if rest.startswith("[") else rest.split())]
    assert "/data" in volumes
    env = dict(pair.split("=", 1) for rest in args_of(docker, "ENV") for pair in shlex.split(rest))
    assert env["PITCH_DB"].startswith("/data/") and env["PITCH_INBOX"].startswith("/data/")
    assert re.search(r"chown\b.*pitch.* /data\b", " ".join(args_of(docker, "RUN")))


def test_exposes_8501_and_runs_the_readme_command(docker):
    assert "8501" in " ".join(args_of(docker, "EXPOSE")).split()
    cmd = exec_form(args_of(docker, "CMD")[-1])
    assert cmd[cmd.index("streamlit"):cmd.index("streamlit") + 3] == ["streamlit", "run", "app.py"]
    assert cmd[cmd.index("--server.address") + 1] == "0.0.0.0"
    assert cmd[cmd.index("--server.port") + 1] == "8501"
    assert "streamlit run app.py" in (ROOT / "README.md").read_text()
    assert (ROOT / "app.py").exists() and (ROOT / "requirements.txt").exists()


def test_healthcheck_asks_streamlit_health_with_python(docker):
    (rest,) = args_of(docker, "HEALTHCHECK")
    assert "curl" not in rest and "wget" not in rest
    cmd = exec_form(rest[rest.index("CMD") + 3:].strip())
    assert cmd[:2] == ["python", "-c"]
    assert "http://127.0.0.1:8501/_stcore/health" in cmd[2]
    compile(cmd[2], "healthcheck", "exec")  # the snippet is valid Python


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: a path is out if it or a parent folder matches."""
    def regex(p: str) -> re.Pattern:
        out = re.escape(p).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
        return re.compile(out.replace(r"\*", "[^/]*").replace(r"\?", "[^/]") + r"\Z")
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    result = False
    for p in patterns:
        negate = p.startswith("!")
        if any(regex(p.lstrip("!")).match(prefix) for prefix in prefixes):
            result = not negate
    return result


@pytest.mark.parametrize("path, out", [
    ("app.py", False), ("pitch/sandbox.py", False), ("pages/sql.py", False),
    ("data/sample.pitch", False), ("requirements.txt", False), (".streamlit/config.toml", False),
    (".venv/bin/python", True), (".git/HEAD", True), ("data/pitch.duckdb", True),
    ("data/pitch.duckdb.wal", True), ("data/inbox/day.pitch", True),
    ("pitch/__pycache__/store.cpython-311.pyc", True), ("tests/test_sandbox.py", True),
])
def test_dockerignore_keeps_the_app_and_drops_local_state(path, out):
    patterns = [l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines()
                if l.strip() and not l.startswith("#")]
    assert ignored(path, patterns) is out
