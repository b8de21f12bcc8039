"""Filters as data: each becomes a SQL fragment with bound parameters and a sentence.

In the style of Datasette: a page collects what the person chose into a frozen
dataclass; :meth:`where` turns it into ``WHERE`` text that only ever contains
column names and ``?`` placeholders (values travel as parameters), plus a
sentence that says in words what the table shows.

An order id filter is an :class:`pitch.ids.IdReading`: what the typed id
means in each feed in view (base 36 for text files, decimal for binary ones).
When both feeds are in view each reading matches its own feed's files only,
and the sentence names both. A plain integer still matches the id in any file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import fmt, ids
from .ids import IdReading
from .layouts import TYPE_NAMES

#: A type's code by its name; where text and binary share a name ("Order Executed") the
#: text code, which comes first in the layout table.
TYPE_CODES: dict[str, str] = {}
for _code, _name in TYPE_NAMES.items():
    TYPE_CODES.setdefault(_name, _code)
SIDES = {"B": "buy", "S": "sell"}
#: The Side control's choices (also their text in the URL) and their codes.
SIDE_CHOICES = {name.capitalize(): code for code, name in SIDES.items()}
ORDER_STATUSES = ("open", "filled", "cancelled")
#: The rows of each feed's files, for a reading of an id that belongs to one feed only.
_FEED_ROWS = {
    ids.TEXT: "file_id IN (SELECT file_id FROM files WHERE coalesce(format, 'text') = 'text')",
    ids.BINARY: "file_id IN (SELECT file_id FROM files WHERE coalesce(format, 'text') <> 'text')",
}


def type_label(code: str) -> str:
    """A message type as pickers, sentences and charts name it.

    Text types by name, as always ("Add Order (Short)"); binary ones by name
    and code ("Order Executed (0x23)"), since several binary names are also
    text names and a picker or a chart would show two types as one.
    """
    name = TYPE_NAMES.get(code, code)
    return f"{name} ({code})" if code.startswith("0x") and name != code else name


@dataclass(frozen=True)
class _Clause:
    """A condition with several parameters (``_where`` takes it as it is)."""

    sql: str
    params: tuple


def _order_clause(order_id: int | IdReading | None) -> int | _Clause | None:
    """``order_id = ?``'s value, or for a reading in both feeds one test per feed."""
    if not isinstance(order_id, IdReading):
        return order_id
    readings = order_id.readings()
    if not order_id.mixed:  # one feed in view: its reading, anywhere in view
        return readings[0][1]
    tests = [f"(order_id = ? AND {_FEED_ROWS[feed]})" for feed, _ in readings]
    sql = tests[0] if len(tests) == 1 else "(" + " OR ".join(tests) + ")"
    return _Clause(sql, tuple(value for _, value in readings))


def _status_clause(statuses: tuple[str, ...]) -> tuple[str, ...] | _Clause:
    """``status IN (...)``, with "open" as ``remaining_shares > 0``: the same orders (the
    status's first case), but a test DuckDB runs inside the scan of a stored column,
    with its zone maps (at 100M orders, the open ones by remaining shares: 0.55 -> 0.25 s)."""
    if "open" not in statuses:
        return statuses
    others = tuple(s for s in statuses if s != "open")
    if not others:
        return _Clause("remaining_shares > 0", ())
    return _Clause(f"(remaining_shares > 0 OR status IN ({', '.join('?' for _ in others)}))",
                   others)


def _order_words(order_id: int | IdReading) -> str:
    return order_id.words() if isinstance(order_id, IdReading) else ids.format_id(order_id)


def _in(column: str, values: tuple, clauses: list[str], params: list) -> None:
    clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
    params.extend(values)


