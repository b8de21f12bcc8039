"""The API's errors and their HTTP status codes, in one place.

Every error a route raises on purpose is a :class:`pitch.errors.PitchError`;
:data:`STATUS` gives its status code and its message becomes the body
``{"error": "..."}``. Parameters FastAPI cannot read (a page that is not a
number, ``per_page`` over 1,000) are 422 with one line per parameter; unknown
routes 404; anything else a 500 that says only "internal error" (the
traceback goes to the server log, never to the client).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from .errors import DatabaseBusyError, PitchError

class NotFound(PitchError):
    """No such file, order or symbol (404)."""


class BadParameter(PitchError):
    """A parameter the API cannot use: a time that is not HH:MM:SS, an unknown type (422)."""


class TooLarge(PitchError):
    """A request body or an uploaded file over the upload limit (413)."""


class Forbidden(PitchError):
    """Refused whoever asks: a write on a server open to the network without a token,
    a cross-site request (403)."""


class Unauthorized(PitchError):
    """No bearer token, or the wrong one, while ``PITCH_API_TOKEN`` is set (401)."""


#: Status code by error class; the most specific class of an error wins.
STATUS: dict[type[PitchError], int] = {
    NotFound: 404,
    BadParameter: 422,
    TooLarge: 413,
    Forbidden: 403,
    Unauthorized: 401,
    DatabaseBusyError: 503,
    PitchError: 400,  # a file that is not PITCH, a refused or failed query, ...
}


def status_of(exc: PitchError) -> int:
    """The status code of one of our errors."""
    return next(STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS)


class BodyTooLarge(HTTPException):
    """Raised while a body is read, past the limit (an HTTPException, so that
    FastAPI's form parsing lets it through instead of answering 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The body of every error: ``{"error": message}``."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for problem in exc.errors():
        where = ".".join(str(p) for p in problem.get("loc", ())[1:]) or "request"
        parts.append(f"{where}: {problem.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    """Map every kind of error to its status and ``{"error": ...}`` body."""

    async def pitch_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, PitchError)
        status = status_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return error(status, str(exc), headers)

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error(422, _validation_message(exc))

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises it after this answer, so the server logs the traceback.
        return error(500, "internal error")

    app.add_exception_handler(PitchError, pitch_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
