"""Tables over HTTP: JSON rows, or every row as CSV, Parquet or Arrow.

A route hands over what a ``pitch`` function found (a DataFrame, or the SQL of
every matching row) and the format asked for; the bytes are made here, so a
new table route is one function. JSON rows and CSV read as the pages do
(:func:`pitch.export_table`: ids base 36, ``HH:MM:SS.mmm`` beside each
nanosecond time, prices with 4 decimals as text); the CSV is the pages' CSV
byte for byte. Parquet and Arrow carry the typed values (ids as integers,
times in nanoseconds, exact decimals). Exports stream batch by batch from
DuckDB, so memory does not grow with the number of rows.
"""

from __future__ import annotations

import datetime
import io
import math
import re
from decimal import Decimal
from typing import Any, Iterator, Literal

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from starlette.responses import JSONResponse, Response, StreamingResponse

from . import fmt
from .export import csv_bytes, export_table, unique_names
from .ids import ALL_TEXT, FileFeeds
from .queries import file_feeds
from .queries.base import with_type_names
from .api_queries import Export

Format = Literal["json", "csv", "parquet", "arrow"]
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet",
               "arrow": "application/vnd.apache.arrow.stream"}
#: Rows per batch read from DuckDB while streaming (as queries.stream_csv).
BATCH_ROWS = 100_000


# --- JSON ------------------------------------------------------------------------------------

def json_value(value: Any) -> Any:
    """A value JSON can hold: decimals with decimals and dates as text (exact), NaN as null."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):  # whole numbers (sums) as numbers, others exact as text
        if not value.is_finite():
            return None
        return int(value) if value.as_tuple().exponent == 0 else str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return fmt.raw_text(bytes(value))
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return str(value)


def _json_safe(kind: pa.DataType) -> bool:
    """Arrow types whose Python values JSON holds as they are."""
    return (pa.types.is_integer(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind)
            or pa.types.is_boolean(kind) or pa.types.is_null(kind))


def json_rows(data: pd.DataFrame | pa.Table, feeds: FileFeeds = ALL_TEXT
              ) -> list[dict[str, Any]]:
    """Rows as the pages show them, one object per row (repeated names made unique)."""
    table = export_table(frame_to_arrow(data) if isinstance(data, pd.DataFrame) else data,
                         feeds)
    names = unique_names(table.column_names)
    columns = [column.to_pylist() if _json_safe(column.type)
               else [json_value(v) for v in column.to_pylist()] for column in table.columns]
    return [dict(zip(names, row)) for row in zip(*columns)]


def json_answer(body: dict[str, Any], status: int = 200,
                headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def page(frame: pd.DataFrame, total: int, page_no: int, per_page: int,
         feeds: FileFeeds = ALL_TEXT, **extra: Any) -> JSONResponse:
    """One page of a table: ``total``, ``page``, ``per_page``, ``pages`` and ``rows``.

    ``feeds`` says which files are binary, whose ids are written in decimal.
    """
    return json_answer({**extra, "total": total, "page": page_no, "per_page": per_page,
                        "pages": max(1, math.ceil(total / per_page)),
                        "rows": json_rows(frame, feeds)})


# --- whole frames ----------------------------------------------------------------------------

def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float) and math.isnan(value))


def frame_to_arrow(frame: pd.DataFrame) -> pa.Table:
    """A frame as Arrow, column by column (repeated names kept); a column Arrow
    cannot type (mixed objects) goes as text."""
    arrays = []
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        try:
            arrays.append(pa.array(column, from_pandas=True))
        except (pa.ArrowException, TypeError, ValueError):
            arrays.append(pa.array([None if _missing(v) else str(v) for v in column], pa.string()))
    return pa.Table.from_arrays(arrays, names=[str(c) for c in frame.columns])


def _disposition(name: str, extension: str) -> dict[str, str]:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "table"
    return {"Content-Disposition": f'attachment; filename="{safe}.{extension}"'}


def frame(data: pd.DataFrame, form: Format, name: str,
          headers: dict[str, str] | None = None, feeds: FileFeeds = ALL_TEXT,
          **extra: Any) -> Response:
    """A whole (small) table: JSON ``rows`` (plus ``extra``), or the file in ``form``."""
    if form == "json":
        return json_answer({**extra, "rows": json_rows(data, feeds)}, headers=headers)
    headers = {**(headers or {}), **_disposition(name, form)}
    table = frame_to_arrow(data)
    if form == "csv":  # export.to_csv, also for repeated column names
        return Response(csv_bytes(export_table(table, feeds)), media_type=MEDIA_TYPES["csv"],
                        headers=headers)
    chunks = _ipc(table.schema, iter(table.to_batches())) if form == "arrow" \
        else _parquet(table.schema, iter(table.to_batches()))
    return Response(b"".join(chunks), media_type=MEDIA_TYPES[form], headers=headers)


# --- every row, streamed -----------------------------------------------------------------------

def export(conn: duckdb.DuckDBPyConnection, what: Export, form: Format) -> StreamingResponse:
    """Every row of ``what`` as CSV, Parquet or Arrow, read and sent batch by batch.

    The query runs on a cursor of its own, opened here so that an error shows
    as a status code before the first byte goes out, and closed when the
    stream ends or the client leaves.
    """
    cur = conn.cursor()
    try:
        feeds = file_feeds(cur)
        reader = cur.sql(what.sql, params=what.params).to_arrow_reader(BATCH_ROWS)
        first = next(iter(reader), None)
    except BaseException:
        cur.close()
        raise

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            if first is not None:
                yield first
                yield from reader
        finally:
            reader.close()
            cur.close()

    body = (_csv(reader.schema, batches(), feeds) if form == "csv" else
            {"arrow": _ipc, "parquet": _parquet}[form](reader.schema, batches()))
    return StreamingResponse(body, media_type=MEDIA_TYPES[form],
                             headers=_disposition(what.name, form))


def _csv(schema: pa.Schema, batches: Iterator[pa.RecordBatch], feeds: FileFeeds
         ) -> Iterator[bytes]:
    header = True
    for batch in batches:
        table = with_type_names(export_table(pa.Table.from_batches([batch], schema), feeds))
        yield csv_bytes(table, header=header)
        header = False
    if header:  # no rows: still the header line
        yield csv_bytes(with_type_names(export_table(schema.empty_table())))


def _drain(sink: io.BytesIO) -> bytes:
    data = sink.getvalue()
    sink.seek(0)
    sink.truncate()
    return data


def _ipc(schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, schema) as writer:
        yield _drain(sink)
        for batch in batches:
            writer.write_batch(batch)
            yield _drain(sink)
    yield _drain(sink)


def _parquet(schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:
    sink = io.BytesIO()
    writer = pq.ParquetWriter(sink, schema)
    for batch in batches:
        writer.write_batch(batch)  # one row group per batch, written out at once
        yield _drain(sink)
    writer.close()
    yield _drain(sink)
