"""Query parameters of the API, read into the filters the pages use.

Each function is a FastAPI dependency: it declares its parameters (so they
show in the OpenAPI document) and returns a :mod:`pitch.filters` object or a
plain value. Values that cannot be used raise :class:`BadParameter` (422) with
the parameter's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Query

from . import fmt, ids, queries
from .api_errors import BadParameter
from .filters import ORDER_STATUSES, TYPE_CODES, TYPE_NAMES, MessageFilter, OrderFilter

#: Rows a JSON page may hold.
MAX_PER_PAGE = 1000
_SIDES = {"b": "B", "buy": "B", "s": "S", "sell": "S"}


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int


def paging(page: int = Query(1, ge=1, description="1-based page of the JSON answer"),
           per_page: int = Query(queries.PAGE_SIZE, ge=1, le=MAX_PER_PAGE,
                                 description=f"rows per JSON page, at most {MAX_PER_PAGE:,}")
           ) -> Paging:
    return Paging(page, per_page)


def type_code(text: str) -> str:
    """A message type from its code (``E``; ``0x22`` style codes in any case) or its name."""
    value = text.strip()
    if value in TYPE_NAMES:
        return value
    if value in TYPE_CODES:
        return TYPE_CODES[value]
    by_lower = {code.lower(): code for code in TYPE_NAMES if code.lower().startswith("0x")}
    if value.lower() in by_lower:
        return by_lower[value.lower()]
    raise BadParameter(f"type: unknown message type {text!r} (codes: {', '.join(TYPE_NAMES)})")


def side_code(text: str | None) -> str | None:
    if text is None or text == "":
        return None
    try:
        return _SIDES[text.strip().lower()]
    except KeyError:
        raise BadParameter(f"side: {text!r} is not B (buy) or S (sell)") from None


def time_ns(name: str, text: str | None) -> int | None:
    if not text:
        return None
    try:
        return fmt.parse_hms(text)
    except ValueError as exc:
        raise BadParameter(f"{name}: {exc}") from None


def order_id(text: str | None, name: str = "order_id") -> int | None:
    if not text:
        return None
    try:
        return ids.parse_id(text)
    except ValueError as exc:
        raise BadParameter(f"{name}: {exc}") from None


def sort_key(text: str, sorts: dict[str, str]) -> str:
    """A sort label of the page (``order id``), also written ``order_id``; ``file`` for ``file, line``."""
    aliases = {}
    for label in sorts:
        for alias in (label, label.replace(" ", "_"), label.split(",")[0]):
            aliases.setdefault(alias, label)
    try:
        return aliases[text.strip().lower()]
    except KeyError:
        raise BadParameter(f"sort: {text!r} is not one of {', '.join(sorts)}") from None


_TYPE_HELP = ("message type: code (E), 0x code or name; repeat for several "
              "(codes: " + ", ".join(TYPE_NAMES) + ")")


def message_filter(
    type: list[str] = Query([], description=_TYPE_HELP),  # noqa: A002 (the URL's name)
    symbol: list[str] = Query([], description="symbol; repeat for several"),
    from_: str | None = Query(None, alias="from", description="from HH:MM:SS.mmm, inclusive"),
    to: str | None = Query(None, description="to HH:MM:SS.mmm, inclusive"),
    order_id_: str | None = Query(None, alias="order_id", description="order id in base 36, as in the file"),
    side: str | None = Query(None, description="B (buy) or S (sell)"),
    file: int | None = Query(None, description="only this file_id"),
) -> MessageFilter:
    """The Messages page's filters."""
    return MessageFilter(
        types=tuple(dict.fromkeys(type_code(t) for t in type)),
        symbols=tuple(dict.fromkeys(s.strip().upper() for s in symbol if s.strip())),
        start_ns=time_ns("from", from_), end_ns=time_ns("to", to),
        order_id=order_id(order_id_), side=side_code(side), file_id=file)


def order_filter(
    symbol: list[str] = Query([], description="symbol; repeat for several"),
    side: str | None = Query(None, description="B (buy) or S (sell)"),
    status: list[str] = Query([], description="open, filled or cancelled; repeat for several"),
    order_id_: str | None = Query(None, alias="order_id", description="order id in base 36"),
    file: int | None = Query(None, description="only this file_id"),
) -> OrderFilter:
    """The Orders page's filters."""
    for s in status:
        if s not in ORDER_STATUSES:
            raise BadParameter(f"status: {s!r} is not one of {', '.join(ORDER_STATUSES)}")
    return OrderFilter(symbols=tuple(dict.fromkeys(s.strip().upper() for s in symbol if s.strip())),
                       side=side_code(side), statuses=tuple(dict.fromkeys(status)),
                       order_id=order_id(order_id_), file_id=file)


def message_sort(sort: str = Query("time", description="one of: " + ", ".join(queries.MESSAGE_SORTS)),
                 desc: bool = Query(False, description="largest first")) -> tuple[str, bool]:
    return sort_key(sort, queries.MESSAGE_SORTS), desc


def order_sort(sort: str = Query("time", description="one of: " + ", ".join(queries.ORDER_SORTS)),
               desc: bool = Query(False, description="largest first")) -> tuple[str, bool]:
    return sort_key(sort, queries.ORDER_SORTS), desc
