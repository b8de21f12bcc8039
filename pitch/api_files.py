"""The API's write routes: upload a file (POST /files) and remove one (DELETE /files/{id}).

Both go through ingest's lock, as the Ingest page and the folder watcher do,
so writes from the pages, the watcher and the API land one at a time.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Literal

import pandas as pd
from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from starlette.responses import JSONResponse

from . import api_tables as tables
from . import ingest, remote
from .api import PREFIX, connection, cursor, settings
from .api_errors import NotFound, TooLarge
from .api_queries import file_row
from .store import UnknownFileError
from .ingest import IngestResult, ingest_path
from .names import safe_name

router = APIRouter()


def result_json(result: IngestResult) -> dict:
    """What became of an uploaded file; ``summary`` is the line the CLI prints."""
    return {"status": "already ingested" if result.status == "duplicate" else "ingested",
            "file_id": result.file_id, "name": result.name, "messages": result.messages,
            "rejects": result.rejects, "size": result.size, "sha256": result.sha256,
            "seconds": result.seconds, "first_reject": result.first_reject,
            "summary": result.summary()}


@router.post("/files", tags=["files"], status_code=201, responses={
    200: {"description": "Already ingested: the same content is there, nothing was added"},
    400: {"description": "Not a PITCH file, or empty; nothing was loaded"},
    413: {"description": "Over the upload limit (server.maxUploadSize); nothing was loaded"}})
def upload(request: Request,
           file: UploadFile = File(description="a PITCH file, plain text or .gz"),
           source: Literal["api", "cli"] = Form("api", description="recorded in files.source"),
           ) -> JSONResponse:
    """Ingest one file: it lands whole (messages, rejects, orders, executions) or not at all."""
    limit = settings(request.app).upload_limit
    name = safe_name(file.filename or "unnamed")
    if file.size is not None and file.size > limit:
        raise TooLarge(remote.upload_limit_message(name, file.size, limit))
    # From the upload's spool to a file of its own: memory stays flat whatever the size.
    with tempfile.NamedTemporaryFile(prefix="pitch-upload-") as copy:
        shutil.copyfileobj(file.file, copy, 1 << 20)
        copy.flush()
        result = ingest_path(connection(request), copy.name, name=name, source=source)
    if result.status == "duplicate":
        return tables.json_answer(result_json(result), 200)
    return tables.json_answer(result_json(result), 201,
                              headers={"Location": f"{PREFIX}/files/{result.file_id}"})


@router.delete("/files/{file_id}", tags=["files"])
def delete(request: Request, file_id: int = Path(description="the file's file_id")) -> dict:
    """Remove one file's data from every table, in one transaction."""
    with cursor(request) as cur:
        row = file_row(cur, file_id)
    if row is None:
        raise NotFound(f"no file {file_id}")
    try:
        ingest.remove_file(connection(request), file_id)
    except UnknownFileError:  # removed since it was read above
        raise NotFound(f"no file {file_id}") from None
    shown = tables.json_rows(pd.DataFrame([row]))[0]
    return {"deleted": file_id, **{k: shown[k] for k in ("name", "messages", "rejects")}}
