"""The one declaration of every text PITCH message layout.

Everything else derives from this table: the reference decoder, the fast
columnar decoder, the DuckDB schema of ``messages`` and the README's schema
section. Offsets exclude the leading ``S`` packet type (see
``pitch-formats.md`` 1.3). Adding a message type is one entry here plus tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    """How a field's bytes are encoded on the wire."""

    NUMERIC = "numeric"  # zero-padded ASCII digits
    BASE36 = "base36"  # 12 chars [0-9A-Z]
    PRICE = "price"  # digits with 4 implied decimals
    ALPHA = "alpha"  # printable ASCII, right-padded with spaces
    CODE = "code"  # one printable character out of a fixed set


#: DuckDB type of a column, by field kind. Ids are unsigned 64-bit so binary
#: Multicast PITCH (u64 ids) fits later; prices hold the 14-digit long prices.
SQL_TYPES: dict[Kind, str] = {
    Kind.NUMERIC: "BIGINT",
    Kind.BASE36: "UBIGINT",
    Kind.PRICE: "DECIMAL(18,4)",
    Kind.ALPHA: "VARCHAR",
    Kind.CODE: "VARCHAR",
}

PRICE_SCALE = 10_000
TIMESTAMP_WIDTH = 8  # milliseconds since midnight, offset 0
TYPE_OFFSET = 8
NS_PER_MS = 1_000_000


@dataclass(frozen=True)
class Field:
    """One fixed-width field of a message."""

    name: str  # the spec's name
    column: str  # the ``messages`` column it lands in
    offset: int
    width: int
    kind: Kind
    values: str = ""  # allowed characters, for Kind.CODE
    required: bool = False  # an ALPHA field that may not be blank

    @property
    def end(self) -> int:
        return self.offset + self.width


@dataclass(frozen=True)
class Layout:
    """One message type at one total length (``d`` has two)."""

    code: str
    type_id: int  # the old system's id for the first 11 types
    name: str
    length: int  # message length without the leading ``S``
    fields: tuple[Field, ...]


def _symbol(offset: int, width: int) -> Field:
    return Field("Stock Symbol", "symbol", offset, width, Kind.ALPHA, required=True)


def _order_id() -> Field:
    return Field("Order ID", "order_id", 9, 12, Kind.BASE36)


def _side() -> Field:
    return Field("Side Indicator", "side", 21, 1, Kind.CODE, "BS")


def _shares(offset: int, width: int, name: str = "Shares") -> Field:
    return Field(name, "shares", offset, width, Kind.NUMERIC)


def _price(column: str, offset: int, width: int, name: str = "Price") -> Field:
    return Field(name, column, offset, width, Kind.PRICE)


def _exec_id(offset: int) -> Field:
    return Field("Execution ID", "execution_id", offset, 12, Kind.BASE36)


AUCTION_TYPES = "OCHIMPGV"
_DISPLAY = "YN"


def _auction_update(code: str, type_id: int, name: str, price_width: int) -> Layout:
    p = price_width
    return Layout(code, type_id, name, 18 + p + 20 + p + p, (
        _symbol(9, 8),
        Field("Auction Type", "auction_type", 17, 1, Kind.CODE, AUCTION_TYPES),
        _price("reference_price", 18, p, "Reference Price"),
        Field("Buy Shares", "buy_shares", 18 + p, 10, Kind.NUMERIC),
        Field("Sell Shares", "sell_shares", 28 + p, 10, Kind.NUMERIC),
        _price("indicative_price", 38 + p, p, "Indicative Price"),
        _price("auction_only_price", 38 + 2 * p, p, "Auction Only Price"),
    ))


def _auction_summary(code: str, type_id: int, name: str, price_width: int) -> Layout:
    p = price_width
    return Layout(code, type_id, name, 28 + p, (
        _symbol(9, 8),
        Field("Auction Type", "auction_type", 17, 1, Kind.CODE, AUCTION_TYPES),
        _price("price", 18, p),
        _shares(18 + p, 10),
    ))


def _add_long(code: str, type_id: int, name: str, price_width: int, customer: bool) -> Layout:
    p = price_width
    fields = (
        _order_id(), _side(), _shares(22, 6), _symbol(28, 8), _price("price", 36, p),
        Field("Display", "display", 36 + p, 1, Kind.CODE, _DISPLAY),
        Field("Participant ID", "participant_id", 37 + p, 4, Kind.ALPHA),
    )
    if customer:
        fields += (Field("Customer Indicator", "customer_indicator", 41 + p, 1, Kind.ALPHA),)
    return Layout(code, type_id, name, 41 + p + int(customer), fields)


