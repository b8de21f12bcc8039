"""The command line beside a running app: the app's address record, and its API as a client.

DuckDB lets one process hold a database file, so while the app runs, ``python
-m pitch counts`` cannot open it. The app writes ``<database>.app.json`` (host,
port, pid, whether a token is needed) when it starts and removes it at exit;
:func:`dispatch` finds a live app there and runs ``counts``, ``top-symbols``,
``query``, ``files``, ``rejects`` and ``ingest`` through its API, printing
what the command prints when it opens the file itself. A record whose process
is gone, or where nothing (or another process) answers, is stale: it is
ignored, and the command opens the file as usual (or says it is in use).

Tables travel as Arrow and become DataFrames the way the local command makes
them (DuckDB's ``.df()``, or the sandbox's conversion for ``query``), so
:func:`pitch.cli.write_frame` prints the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import duckdb
import pandas as pd
import pyarrow as pa

from . import fmt, settings, store
from .errors import PitchError

RECORD_SUFFIX = ".app.json"
API_PATH = "/api/v1"
#: The commands that go through a running app's API.
COMMANDS = frozenset({"counts", "top-symbols", "query", "files", "rejects", "ingest", "book",
                      "bbo"})
HEALTH_TIMEOUT = 3.0  # seconds for the liveness check
MB = 1024 * 1024


# --- the record ------------------------------------------------------------------------------

def record_path(db: Path) -> Path:
    """Where the app holding ``db`` records its address: ``<db>.app.json``."""
    return db.with_name(db.name + RECORD_SUFFIX)


def connect_host(address: str) -> str:
    """The host a client on this machine dials for a server listening on ``address``."""
    if address in ("", "0.0.0.0"):
        return "127.0.0.1"
    if address in ("::", "[::]"):
        return "::1"
    return address


def write_record(db: Path, address: str, port: int, token_required: bool) -> Path:
    """Record, atomically, where the app holding ``db`` answers; returns the record's path."""
    host = connect_host(address)
    netloc = f"[{host}]" if ":" in host else host
    data = {"host": host, "port": port, "pid": os.getpid(), "token_required": token_required,
            "url": f"http://{netloc}:{port}{API_PATH}", "database": str(db)}
    path = record_path(db)
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    temp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(temp, path)
    return path


def remove_record(path: Path) -> None:
    """Remove the record if this process wrote it (another app may have taken the file since)."""
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


@dataclass(frozen=True)
class RunningApp:
    """A live app holding the database, as its record and its health answer say."""

    url: str
    pid: int
    token_required: bool
    upload_limit: int | None  # bytes per file (None when the health answer was refused)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def find_app(db: Path) -> RunningApp | None:
    """The app holding ``db``, if its record is there and it answers as that process."""
    try:
        data = json.loads(record_path(db).read_text())
        url, pid, token_required = str(data["url"]), int(data["pid"]), bool(data["token_required"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(pid):
        return None
    try:
        health = json.loads(_send(urllib.request.Request(f"{url}/health", headers=_auth()),
                                  HEALTH_TIMEOUT).read())
    except urllib.error.HTTPError as exc:
        if exc.code == 401:  # it is there, and wants a token this shell does not have
            return RunningApp(url, pid, token_required, None)
        return None
    except (OSError, ValueError):  # nothing answers there (or not our API)
        return None
    if health.get("pid") != pid:
        return None
    return RunningApp(url, pid, token_required, health.get("upload_limit"))


# --- the client ------------------------------------------------------------------------------

def _auth() -> dict[str, str]:
    token = settings.current().api_token
    return {"Authorization": f"Bearer {token}"} if token else {}


def _send(request: urllib.request.Request, timeout: float | None = None) -> Any:
    # No proxy: the app is on this machine, whatever $http_proxy says.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return opener.open(request, timeout=timeout)


class Client:
    """Calls to one running app's API; its errors become :class:`PitchError` with the API's words."""

    def __init__(self, app: RunningApp) -> None:
        self.app = app

    def _open(self, request: urllib.request.Request) -> Any:
        try:
            return _send(request)
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read())["error"]
            except (ValueError, KeyError, TypeError, OSError):
                message = f"HTTP {exc.code}"
            if exc.code == 401:
                message = (f"the app holding the database needs its token: set PITCH_API_TOKEN "
                           f"({message})")
            raise PitchError(message) from None
        except OSError as exc:
            raise PitchError(f"the app at {self.app.url} did not answer: "
                             f"{getattr(exc, 'reason', exc)}") from None

    def table(self, path: str, max_rows: int | None = None, **params: Any) -> tuple[pa.Table, Any]:
        """``GET path?format=arrow``: the Arrow table (at most ``max_rows``) and the headers."""
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None},
                                       doseq=True)
        request = urllib.request.Request(f"{self.app.url}{path}?format=arrow&{query}",
                                         headers=_auth())
        with self._open(request) as response:
            reader = pa.ipc.open_stream(response)
            batches, rows = [], 0
            for batch in reader:
                if max_rows is not None and rows >= max_rows:
                    break
                batches.append(batch)
                rows += batch.num_rows
            table = pa.Table.from_batches(batches, reader.schema)
            return (table if max_rows is None else table.slice(0, max_rows)), response.headers

    def csv(self, path: str, **params: Any) -> bytes:
        """``GET path?format=csv``: the CSV bytes."""
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None},
                                       doseq=True)
        request = urllib.request.Request(f"{self.app.url}{path}?format=csv&{query}",
                                         headers=_auth())
        with self._open(request) as response:
            return response.read()

    def frame(self, path: str, max_rows: int | None = None, **params: Any) -> pd.DataFrame:
        """A table as the local command's ``.df()`` makes it (DuckDB converts it the same way)."""
        table, _ = self.table(path, max_rows, **params)
        with duckdb.connect() as scratch:
            return scratch.from_arrow(table).df()

    def upload(self, path: Path, name: str, progress: Any = None) -> dict:
        """``POST /files`` with the file streamed from disk (multipart field ``file``)."""
        boundary = uuid.uuid4().hex
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="source"\r\n\r\ncli\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{quoted}"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        size = path.stat().st_size

        def body() -> Iterator[bytes]:
            yield head
            sent = 0
            with open(path, "rb") as fh:
                while block := fh.read(1 << 20):
                    sent += len(block)
                    if progress:
                        progress(sent, size)
                    yield block
            yield tail

        request = urllib.request.Request(
            f"{self.app.url}/files", data=body(), method="POST", headers={
                **_auth(), "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(head) + size + len(tail))})
        with self._open(request) as response:
            return json.loads(response.read())


def upload_limit_message(name: str, size: int, limit: int) -> str:
    """Why a file over the running app's upload limit was not loaded (API and CLI alike)."""
    return (f"{name}: {fmt.size(size)} is over the running app's {limit // MB:,} MB upload limit "
            "(server.maxUploadSize); nothing was loaded: drop it into the app's watched folder")


# --- the commands ----------------------------------------------------------------------------

def dispatch(args: argparse.Namespace) -> int:
    """Run a parsed command: through the running app's API when one holds the database."""
    app = find_app(store.db_path(args.db).resolve()) if args.command in COMMANDS else None
    if app is None:
        return args.handler(args)
    from . import remote_commands

    return remote_commands.run(Client(app), args)
