"""The API's read routes: each reads its parameters, calls one ``pitch`` function, answers.

A table route takes ``format`` (json, csv, parquet, arrow); JSON pages take
``page`` and ``per_page``, the other formats send every matching row. A new
table (the gaps of binary PITCH, a book) is one more function here.
"""

from __future__ import annotations

import os

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from . import api_tables as tables
from . import fmt, ids, queries, sandbox
from . import settings as pitch_settings
from .api import connection, cursor, settings
from .api_errors import BadParameter, NotFound
from .errors import PitchError
from .api_params import Paging, message_filter, message_sort, order_filter, order_sort, paging
from .api_queries import (FILES_EXPORT, all_reject_count, all_rejects_export, all_rejects_page,
                          file_row, files_table, messages_export, orders_export, rejects_export,
                          trades_export, trades_page)
from .api_tables import Format
from .filters import MessageFilter, OrderFilter

router = APIRouter()
FORMAT = Query("json", description="json, or every row as csv, parquet or arrow")
#: Bounds of a query's limits: the SQL page's CSV row limit (ui.SQL_EXPORT_ROWS; not
#: imported, so that the API loads without Streamlit's page helpers) and its time limit.
QUERY_MAX_ROWS = 1_000_000
QUERY_MAX_SECONDS = 60.0


@router.get("/health", tags=["server"])
def health(request: Request) -> dict:
    """The server answers: its process id, what the database holds (cheap to count) and
    the bytes an uploaded file may have."""
    with cursor(request) as cur:
        files, _, messages, rejects = queries.data_version(cur)
    return {"status": "ok", "pid": os.getpid(), "files": int(files or 0),
            "messages": int(messages or 0), "rejects": int(rejects or 0),
            "upload_limit": settings(request.app).upload_limit}


@router.get("/counts", tags=["overview"])
def counts(request: Request, format: Format = FORMAT) -> Response:  # noqa: A002
    """Messages per type, most frequent first."""
    with cursor(request) as cur:
        frame = queries.message_type_counts(cur)
    return tables.frame(frame, format, "counts")


@router.get("/top-symbols", tags=["overview"])
def top_symbols(request: Request, n: int = Query(10, ge=1, le=10_000, description="how many"),
                format: Format = FORMAT) -> Response:  # noqa: A002
    """Symbols by executed shares (broken executions left out), largest first."""
    with cursor(request) as cur:
        frame = queries.top_symbols(cur, n)
    return tables.frame(frame, format, "top-symbols")


@router.get("/files", tags=["files"])
def files(request: Request, format: Format = FORMAT) -> Response:  # noqa: A002
    """Every ingested file, oldest first."""
    if format != "json":
        return tables.export(connection(request), FILES_EXPORT, format)
    with cursor(request) as cur:
        frame = files_table(cur)
    return tables.frame(frame, format, "files")


@router.get("/files/{file_id}", tags=["files"])
def one_file(request: Request, file_id: int = Path(description="the file's file_id")) -> dict:
    """One ingested file."""
    with cursor(request) as cur:
        row = file_row(cur, file_id)
    if row is None:
        raise NotFound(f"no file {file_id}")
    return tables.json_rows(pd.DataFrame([row]))[0]


@router.get("/files/{file_id}/rejects", tags=["files"])
def file_rejects(request: Request, file_id: int = Path(description="the file's file_id"),
                 paged: Paging = Depends(paging), format: Format = FORMAT) -> Response:  # noqa: A002
    """The lines of one file that are not PITCH messages, with their reasons."""
    with cursor(request) as cur:
        if file_row(cur, file_id) is None:
            raise NotFound(f"no file {file_id}")
        if format != "json":
            return tables.export(connection(request), rejects_export(file_id), format)
        total = queries.reject_count(cur, file_id)
        frame = queries.rejects_page(cur, file_id, page=paged.page, page_size=paged.per_page)
    return tables.page(frame, total, paged.page, paged.per_page, file_id=file_id)


@router.get("/gaps", tags=["files"])
def gaps(request: Request, file: int | None = Query(None, description="only this file_id"),
         format: Format = FORMAT) -> Response:  # noqa: A002
    """Binary files' sequence gaps: per unit, each run of sequence numbers never received."""
    with cursor(request) as cur:
        if file is not None and file_row(cur, file) is None:
            raise NotFound(f"no file {file}")
        frame = queries.gaps(cur, file)
    return tables.frame(frame, format, "gaps", total=len(frame))