def _where(conditions: list[tuple[str, object]]) -> tuple[str, list]:
    """``WHERE`` over the chosen ``(sql with one ?, value)`` pairs, with bound parameters.

    A value of None or an empty tuple means "not chosen"; a tuple becomes ``IN``.
    """
    clauses: list[str] = []
    params: list = []
    for sql, value in conditions:
        if value is None or value == () or value == "":
            continue
        if isinstance(value, _Clause):
            clauses.append(value.sql)
            params.extend(value.params)
        elif isinstance(value, tuple):
            _in(sql, value, clauses, params)
        else:
            clauses.append(sql)
            params.append(value)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def _names(values: tuple[str, ...], limit: int = 5) -> str:
    shown = ", ".join(values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


@dataclass(frozen=True)
class MessageFilter:
    """What the Messages page shows. Empty tuples and None mean "any"."""

    types: tuple[str, ...] = ()  # type codes, e.g. ('A', 'd')
    symbols: tuple[str, ...] = ()
    start_ns: int | None = None  # inclusive; a message of unknown time is outside any window
    end_ns: int | None = None  # inclusive
    order_id: int | IdReading | None = None
    side: str | None = None  # 'B' or 'S'
    file_id: int | None = None
    file_name: str = field(default="", compare=False)  # for the sentence only

    def where(self) -> tuple[str, list, str]:
        """``(where_sql, params, sentence)``; where_sql is '' when nothing is chosen."""
        where, params = _where([
            ("type", self.types), ("symbol", self.symbols), ("time_ns >= ?", self.start_ns),
            ("time_ns <= ?", self.end_ns), ("order_id = ?", _order_clause(self.order_id)),
            ("side = ?", self.side), ("file_id = ?", self.file_id)])
        return where, params, self.sentence()

    def sentence(self) -> str:
        """The filter in words: "Add Order (Short) messages for AAPL between ..."."""
        kinds = _names(tuple(type_label(t) for t in self.types)) if self.types else "All"
        words = [f"{kinds} messages"]
        if self.side:
            words.append(f"on the {SIDES.get(self.side, self.side)} side")
        if self.symbols:
            words.append(f"for {_names(self.symbols)}")
        if self.order_id is not None:
            words.append(f"of order {_order_words(self.order_id)}")
        if self.start_ns is not None and self.end_ns is not None:
            words.append(f"between {fmt.hms(self.start_ns)} and {fmt.hms(self.end_ns)}")
        elif self.start_ns is not None:
            words.append(f"from {fmt.hms(self.start_ns)}")
        elif self.end_ns is not None:
            words.append(f"until {fmt.hms(self.end_ns)}")
        if self.file_id is not None:
            words.append(f"in file {self.file_name or self.file_id}")
        return " ".join(words)


@dataclass(frozen=True)
class OrderFilter:
    """What the Orders page lists. Empty tuples and None mean "any"."""

    symbols: tuple[str, ...] = ()
    side: str | None = None
    statuses: tuple[str, ...] = ()
    order_id: int | IdReading | None = None
    file_id: int | None = None
    file_name: str = field(default="", compare=False)  # for the sentence only

    def where(self, *, status_column: bool = False) -> tuple[str, list, str]:
        """``(where_sql, params, sentence)`` over the ``orders`` table.

        ``status_column`` tests ``status`` itself (for ``order_counts``, which
        has no ``remaining_shares``).
        """
        where, params = _where([
            ("symbol", self.symbols), ("side = ?", self.side),
            ("status", self.statuses if status_column else _status_clause(self.statuses)),
            ("order_id = ?", _order_clause(self.order_id)), ("file_id = ?", self.file_id)])
        return where, params, self.sentence()

    def sentence(self) -> str:
        """The filter in words: "Open or filled buy orders for AAPL"."""
        status = " or ".join(self.statuses) if self.statuses else "All"
        words = [status[:1].upper() + status[1:]]
        if self.side:
            words.append(SIDES.get(self.side, self.side))
        words.append("orders")
        if self.symbols:
            words.append(f"for {_names(self.symbols)}")
        if self.order_id is not None:
            words.append(f"with id {_order_words(self.order_id)}")
        if self.file_id is not None:
            words.append(f"in file {self.file_name or self.file_id}")
        return " ".join(words)