def _trade(code: str, type_id: int, name: str, symbol_width: int, price_width: int) -> Layout:
    s, p = symbol_width, price_width
    return Layout(code, type_id, name, 28 + s + p + 12, (
        _order_id(), _side(), _shares(22, 6), _symbol(28, s), _price("price", 28 + s, p),
        _exec_id(28 + s + p),
    ))


LAYOUTS: tuple[Layout, ...] = (
    Layout("s", 0, "Symbol Clear", 17, (_symbol(9, 8),)),
    Layout("A", 1, "Add Order (Short)", 45, (
        _order_id(), _side(), _shares(22, 6), _symbol(28, 6), _price("price", 34, 10),
        Field("Display", "display", 44, 1, Kind.CODE, _DISPLAY),
    )),
    _add_long("d", 2, "Add Order (Long)", 10, customer=True),
    _add_long("d", 2, "Add Order (Long)", 10, customer=False),  # older 51-byte form
    Layout("E", 3, "Order Executed", 39, (
        _order_id(), _shares(21, 6, "Executed Shares"), _exec_id(27),
    )),
    Layout("X", 4, "Order Cancel", 27, (_order_id(), _shares(21, 6, "Canceled Shares"))),
    _trade("P", 5, "Trade (Short)", 6, 10),
    _trade("r", 6, "Trade (Long)", 8, 10),
    Layout("B", 7, "Trade Break", 21, (_exec_id(9),)),
    Layout("H", 8, "Trading Status", 21, (
        _symbol(9, 8),
        Field("Halt Status", "halt_status", 17, 1, Kind.CODE, "AHQST"),
        Field("Reg SHO Action", "reg_sho_action", 18, 1, Kind.CODE, "01"),
        # bytes 19-20 are Reserved1/Reserved2: printable, not stored
    )),
    _auction_update("I", 9, "Auction Update", 10),
    _auction_summary("J", 10, "Auction Summary", 10),
    Layout("R", 11, "Retail Price Improvement", 18, (
        _symbol(9, 8),
        Field("Retail Price Improvement", "rpi", 17, 1, Kind.CODE, "BSAN"),
    )),
    _add_long("1", 12, "Add Order Extended", 14, customer=True),
    _trade("2", 13, "Trade Extended", 8, 14),
    _auction_update("3", 14, "Extended Auction Update", 14),
    _auction_summary("4", 15, "Extended Auction Summary", 14),
)

#: Layouts by (type byte, total length without ``S``).
BY_CODE_LENGTH: dict[tuple[str, int], Layout] = {(l.code, l.length): l for l in LAYOUTS}

#: Layouts by type code, for error messages about lengths.
BY_CODE: dict[str, list[Layout]] = {}
for _l in LAYOUTS:
    BY_CODE.setdefault(_l.code, []).append(_l)

#: (code, id, name) of every message type, in id order: the message_types table.
MESSAGE_TYPES: tuple[tuple[str, int, str], ...] = tuple(
    sorted({(l.code, l.type_id, l.name) for l in LAYOUTS}, key=lambda t: t[1])
)

#: Type codes of the messages that add an order / report a trade.
ADD_CODES = tuple(sorted({l.code for l in LAYOUTS if l.fields[0].column == "order_id"
                          and any(f.column == "display" for f in l.fields)}))
TRADE_CODES = tuple(sorted({l.code for l in LAYOUTS
                            if any(f.column == "execution_id" for f in l.fields)
                            and any(f.column == "symbol" for f in l.fields)}))


def _columns() -> dict[str, Kind]:
    cols: dict[str, Kind] = {}
    for layout in LAYOUTS:
        for f in layout.fields:
            known = cols.setdefault(f.column, f.kind)
            if SQL_TYPES[known] != SQL_TYPES[f.kind]:
                raise ValueError(f"column {f.column} declared with two types")
    return cols


#: Field columns of ``messages`` (after file_id, line_no, time_ns, type), in
#: order of first appearance in LAYOUTS.
FIELD_COLUMNS: dict[str, Kind] = _columns()


#: The high-volume types (clears, adds, executions, cancels, trades, breaks).
#: They are stored in a narrow table holding only their own columns, since
#: every stored column costs DuckDB write time even when it is all NULL; the
#: other types go to a table with every column (see :mod:`pitch.store`).
COMMON_CODES: tuple[str, ...] = ("s", "A", "E", "X", "P", "B")

#: Field columns the common types use, in FIELD_COLUMNS order.
COMMON_COLUMNS: dict[str, Kind] = {
    col: kind for col, kind in FIELD_COLUMNS.items()
    if any(f.column == col for l in LAYOUTS if l.code in COMMON_CODES for f in l.fields)
}