@router.get("/book/{symbol}", tags=["book"])
def order_book(request: Request, symbol: str = Path(description="e.g. AAPL"),
               at: str | None = Query(None, description="HH:MM:SS[.fraction]; none: the end"),
               levels: int = Query(10, ge=1, le=10_000, description="levels a side"),
               file: int | None = Query(None, description="file_id; default the newest "
                                                          "that holds the symbol"),
               format: Format = FORMAT) -> Response:  # noqa: A002
    """A symbol's book at an instant: bids best first, then asks (``python -m pitch book``)."""
    return _book(request, symbol, file, format, at=at, levels=levels)


@router.get("/bbo/{symbol}", tags=["book"])
def best_bid_offer(request: Request, symbol: str = Path(description="e.g. AAPL"),
                   file: int | None = Query(None, description="file_id; default the newest "
                                                              "that holds the symbol"),
                   format: Format = FORMAT) -> Response:  # noqa: A002
    """Each message that changed the best bid or offer (``python -m pitch bbo``)."""
    return _book(request, symbol, file, format)


def _book(request: Request, symbol: str, file: int | None, form: Format, *,
          at: str | None = None, levels: int | None = None) -> Response:
    from . import bbo_fast, book, book_fast

    try:
        at_ns = None if at is None else book.parse_time(at)
    except ValueError as exc:
        raise BadParameter(f"at: {exc}") from None
    with cursor(request) as cur:
        try:
            if levels:  # only the orders live around the instant
                file_id, frame = book_fast.depth_at(cur, symbol, at_ns, levels, file)
            else:  # most orders from ``orders``, only the others replayed
                file_id, frame = bbo_fast.series(cur, symbol, file)
        except PitchError as exc:  # an unknown symbol or file
            raise NotFound(str(exc)) from None
    name = f"{'book' if levels else 'bbo'}-{symbol}"
    if form == "csv":
        return Response(book.to_csv(frame), media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"'})
    return tables.frame(book.exact(frame), form, name, symbol=symbol, file_id=file_id)


@router.get("/rejects", tags=["files"])
def rejects(request: Request, file: int | None = Query(None, description="only this file_id"),
            paged: Paging = Depends(paging), format: Format = FORMAT) -> Response:  # noqa: A002
    """Rejected lines of every file (or one), in file order, with their file."""
    if format != "json":
        return tables.export(connection(request), all_rejects_export(file), format)
    with cursor(request) as cur:
        total = all_reject_count(cur, file)
        frame = all_rejects_page(cur, file, paged.page, paged.per_page)
    return tables.page(frame, total, paged.page, paged.per_page)


@router.get("/messages", tags=["messages"])
def messages(request: Request, flt: MessageFilter = Depends(message_filter),
             order: tuple[str, bool] = Depends(message_sort), paged: Paging = Depends(paging),
             format: Format = FORMAT) -> Response:  # noqa: A002
    """Messages with the Messages page's filters, sorted as asked (ties in file order)."""
    sort, desc = order
    if format != "json":
        return tables.export(connection(request), messages_export(flt, sort, desc), format)
    with cursor(request) as cur:
        total = queries.message_count(cur, flt)
        frame = queries.messages_page(cur, flt, sort=sort, desc=desc, page=paged.page,
                                      page_size=paged.per_page, total=total)
        feeds = queries.file_feeds(cur)
    return tables.page(frame, total, paged.page, paged.per_page, feeds, filter=flt.sentence())


@router.get("/orders", tags=["orders"])
def orders(request: Request, flt: OrderFilter = Depends(order_filter),
           order: tuple[str, bool] = Depends(order_sort), paged: Paging = Depends(paging),
           format: Format = FORMAT) -> Response:  # noqa: A002
    """Orders (one per add) with the Orders page's filters."""
    sort, desc = order
    if format != "json":
        return tables.export(connection(request), orders_export(flt, sort, desc), format)
    with cursor(request) as cur:
        total = queries.order_count(cur, flt)
        frame = queries.orders_page(cur, flt, sort=sort, desc=desc, page=paged.page,
                                    page_size=paged.per_page, total=total)
        feeds = queries.file_feeds(cur)
    return tables.page(frame, total, paged.page, paged.per_page, feeds, filter=flt.sentence())


@router.get("/orders/{order_id}", tags=["orders"])
def order(request: Request, order_id: str = Path(description="base 36, as in the file"),
          file: int | None = Query(None, description="only its add(s) in this file_id"),
          format: Format = FORMAT) -> Response:  # noqa: A002
    """An order's lifecycle: its add, executions and cancels with the shares left after
    each. An id reused (later in a file, or in another file) gives one lifecycle per add."""
    from .api_params import order_id as parse_order_id

    oid = parse_order_id(order_id, "order id")
    with cursor(request) as cur:
        adds = queries.order_instances(cur, oid)
        if file is not None:
            adds = adds[adds["file_id"] == file]
        lives = [queries.order_lifecycle(cur, int(a.file_id), int(a.line_no))
                 for a in adds.itertuples()]
        feeds = queries.file_feeds(cur)
    if adds.empty:
        raise NotFound(f"no order {ids.format_id(oid)}" + (f" in file {file}" if file else ""))
    if format != "json":
        events = pd.concat([life.assign(file_id=int(a.file_id)) for life, a
                            in zip(lives, adds.itertuples())], ignore_index=True)
        events.insert(0, "file_id", events.pop("file_id"))
        return tables.frame(events, format, f"order-{ids.format_id(oid)}", feeds=feeds)
    instances = [{**tables.json_rows(adds.iloc[[i]], feeds)[0],
                  "lifecycle": tables.json_rows(life, feeds)} for i, life in enumerate(lives)]
    return tables.json_answer({"order_id": ids.format_id(oid), "orders": instances})


@router.get("/symbols/{symbol}/trades", tags=["symbols"])
def trades(request: Request, symbol: str = Path(description="e.g. AAPL"),
           paged: Paging = Depends(paging), format: Format = FORMAT) -> Response:  # noqa: A002
    """A symbol's unbroken executions and trades in time order, with the running VWAP,
    and the symbol's summary (trades, volume, VWAP, low, high, orders by side)."""
    symbol = symbol.strip().upper()
    with cursor(request) as cur:
        summary = queries.symbol_summary(cur, symbol)
        if not summary["trades"] and not summary["orders"]:
            raise NotFound(f"no trades or orders of symbol {symbol!r}")
        if format != "json":
            return tables.export(connection(request), trades_export(symbol), format)
        frame = trades_page(cur, symbol, paged.page, paged.per_page)
    summary = {k: tables.json_value(fmt.price(v).replace(",", "") or None
                                    if k in ("vwap", "low", "high") else v)
               for k, v in summary.items()}
    return tables.page(frame, summary["trades"], paged.page, paged.per_page, symbol=symbol,
                       summary=summary)


@router.get("/query", tags=["sql"])
def query(request: Request, sql: str = Query(description="one read-only SELECT"),
          row_limit: int | None = Query(None, ge=1, le=QUERY_MAX_ROWS, description=(
              f"rows at most (default $PITCH_SQL_ROW_LIMIT, else {pitch_settings.sql_row_limit():,})")),
          timeout: float | None = Query(None, gt=0, le=QUERY_MAX_SECONDS, description=(
              "seconds before the query is stopped (default $PITCH_SQL_TIMEOUT)")),
          format: Format = FORMAT) -> Response:  # noqa: A002
    """The SQL page's sandbox: one read-only SELECT, row- and time-limited. Other
    formats than JSON carry the cut in headers X-Pitch-Truncated and X-Pitch-Row-Limit."""
    if len(sql) > 100_000:
        raise BadParameter("sql: longer than 100,000 characters")
    with cursor(request) as cur:
        result = sandbox.run_query(cur, sql, row_limit=row_limit, timeout=timeout)
    cut = {"X-Pitch-Truncated": "true" if result.truncated else "false",
           "X-Pitch-Row-Limit": str(result.row_limit)}
    note = (f"only the first {result.row_limit:,} rows (row limit)" if result.truncated else None)
    return tables.frame(result.frame, format, "query", headers=None if format == "json" else cut,
                        columns=tables.unique_names([str(c) for c in result.frame.columns]),
                        truncated=result.truncated, row_limit=result.row_limit,
                        seconds=round(result.seconds, 4), note=note)

