"""A synthetic but consistent binary Multicast PITCH session, deterministic for a seed.

Every US-equities message type of :data:`pitch.layouts.BINARY_LAYOUTS` but the
options-only Symbol Mapping appears, encoded from the layout table
(:mod:`pitch.binary_encode`). Symbols are spread over several matching-engine
units; each unit numbers its messages from its own start, sends a Time message
whenever its second changes, and packs its messages into Sequenced Units of
at most about 1,400 bytes, interleaved on the wire. On request some units are
lost (gaps), sent twice (retransmissions) or heartbeats are sent.

:func:`session` also returns what a decoder must read back: the messages in
stream order as column values, the gaps and the duplicate count; this is what
the round-trip tests compare against.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import capture_write
from .binary_encode import encode, unit as pack_unit
from .layouts import BINARY_BY_TYPE_LENGTH, Layout

OPEN_S, CLOSE_S = 34_200, 57_600  # 09:30:00 and 16:00:00
NS = 1_000_000_000
MAX_UNIT_BYTES = 1_400
SYMBOLS = ("SPY", "QQQ", "AAPL", "TSLA", "NVDA", "AMD", "AMZN", "MSFT", "META", "IWM", "BAC",
           "F", "BRK.B", "GOOGL.WI", "ZVZZT", "BRK.A")
PARTICIPANTS = ("CDRG", "VIRT", "GSCO", "RTAL", "    ")


def _layout(type_byte: int, length: int | None = None) -> Layout:
    return BINARY_BY_TYPE_LENGTH[type_byte, length] if length else max(
        (l for (t, _), l in BINARY_BY_TYPE_LENGTH.items() if t == type_byte),
        key=lambda l: l.length)


@dataclass
class Session:
    """The units on the wire and what reading them must give back."""

    units: list[bytes]
    messages: list[dict[str, Any]]  # stream order, as the decoders give them
    gaps: list[tuple[int, int, int, int]] = field(default_factory=list)
    duplicates: int = 0


class _Unit:
    """One matching-engine unit: its sequence numbers, its Time, its messages in flight."""

    def __init__(self, number: int, first_sequence: int) -> None:
        self.number = number
        self.next_sequence = first_sequence
        self.second: int | None = None
        self.pending: list[tuple[bytes, dict[str, Any]]] = []
        self.size = 8


class _Generator:
    def __init__(self, n: int, seed: int, n_units: int) -> None:
        self.rng = random.Random(seed)
        self.n = n
        self.units = [_Unit(u, self.rng.randrange(1, 1_000_000)) for u in range(1, n_units + 1)]
        self.unit_of = {s: self.units[i % n_units] for i, s in enumerate(SYMBOLS)}
        self.mid = {s: Decimal(self.rng.randrange(500, 50_000)) / 100 for s in SYMBOLS}
        self.mid["BRK.A"] = Decimal("612345.5000")  # only the long forms carry this price
        self.live: dict[int, list] = {}  # order id -> [symbol, side, shares, price]
        self.next_id = self.rng.randrange(1 << 40, 1 << 60)
        self.next_exec = self.rng.randrange(1 << 40, 1 << 60)
        self.execs: list[int] = []
        self.ns = OPEN_S * NS
        self.out: list[tuple[_Unit, list[tuple[bytes, dict[str, Any]]]]] = []  # packed units
        self.count = 0

    # -- writing messages --------------------------------------------------------------
    def emit(self, u: _Unit, type_byte: int, length: int | None = None, **values: Any) -> None:
        second, offset = divmod(self.ns, NS)
        if u.second != second:
            u.second = second
            self._put(u, _layout(0x20), {"time_ns": second})
        self._put(u, _layout(type_byte, length), {"time_offset_ns": offset, **values})

    def _put(self, u: _Unit, layout: Layout, values: dict[str, Any]) -> None:
        raw = encode(layout, values)
        if u.size + len(raw) > MAX_UNIT_BYTES or len(u.pending) == 255:
            self.flush(u)
        columns = {f.column for f in layout.fields}
        record = {"type": layout.code, "unit": u.number,
                  **{c: v for c, v in values.items() if c in columns and v != ""}}
        if layout.type_id == 0x20:
            record["time_ns"] = values["time_ns"] * NS
        else:
            record["time_ns"] = u.second * NS + values["time_offset_ns"]
        u.pending.append((raw, record))
        u.size += len(raw)
        self.count += 1

    def flush(self, u: _Unit) -> None:
        if u.pending:
            self.out.append((u, u.pending))
            u.pending, u.size = [], 8

    # -- the session ---------------------------------------------------------------------
    def price(self, symbol: str) -> Decimal:
        mid = self.mid[symbol]
        step = Decimal("0.01") if mid < 1000 else Decimal("1")
        self.mid[symbol] = max(step, mid + step * self.rng.choice((-1, 0, 0, 1)))
        return self.mid[symbol]

    def add(self) -> None:
        symbol = self.rng.choice(SYMBOLS[:-1] if self.rng.random() < 0.97 else SYMBOLS)
        side, shares, price = self.rng.choice("BS"), self.rng.choice((100, 200, 300, 500, 70_000)), \
            self.price(symbol)
        self.next_id += self.rng.randrange(1, 1000)
        oid = self.next_id
        u = self.unit_of[symbol]
        if len(symbol) > 6 or self.rng.random() < 0.05:
            self.emit(u, 0x2F, self.rng.choice((40, 41)), order_id=oid, side=side, shares=shares,
                      symbol=symbol, price=price, flags=1,
                      participant_id=self.rng.choice(PARTICIPANTS).rstrip(),
                      customer_indicator=self.rng.choice(" R").strip())
        elif shares > 65_535 or price > Decimal("655.35"):
            self.emit(u, 0x21, order_id=oid, side=side, shares=shares, symbol=symbol,
                      price=price, flags=1)
        else:
            self.emit(u, 0x22, order_id=oid, side=side, shares=shares, symbol=symbol,
                      price=price, flags=1)
        self.live[oid] = [symbol, side, shares, price]

    def change(self) -> None:
        oid = self.rng.choice(list(self.live))
        symbol, side, shares, price = self.live[oid]
        u = self.unit_of[symbol]
        roll = self.rng.random()
        if roll < 0.35:  # reduce
            q = self.rng.randrange(1, shares + 1)
            short = q < 65_536 and self.rng.random() < 0.7
            self.emit(u, 0x26 if short else 0x25, order_id=oid, shares=q)
            self.live[oid][2] -= q
        elif roll < 0.55:  # delete
            self.emit(u, 0x29, order_id=oid)
            self.live[oid][2] = 0
        elif roll < 0.75:  # modify
            q = max(1, shares + self.rng.choice((-100, -50, 0, 100)))
            p = self.price(symbol)
            short = q < 65_536 and p <= Decimal("655.35") and self.rng.random() < 0.6
            self.emit(u, 0x28 if short else 0x27, order_id=oid, shares=q, price=p,
                      flags=self.rng.choice((1, 3)))
            self.live[oid][2:] = [q, p]
        else:  # an execution, at the order's price or at its own
            q = self.rng.randrange(1, shares + 1)
            self.next_exec += self.rng.randrange(1, 50)
            self.execs.append(self.next_exec)
            if roll < 0.92:
                self.emit(u, 0x23, order_id=oid, shares=q, execution_id=self.next_exec)
                self.live[oid][2] -= q
            else:
                left = self.rng.randrange(0, shares - q + 1)
                self.emit(u, 0x24, order_id=oid, shares=q, remaining_shares=left,
                          execution_id=self.next_exec, price=price + Decimal("0.0001"))
                self.live[oid][2] = left
        if self.live[oid][2] == 0:
            del self.live[oid]

    def trade(self) -> None:
        symbol = self.rng.choice(SYMBOLS)
        q, p = self.rng.randrange(1, 2000), self.price(symbol)
        self.next_exec += 1
        self.execs.append(self.next_exec)
        kind = 0x30 if len(symbol) > 6 else (0x2B if p <= Decimal("655.35") and
                                            self.rng.random() < 0.6 else 0x2A)
        self.emit(self.unit_of[symbol], kind, order_id=self.rng.randrange(1, 1 << 63), side="B",
                  shares=q, symbol=symbol, price=p, execution_id=self.next_exec)

    def rare(self) -> None:
        symbol = self.rng.choice(SYMBOLS)
        u = self.unit_of[symbol]
        kind = self.rng.choice((0x2C, 0x31, 0x95, 0x96, 0x98))
        if kind == 0x2C and self.execs:
            self.emit(u, 0x2C, execution_id=self.execs.pop(self.rng.randrange(len(self.execs))))
        elif kind == 0x31:
            self.emit(u, 0x31, symbol=symbol, halt_status=self.rng.choice("AHQST"),
                      reg_sho_action=self.rng.choice("01"))
        elif kind == 0x95:
            p = self.mid[symbol]
            self.emit(u, 0x95, symbol=symbol, auction_type=self.rng.choice("OCHIMPV"),
                      reference_price=p, buy_shares=self.rng.randrange(10_000),
                      sell_shares=self.rng.randrange(10_000), indicative_price=p,
                      auction_only_price=p)
        elif kind == 0x96:
            self.emit(u, 0x96, symbol=symbol, auction_type=self.rng.choice("OCH"),
                      price=self.mid[symbol], shares=self.rng.randrange(1, 100_000))
        else:
            self.emit(u, 0x98, symbol=symbol, rpi=self.rng.choice("BSAN"))

    def run(self) -> None:
        gap = (CLOSE_S - OPEN_S - 60) * NS // max(self.n, 1)
        cleared = False  # one unit clear, mid-session
        while self.count < self.n - len(self.units):
            # Bursty, as market data is: most messages microseconds apart, then a pause.
            self.ns += (self.rng.randrange(0, 50_000) if self.rng.random() < 0.85
                        else self.rng.randrange(0, int(2 * gap / 0.15) + 1))
            if not cleared and self.count >= self.n // 2:
                cleared, u = True, self.units[0]
                self.emit(u, 0x97)
                self.live = {o: v for o, v in self.live.items() if self.unit_of[v[0]] is not u}
            roll = self.rng.random()
            if roll < 0.45 or len(self.live) < 20:
                self.add()
            elif roll < 0.93:
                self.change()
            elif roll < 0.98:
                self.trade()
            else:
                self.rare()
            if self.rng.random() < 0.15:  # units leave when they will: interleave them
                self.flush(self.rng.choice(self.units))
        self.ns = (CLOSE_S - 1) * NS
        for u in self.units:
            self.emit(u, 0x2D)
            self.flush(u)


def session(n: int, seed: int = 0, *, n_units: int = 4, gaps: bool = False,
            retransmissions: bool = False, heartbeats: bool = False) -> Session:
    """About ``n`` messages (every type once ``n`` reaches a few thousand) as Sequenced Units.

    Each unit payload is one packet (a pcap frame, or a block of a raw unit
    file), so a message's ``packet`` is its unit's position on the wire.
    """
    g = _Generator(n, seed, n_units)
    g.run()
    rng = random.Random(seed + 1)
    out = Session([], [])
    dropped: dict[int, list[list[int]]] = {}
    sent: list[tuple[bytes, int]] = []
    last_index = {u.number: i for i, (u, _) in enumerate(g.out)}
    for i, (u, msgs) in enumerate(g.out):
        seq = u.next_sequence
        u.next_sequence += len(msgs)
        lose = (gaps and rng.random() < 0.05 and i != last_index[u.number]
                and not any(r["type"] == "0x20" for _, r in msgs))
        if lose:  # never on the wire (a Time message never is lost, so times stay exact)
            runs = dropped.setdefault(u.number, [])
            if runs and runs[-1][0] + runs[-1][1] == seq:
                runs[-1][1] += len(msgs)
            else:
                runs.append([seq, len(msgs)])
            continue
        payload = pack_unit(seq, u.number, [raw for raw, _ in msgs])
        out.units.append(payload)
        for k, (_, record) in enumerate(msgs):
            out.messages.append({**record, "sequence": seq + k, "packet": len(out.units)})
        sent.append((payload, len(msgs)))
        if heartbeats and rng.random() < 0.05:
            out.units.append(pack_unit(u.next_sequence, u.number, []))
        if retransmissions and rng.random() < 0.03:
            payload, count = sent[rng.randrange(len(sent))]
            out.units.append(payload)
            out.duplicates += count
    for number, runs in sorted(dropped.items()):
        out.gaps += [(number, seq, seq + count, count) for seq, count in runs]
    for line, m in enumerate(out.messages, 1):
        m["line_no"] = line
    return out


def write_file(path: str | Path, fmt: str, n_messages: int, seed: int = 0, **options: bool
               ) -> int:
    """Write a session as a pcap or a raw unit file (gzip when ``path`` ends in ``.gz``).

    ``options`` are :func:`session`'s gaps, retransmissions and heartbeats.
    Returns the bytes written (before compression).
    """
    units = session(n_messages, seed, **options).units
    data = capture_write.write_pcap(units) if fmt == "pcap" else capture_write.write_units(units)
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as fh:
        fh.write(data)
    return len(data)
