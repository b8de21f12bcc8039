"""The one declaration of every PITCH message layout, text and binary, with its meaning.

Everything else derives from this table: the reference decoders, the fast
columnar decoders, the DuckDB schema of ``messages``, the message-type names,
which types add, execute, cancel or trade (:class:`Role`), and the README's
schema section. Text offsets exclude the leading ``S`` packet type (see
``pitch-formats.md`` 1.3); binary offsets include the 2-byte length/type
header (2.3). Adding a message type is one entry here plus tests.
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
    # binary Multicast PITCH (little-endian)
    UINT = "uint"  # unsigned integer of 1, 2 or 4 bytes
    ID = "id"  # unsigned 64-bit order or execution id
    PRICE_SHORT = "price_short"  # u16 with 2 implied decimals
    PRICE_LONG = "price_long"  # u64 with 4 implied decimals
    SECONDS = "seconds"  # u32 seconds since midnight (the Time message)


class Role(str, Enum):
    """What a message type means for orders, the book and the pages."""

    ADD = "add"  # starts an order
    EXECUTE = "execute"  # executes shares of an order at its current price
    EXECUTE_AT_PRICE = "execute_at_price"  # at its own price; Remaining Qty sets what is left
    CANCEL = "cancel"  # cancels some shares of an order
    MODIFY = "modify"  # new quantity and price, same id
    DELETE = "delete"  # cancels what remains of an order
    TRADE = "trade"  # an execution of an undisplayed order (never on the book)
    BREAK = "break"  # breaks an earlier execution
    CLEAR_SYMBOL = "clear_symbol"
    CLEAR_UNIT = "clear_unit"  # cancels every open order of its unit
    STATUS = "status"  # trading status
    AUCTION_UPDATE = "auction_update"
    AUCTION_SUMMARY = "auction_summary"
    RPI = "rpi"  # retail price improvement
    TIME = "time"  # binary: whole seconds for the unit's later messages
    END_OF_SESSION = "end_of_session"
    SYMBOL_MAPPING = "symbol_mapping"  # options feeds only


TEXT, BINARY = "text", "binary"


#: DuckDB type of a column, by field kind. Ids are unsigned 64-bit so binary
#: Multicast PITCH (u64 ids) fits later; prices hold the 14-digit long prices.
SQL_TYPES: dict[Kind, str] = {
    Kind.NUMERIC: "BIGINT",
    Kind.BASE36: "UBIGINT",
    Kind.PRICE: "DECIMAL(18,4)",
    Kind.ALPHA: "VARCHAR",
    Kind.CODE: "VARCHAR",
    Kind.UINT: "BIGINT",
    Kind.ID: "UBIGINT",
    Kind.PRICE_SHORT: "DECIMAL(18,4)",
    Kind.PRICE_LONG: "DECIMAL(18,4)",
    Kind.SECONDS: "BIGINT",
}
#: Kinds holding a price, ids.
PRICE_KINDS = (Kind.PRICE, Kind.PRICE_SHORT, Kind.PRICE_LONG)
ID_KINDS = (Kind.BASE36, Kind.ID)

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
    """One message type at one total length (``d`` and ``0x2F`` have two)."""

    code: str  # text: the type character; binary: "0x" and two upper-case hex digits
    type_id: int  # text: the old system's id; binary: the type byte
    name: str
    length: int  # text: without the leading ``S``; binary: the length byte
    fields: tuple[Field, ...]
    role: Role
    feed: str = TEXT  # TEXT or BINARY


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
    return Layout(code, type_id, name, 18 + p + 20 + p + p, role=Role.AUCTION_UPDATE, fields=(
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
    return Layout(code, type_id, name, 28 + p, role=Role.AUCTION_SUMMARY, fields=(
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
    return Layout(code, type_id, name, 41 + p + int(customer), fields, Role.ADD)


def _trade(code: str, type_id: int, name: str, symbol_width: int, price_width: int) -> Layout:
    s, p = symbol_width, price_width
    return Layout(code, type_id, name, 28 + s + p + 12, role=Role.TRADE, fields=(
        _order_id(), _side(), _shares(22, 6), _symbol(28, s), _price("price", 28 + s, p),
        _exec_id(28 + s + p),
    ))


LAYOUTS: tuple[Layout, ...] = (
    Layout("s", 0, "Symbol Clear", 17, (_symbol(9, 8),), Role.CLEAR_SYMBOL),
    Layout("A", 1, "Add Order (Short)", 45, role=Role.ADD, fields=(
        _order_id(), _side(), _shares(22, 6), _symbol(28, 6), _price("price", 34, 10),
        Field("Display", "display", 44, 1, Kind.CODE, _DISPLAY),
    )),
    _add_long("d", 2, "Add Order (Long)", 10, customer=True),
    _add_long("d", 2, "Add Order (Long)", 10, customer=False),  # older 51-byte form
    Layout("E", 3, "Order Executed", 39, role=Role.EXECUTE, fields=(
        _order_id(), _shares(21, 6, "Executed Shares"), _exec_id(27),
    )),
    Layout("X", 4, "Order Cancel", 27, (_order_id(), _shares(21, 6, "Canceled Shares")),
           Role.CANCEL),
    _trade("P", 5, "Trade (Short)", 6, 10),
    _trade("r", 6, "Trade (Long)", 8, 10),
    Layout("B", 7, "Trade Break", 21, (_exec_id(9),), Role.BREAK),
    Layout("H", 8, "Trading Status", 21, role=Role.STATUS, fields=(
        _symbol(9, 8),
        Field("Halt Status", "halt_status", 17, 1, Kind.CODE, "AHQST"),
        Field("Reg SHO Action", "reg_sho_action", 18, 1, Kind.CODE, "01"),
        # bytes 19-20 are Reserved1/Reserved2: printable, not stored
    )),
    _auction_update("I", 9, "Auction Update", 10),
    _auction_summary("J", 10, "Auction Summary", 10),
    Layout("R", 11, "Retail Price Improvement", 18, role=Role.RPI, fields=(
        _symbol(9, 8),
        Field("Retail Price Improvement", "rpi", 17, 1, Kind.CODE, "BSAN"),
    )),
    _add_long("1", 12, "Add Order Extended", 14, customer=True),
    _trade("2", 13, "Trade Extended", 8, 14),
    _auction_update("3", 14, "Extended Auction Update", 14),
    _auction_summary("4", 15, "Extended Auction Summary", 14),
)

# --- binary Multicast PITCH (pitch-formats.md 2.3, US equities) ----------------------------

def _offset() -> Field:
    return Field("Time Offset", "time_offset_ns", 2, 4, Kind.UINT)


def _b_id(offset: int = 6) -> Field:
    return Field("Order Id", "order_id", offset, 8, Kind.ID)


def _b_side() -> Field:
    return Field("Side Indicator", "side", 14, 1, Kind.CODE, "BS")


def _b_qty(offset: int, width: int, name: str = "Quantity") -> Field:
    return Field(name, "shares", offset, width, Kind.UINT)


def _b_price(offset: int, long: bool, column: str = "price", name: str = "Price") -> Field:
    return Field(name, column, offset, 8 if long else 2,
                 Kind.PRICE_LONG if long else Kind.PRICE_SHORT)


def _b_symbol(offset: int, width: int) -> Field:
    return Field("Symbol", "symbol", offset, width, Kind.ALPHA, required=True)


def _b_exec(offset: int) -> Field:
    return Field("Execution Id", "execution_id", offset, 8, Kind.ID)


def _b_flags(offset: int, name: str) -> Field:
    return Field(name, "flags", offset, 1, Kind.UINT)


def _binary(type_byte: int, name: str, length: int, role: Role, *fields: Field,
            offset: bool = True) -> Layout:
    return Layout(f"0x{type_byte:02X}", type_byte, name, length,
                  ((_offset(),) if offset else ()) + fields, role, BINARY)


def _b_add(type_byte: int, name: str, length: int, long: bool, symbol_width: int,
           expanded: bool) -> Layout:
    q = 4 if long else 2
    sym_at = 15 + q
    price_at = sym_at + symbol_width
    p = 8 if long else 2
    fields = [_b_id(), _b_side(), _b_qty(15, q), _b_symbol(sym_at, symbol_width),
              _b_price(price_at, long), _b_flags(price_at + p, "Add Flags")]
    if expanded:
        fields.append(Field("Participant ID", "participant_id", price_at + p + 1, 4, Kind.ALPHA))
        if length > price_at + p + 5:
            fields.append(Field("Customer Indicator", "customer_indicator", price_at + p + 5, 1,
                                Kind.ALPHA))
    return _binary(type_byte, name, length, Role.ADD, *fields)


def _b_trade(type_byte: int, name: str, long: bool, symbol_width: int) -> Layout:
    q = 4 if long else 2
    sym_at = 15 + q
    price_at = sym_at + symbol_width
    p = 8 if long else 2
    return _binary(type_byte, name, price_at + p + 8, Role.TRADE, _b_id(), _b_side(),
                   _b_qty(15, q), _b_symbol(sym_at, symbol_width), _b_price(price_at, long),
                   _b_exec(price_at + p))


def _b_auction_update(type_byte: int) -> Layout:
    return _binary(type_byte, "Auction Update", 47, Role.AUCTION_UPDATE, _b_symbol(6, 8),
                   Field("Auction Type", "auction_type", 14, 1, Kind.CODE, AUCTION_TYPES),
                   _b_price(15, True, "reference_price", "Reference Price"),
                   Field("Buy Shares", "buy_shares", 23, 4, Kind.UINT),
                   Field("Sell Shares", "sell_shares", 27, 4, Kind.UINT),
                   _b_price(31, True, "indicative_price", "Indicative Price"),
                   _b_price(39, True, "auction_only_price", "Auction Only Price"))


BINARY_LAYOUTS: tuple[Layout, ...] = (
    _binary(0x20, "Time", 6, Role.TIME, Field("Time", "time_ns", 2, 4, Kind.SECONDS),
            offset=False),
    _b_add(0x21, "Add Order Long", 34, True, 6, False),
    _b_add(0x22, "Add Order Short", 26, False, 6, False),
    _binary(0x23, "Order Executed", 26, Role.EXECUTE, _b_id(),
            _b_qty(14, 4, "Executed Quantity"), _b_exec(18)),
    _binary(0x24, "Order Executed at Price/Size", 38, Role.EXECUTE_AT_PRICE, _b_id(),
            _b_qty(14, 4, "Executed Quantity"),
            Field("Remaining Quantity", "remaining_shares", 18, 4, Kind.UINT),
            _b_exec(22), _b_price(30, True)),
    _binary(0x25, "Reduce Size Long", 18, Role.CANCEL, _b_id(),
            _b_qty(14, 4, "Canceled Quantity")),
    _binary(0x26, "Reduce Size Short", 16, Role.CANCEL, _b_id(),
            _b_qty(14, 2, "Canceled Quantity")),
    _binary(0x27, "Modify Order Long", 27, Role.MODIFY, _b_id(), _b_qty(14, 4),
            _b_price(18, True), _b_flags(26, "Modify Flags")),
    _binary(0x28, "Modify Order Short", 19, Role.MODIFY, _b_id(), _b_qty(14, 2),
            _b_price(16, False), _b_flags(18, "Modify Flags")),
    _binary(0x29, "Delete Order", 14, Role.DELETE, _b_id()),
    _b_trade(0x2A, "Trade Long", True, 6),
    _b_trade(0x2B, "Trade Short", False, 6),
    _binary(0x2C, "Trade Break", 14, Role.BREAK, _b_exec(6)),
    _binary(0x2D, "End of Session", 6, Role.END_OF_SESSION),
    # Options feeds only; no Time Offset; 30 bytes before the Underlying was added.
    _binary(0x2E, "Symbol Mapping", 38, Role.SYMBOL_MAPPING,
            Field("Feed Symbol", "symbol", 2, 6, Kind.ALPHA, required=True),
            Field("OSI Symbol", "osi_symbol", 8, 21, Kind.ALPHA),
            Field("Symbol Condition", "symbol_condition", 29, 1, Kind.CODE, "NC"),
            Field("Underlying", "underlying", 30, 8, Kind.ALPHA), offset=False),
    _binary(0x2E, "Symbol Mapping", 30, Role.SYMBOL_MAPPING,
            Field("Feed Symbol", "symbol", 2, 6, Kind.ALPHA, required=True),
            Field("OSI Symbol", "osi_symbol", 8, 21, Kind.ALPHA),
            Field("Symbol Condition", "symbol_condition", 29, 1, Kind.CODE, "NC"), offset=False),
    _b_add(0x2F, "Add Order Expanded", 41, True, 8, True),
    _b_add(0x2F, "Add Order Expanded", 40, True, 8, True),  # before Customer Indicator
    _b_trade(0x30, "Trade Expanded", True, 8),
    _binary(0x31, "Trading Status", 18, Role.STATUS, _b_symbol(6, 8),
            Field("Trading Status", "halt_status", 14, 1, Kind.CODE, "AHQST"),
            Field("Reg SHO Action", "reg_sho_action", 15, 1, Kind.CODE, "01")),
            # bytes 16-17 reserved
    _b_auction_update(0x95),
    _binary(0x96, "Auction Summary", 27, Role.AUCTION_SUMMARY, _b_symbol(6, 8),
            Field("Auction Type", "auction_type", 14, 1, Kind.CODE, AUCTION_TYPES),
            _b_price(15, True), Field("Shares", "shares", 23, 4, Kind.UINT)),
    _binary(0x97, "Unit Clear", 6, Role.CLEAR_UNIT),
    _binary(0x98, "Retail Price Improvement", 15, Role.RPI, _b_symbol(6, 8),
            Field("Retail Price Improvement", "rpi", 14, 1, Kind.CODE, "BSAN")),
)

#: Every layout, text then binary.
ALL_LAYOUTS: tuple[Layout, ...] = LAYOUTS + BINARY_LAYOUTS

#: Text layouts by (type byte, total length without ``S``).
BY_CODE_LENGTH: dict[tuple[str, int], Layout] = {(l.code, l.length): l for l in LAYOUTS}

#: Text layouts by type code, for error messages about lengths.
BY_CODE: dict[str, list[Layout]] = {}
for _l in LAYOUTS:
    BY_CODE.setdefault(_l.code, []).append(_l)

#: Binary layouts by (type byte, length byte), and the lengths each type byte allows.
BINARY_BY_TYPE_LENGTH: dict[tuple[int, int], Layout] = {
    (l.type_id, l.length): l for l in BINARY_LAYOUTS}
BINARY_LENGTHS: dict[int, tuple[int, ...]] = {}
for _l in BINARY_LAYOUTS:
    BINARY_LENGTHS[_l.type_id] = tuple(sorted(BINARY_LENGTHS.get(_l.type_id, ()) + (_l.length,)))

#: (code, id, name) of every message type, text in id order then binary: ``message_types``.
MESSAGE_TYPES: tuple[tuple[str, int, str], ...] = tuple(
    sorted({(l.code, l.type_id, l.name) for l in ALL_LAYOUTS},
           key=lambda t: (t[0].startswith("0x"), t[1])))

#: Name of every type code ("A" -> "Add Order (Short)", "0x22" -> "Add Order Short").
TYPE_NAMES: dict[str, str] = {code: name for code, _, name in MESSAGE_TYPES}

#: Role of every type code.
ROLES: dict[str, Role] = {l.code: l.role for l in ALL_LAYOUTS}


def codes(*roles: Role, feed: str | None = None) -> tuple[str, ...]:
    """Type codes with one of ``roles`` (of one feed, or both), in table order."""
    return tuple(dict.fromkeys(l.code for l in ALL_LAYOUTS
                               if l.role in roles and (feed is None or l.feed == feed)))


#: Types that add an order, report a trade, execute, cancel, break.
ADD_CODES = codes(Role.ADD)
TRADE_CODES = codes(Role.TRADE)
EXECUTE_CODES = codes(Role.EXECUTE, Role.EXECUTE_AT_PRICE)
BREAK_CODES = codes(Role.BREAK)
#: Types that change an existing order (executions, cancels, modifies, deletes).
EVENT_ROLES = (Role.EXECUTE, Role.EXECUTE_AT_PRICE, Role.CANCEL, Role.MODIFY, Role.DELETE)
EVENT_CODES = codes(*EVENT_ROLES)


def _columns(layouts: tuple[Layout, ...]) -> dict[str, Kind]:
    cols: dict[str, Kind] = {}
    for layout in layouts:
        for f in layout.fields:
            if f.kind is Kind.SECONDS:  # the Time message's seconds live in time_ns
                continue
            known = cols.setdefault(f.column, f.kind)
            if SQL_TYPES[known] != SQL_TYPES[f.kind]:
                raise ValueError(f"column {f.column} declared with two types")
    return cols


#: Field columns of ``messages`` (after file_id, line_no, time_ns, type), in
#: order of first appearance in ALL_LAYOUTS (text first).
FIELD_COLUMNS: dict[str, Kind] = _columns(ALL_LAYOUTS)
#: The field columns text messages use (the text decoder's columns).
TEXT_FIELD_COLUMNS: dict[str, Kind] = _columns(LAYOUTS)
#: The field columns binary messages use.
BINARY_FIELD_COLUMNS: dict[str, Kind] = _columns(BINARY_LAYOUTS)
#: Binary columns stored as unsigned integers as wide as their field, in bytes
#: (``unit``: the unit header's byte): less for DuckDB to compress and write.
#: pitch.store and pitch.binary type them from this; ``messages`` shows BIGINT.
BINARY_NARROW: dict[str, int] = {"unit": 1, "time_offset_ns": 4, "flags": 1}

#: Columns holding prices, ids (decoded to integers).
PRICE_COLUMNS = tuple(c for c, k in FIELD_COLUMNS.items() if k in PRICE_KINDS)
ID_COLUMNS = tuple(c for c, k in FIELD_COLUMNS.items() if k in ID_KINDS)

#: The roles of the high-volume types, stored apart in a narrow table.
HIGH_VOLUME_ROLES = (Role.CLEAR_SYMBOL, Role.ADD, Role.EXECUTE, Role.CANCEL, Role.TRADE,
                     Role.BREAK)


def _common_codes() -> tuple[str, ...]:
    """The shortest text form of each high-volume role (``A`` not ``d``, ``P`` not ``r``)."""
    shortest: dict[Role, Layout] = {}
    for l in LAYOUTS:
        if l.role in HIGH_VOLUME_ROLES and (l.role not in shortest
                                            or l.length < shortest[l.role].length):
            shortest[l.role] = l
    return tuple(shortest[r].code for r in HIGH_VOLUME_ROLES)


#: The binary types that are not high-volume (status, auctions, RPI, symbol mapping):
#: the binary decoder hands them over apart, so the frequent ones carry fewer columns.
BINARY_RARE_ROLES = (Role.STATUS, Role.AUCTION_UPDATE, Role.AUCTION_SUMMARY, Role.RPI,
                     Role.SYMBOL_MAPPING)


def _binary_common_codes() -> tuple[str, ...]:
    """Binary types of the frequent roles, less those with a column no other type has.

    Add Order Expanded (participant, customer indicator) and Executed at
    Price/Size (remaining quantity) would each widen every frequent row for a
    few per cent of them: they go with the rare types.
    """
    frequent = [l for l in BINARY_LAYOUTS if l.role not in BINARY_RARE_ROLES]
    users: dict[str, set[str]] = {}
    for l in frequent:
        for f in l.fields:
            users.setdefault(f.column, set()).add(l.code)
    return tuple(dict.fromkeys(l.code for l in frequent
                               if all(len(users[f.column]) > 1 or f.kind is Kind.SECONDS
                                      for f in l.fields)))


#: The frequent binary types, stored with only BINARY_COMMON_COLUMNS.
BINARY_COMMON_CODES: tuple[str, ...] = _binary_common_codes()
#: Field columns the frequent binary types use, in BINARY_FIELD_COLUMNS order.
BINARY_COMMON_COLUMNS: dict[str, Kind] = {
    col: kind for col, kind in BINARY_FIELD_COLUMNS.items()
    if any(f.column == col for l in BINARY_LAYOUTS if l.code in BINARY_COMMON_CODES
           for f in l.fields)}

#: The high-volume text types (clears, adds, executions, cancels, trades, breaks).
#: They are stored in a narrow table holding only their own columns, since
#: every stored column costs DuckDB write time even when it is all NULL; the
#: other text types go to a table with every text column (see :mod:`pitch.store`).
COMMON_CODES: tuple[str, ...] = _common_codes()

#: Field columns the common types use, in FIELD_COLUMNS order.
COMMON_COLUMNS: dict[str, Kind] = {
    col: kind for col, kind in TEXT_FIELD_COLUMNS.items()
    if any(f.column == col for l in LAYOUTS if l.code in COMMON_CODES for f in l.fields)
}
