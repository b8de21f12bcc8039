"""The REST API, served by the app's own server under ``/api/v1`` (see app.py).

A FastAPI app (docs at ``/api/v1/docs``, from installed files only) whose
routes are thin: they read their parameters (:mod:`pitch.api_params`), call
one ``pitch`` function on a cursor of the app's one DuckDB connection and
answer with :mod:`pitch.api_tables`. Writes go through ingest's lock, as the
pages' uploads and the folder watcher do. Errors map to status codes in
:mod:`pitch.api_errors`.

Security: the API listens where Streamlit listens (``server.address``,
127.0.0.1 in ``.streamlit/config.toml``). With ``$PITCH_API_TOKEN`` set, every
call but the docs needs ``Authorization: Bearer <token>``; without one, a
server that listens beyond loopback refuses POST and DELETE (403). A request
from another web site (its ``Origin`` is not this server) is refused, and a
loopback server answers only to a loopback ``Host`` (DNS rebinding).
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Iterator
from urllib.parse import urlsplit

import duckdb
from fastapi import Depends, FastAPI, Request
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Receive, Scope, Send

from . import remote
from . import settings as pitch_settings
from .api_errors import BodyTooLarge, Forbidden, Unauthorized, error, install

log = logging.getLogger("pitch.api")
PREFIX = "/api/v1"
#: Room for the multipart framing around an uploaded file.
BODY_SLACK = 64 * 1024
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class ApiSettings:
    """What the API reads from the environment and Streamlit's config, once."""

    token: str | None  # $PITCH_API_TOKEN; None when unset or empty
    address: str  # server.address ("" or 0.0.0.0: every interface)
    loopback: bool  # listening on this machine only
    upload_limit: int  # bytes per uploaded file: server.maxUploadSize MB

    @property
    def max_body(self) -> int:
        return self.upload_limit + BODY_SLACK


def is_loopback(address: str) -> bool:
    """True for localhost and 127.0.0.0/8 or ::1; False for every interface or a name."""
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def read_settings() -> ApiSettings:
    import streamlit as st

    address = st.get_option("server.address") or ""
    return ApiSettings(token=pitch_settings.current().api_token, address=address,
                       loopback=is_loopback(address),
                       upload_limit=int(st.get_option("server.maxUploadSize")) * 1024 * 1024)


def settings(app: Any) -> ApiSettings:
    """The settings of this API app, read on first use (the server's config is loaded by then)."""
    if app.state.settings is None:
        app.state.settings = read_settings()
    return app.state.settings


def _loopback_host(host: str) -> bool:
    name = urlsplit(f"//{host}").hostname or ""
    return is_loopback(name)


def guard(request: Request) -> None:
    """Every route's first step: who may ask, and from where."""
    s = settings(request.app)
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
        raise Forbidden(f"cross-site request from {origin} refused")
    if s.loopback and not _loopback_host(host):
        raise Forbidden(f"this server answers on loopback only, not to Host {host!r}")
    if s.token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                 s.token.encode()):
            raise Unauthorized("this server needs a bearer token: "
                               "send Authorization: Bearer $PITCH_API_TOKEN")
    elif request.method in WRITES and not s.loopback:
        raise Forbidden(f"uploads and deletes are refused: the server listens on "
                        f"{s.address or 'every interface'}, beyond this machine, and "
                        "PITCH_API_TOKEN is not set")


def connection(request: Request) -> duckdb.DuckDBPyConnection:
    """The app's one DuckDB connection (``pitch.ui.connection()`` in the server)."""
    return request.app.state.connection()


@contextlib.contextmanager
def cursor(request: Request) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of its own for one request."""
    cur = connection(request).cursor()
    try:
        yield cur
    finally:
        cur.close()


class BodyLimit:
    """Refuse a request body over the upload limit: at once when its
    Content-Length says so, else as soon as the bytes read pass it.

    A client that waits for ``100 Continue`` (curl, for big bodies) gets the
    413 before it sends anything. One that sends the body regardless would
    see its connection cut mid-send instead of the answer, so up to as much
    again as the limit is read and dropped first (beyond that, it is cut).
    """

    def __init__(self, app: ASGIApp, limit: Callable[[], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        message = (f"the request body is over the {limit // (1024 * 1024):,} MB upload limit "
                   "(server.maxUploadSize); nothing was loaded")
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"")

        async def drain(budget: int) -> None:
            more = True
            while more and budget > 0:
                msg = await receive()
                more = msg.get("more_body", False) and msg["type"] == "http.request"
                budget -= len(msg.get("body", b""))

        if length.isdigit() and int(length) > limit:
            if headers.get(b"expect", b"").lower() != b"100-continue":
                await drain(2 * limit)
            await error(413, message)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    if msg.get("more_body", False):
                        await drain(limit)
                    raise BodyTooLarge(message)
            return msg

        await self.app(scope, counted, send)


def _app_connection() -> duckdb.DuckDBPyConnection:
    from . import ui

    return ui.connection()


def create_app(connect: Callable[[], duckdb.DuckDBPyConnection] = _app_connection,
               api_settings: ApiSettings | None = None) -> FastAPI:
    """The API as an ASGI app to mount at :data:`PREFIX`.

    ``connect`` gives the shared connection (the app's by default);
    ``api_settings`` are read from the environment on first use unless given.
    """
    from . import api_files, api_routes

    api = FastAPIOffline(
        title="PITCH Explorer API", version="1",
        description="Cboe PITCH messages, orders, trades and files, from the running app's "
                    "database. JSON by default; tables also as `format=csv` (every row, as the "
                    "pages' CSV), `parquet` or `arrow` (typed values).",
        docs_url="/docs", redoc_url=None, static_url="/docs-static",
        swagger_ui_parameters={"validatorUrl": None})  # no online validator badge
    api.state.connection = connect
    api.state.settings = api_settings

    api.add_middleware(BodyLimit, limit=lambda: settings(api).max_body)
    install(api)
    for module in (api_routes, api_files):
        api.include_router(module.router, dependencies=[Depends(guard)])
    return api


@contextlib.asynccontextmanager
async def lifespan(_: Any) -> AsyncIterator[None]:
    """The server's start and stop (st.App's lifespan): open the database, so
    the app holds it from the start, and record where the app answers beside
    it for the command line; remove the record at exit."""
    import streamlit as st

    from . import store

    record = None
    try:
        _app_connection()
    except Exception as exc:  # e.g. another process holds the file: the pages say so too
        log.warning("the API cannot open the database: %s", exc)
    else:
        s = read_settings()
        record = remote.write_record(store.db_path().resolve(), s.address,
                                     int(st.get_option("server.port")), s.token is not None)
    try:
        yield
    finally:
        if record is not None:
            remote.remove_record(record)
