"""A synthetic but consistent text PITCH session, deterministic for a seed.

Used for the committed sample (``data/sample.pitch``), the ingest benchmark
and tests. Every line is built from :data:`pitch.layouts.LAYOUTS` (one format
template per layout), so the generator cannot drift from the decoder.

What the session looks like:

- about 42 real-looking tickers (1-8 characters) with a popularity skew and a
  price that random-walks; symbols longer than 6 characters use the long
  forms (``d``, ``r``); one symbol priced above $999,999.9999 uses the
  extended forms (``1``-``4``);
- at 09:30:00.000 a trading status per symbol, opening auction updates and
  summaries, and retail price improvement for some symbols;
- then adds (~50 %), cancels (~42 %), executions (~4.5 %), hidden trades
  (~2.5 %) and a sprinkle of RPI, Reg SHO changes and trade breaks, with time
  advancing so the session ends near 16:00;
- twice, a halt: trading status ``H``, cancels of the symbol's orders, a
  symbol clear, halt auction updates and summary, trading status ``T``.

Order lifecycles are consistent: executions and cancels only touch live
orders and never exceed their open shares; an order id is reused only after
its order is fully gone; trade breaks name earlier executions. Once the
session has 1,000 messages or more, every message type appears.
"""

from __future__ import annotations

import gzip
import random
from itertools import islice
from pathlib import Path
from typing import BinaryIO, Iterator

from .layouts import PRICE_SCALE
from .text_encode import TEMPLATES, base36

OPEN_MS = 34_200_000  # 09:30:00.000
CLOSE_MS = 57_600_000  # 16:00:00.000


#: (ticker, opening price in dollars), most traded first.
SYMBOLS: tuple[tuple[str, float], ...] = (
    ("SPY", 452.10), ("QQQ", 381.44), ("AAPL", 189.25), ("TSLA", 242.68), ("NVDA", 478.02),
    ("AMD", 121.37), ("AMZN", 145.18), ("MSFT", 370.95), ("META", 331.12), ("IWM", 185.06),
    ("BAC", 30.12), ("F", 12.08), ("SOFI", 7.94), ("PLTR", 17.31), ("INTC", 44.02),
    ("GOOGL", 134.99), ("T", 16.45), ("NIO", 7.12), ("AAL", 13.88), ("XLF", 36.21),
    ("JPM", 155.60), ("PFE", 28.97), ("CCL", 17.02), ("SNAP", 11.43), ("RIVN", 18.27),
    ("MARA", 12.49), ("BABA", 78.31), ("UBER", 55.70), ("DIS", 90.12), ("WFC", 44.38),
    ("KO", 58.41), ("XOM", 104.77), ("NFLX", 461.03), ("GME", 14.92), ("BRK.B", 361.50),
    ("JPM.PRC", 24.85), ("WFC.PRZ", 19.40), ("GOOGL.WI", 135.20), ("LCID", 5.21),
    ("SIRI", 4.33), ("ZVZZT", 20.00), ("BRK.A", 1_020_450.00),
)
PARTICIPANTS = ("CDRG", "VIRT", "JNST", "GSCO", "MSCO", "UBSS", "RTAL")
_MAX_PRICE10 = 10 ** 10  # prices from here need the 14-digit extended forms

_RARE_TYPES = ("E", "P", "r", "2", "B", "R", "d51", "d52", "1")
#: A symbol whose hidden trades take each trade form: short, long symbol, extended price.
_TRADE_FORM_SYMBOL = {
    "P": 0,
    "r": next(i for i, (sym, _) in enumerate(SYMBOLS) if len(sym) > 6),
    "2": next(i for i, (_, price) in enumerate(SYMBOLS) if price * PRICE_SCALE >= 10 ** 10),
}


class _Session:
    """The state of one generated session; :meth:`lines` yields file lines."""

    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        self.rng = random.Random(seed)
        self.t = float(OPEN_MS)
        self.gap = (CLOSE_MS - OPEN_MS - 60_000) / max(n, 1)  # mean ms between messages
        self.mid = [round(p * PRICE_SCALE) for _, p in SYMBOLS]
        self.tick = [100 if p < 1000 else 10 * PRICE_SCALE for _, p in SYMBOLS]
        weights = [1 / (rank + 1) ** 0.9 for rank in range(len(SYMBOLS))]
        scale = 2000 / sum(weights)  # a lookup table replaces random.choices (faster)
        self.pick_table = [i for i, w in enumerate(weights) for _ in range(max(1, round(w * scale)))]
        self.live: list[int] = []  # live order ids; info[id] = [pos in live, open shares, sym, price]
        self.info: dict[int, list[int]] = {}
        self.dead: list[int] = []  # ids of gone orders that may be reused
        self.next_id = int("1K27GA000000", 36) + self.rng.randrange(36 ** 6)
        self.next_exec = int("0A3F00000000", 36) + self.rng.randrange(36 ** 6)
        self.execs: list[int] = []  # recent execution ids not yet broken
        self.seen: set[str] = set()
        self.reg_sho: set[int] = set()

    # -- small helpers --------------------------------------------------------------------
    def now(self, burst: bool = False) -> int:
        self.t += self.rng.random() if burst else self.rng.expovariate(1 / self.gap)
        return int(self.t)

    def symbol(self) -> int:
        return self.pick_table[int(self.rng.random() * len(self.pick_table))]

    def walk(self, s: int) -> int:
        if self.rng.random() < 0.15:
            step = self.tick[s] * (1 if self.rng.random() < 0.5 else -1)
            if self.mid[s] + step > 50 * self.tick[s]:
                self.mid[s] += step
        return self.mid[s]

    def shares(self) -> int:
        r = self.rng.random()
        if r < 0.2:
            return self.rng.randint(1, 99)  # odd lot
        if r < 0.95:
            return 100 * self.rng.randint(1, 10)
        return 100 * self.rng.randint(11, 500)

    def new_exec(self) -> str:
        self.next_exec += 1
        self.execs.append(self.next_exec)
        if len(self.execs) > 512:
            del self.execs[:256]
        return base36(self.next_exec)

    def fresh_id(self) -> int:
        self.next_id += 1 + int(self.rng.random() * 4)
        return self.next_id

    def pick_live(self) -> int:
        """A live order id, mostly a recent one (most cancels follow adds quickly)."""
        if self.rng.random() < 0.1:  # now and then an old one, so the book does not fossilise
            return self.live[int(self.rng.random() * len(self.live))]
        k = min(int(self.rng.expovariate(1 / 200)), len(self.live) - 1)
        return self.live[-1 - k]

    def remove(self, oid: int) -> None:
        pos = self.info.pop(oid)[0]
        last = self.live.pop()
        if last != oid:
            self.live[pos] = last
            self.info[last][0] = pos
        if self.rng.random() < 0.3:
            self.dead.append(oid)

    # -- messages -------------------------------------------------------------------------
    def add(self, t: int, s: int, form: str = "") -> str:
        rng = self.rng
        if self.dead and rng.random() < 0.25:
            oid = self.dead.pop(int(rng.random() * len(self.dead)))
        else:
            oid = self.fresh_id()
        side = "B" if rng.random() < 0.5 else "S"
        away = self.tick[s] * int(rng.expovariate(0.5))
        price = self.walk(s) + (-away if side == "B" else away)
        qty = self.shares()
        self.info[oid] = [len(self.live), qty, s, price]
        self.live.append(oid)
        sym = SYMBOLS[s][0]
        if price >= _MAX_PRICE10:
            self.seen.add("1")
            return TEMPLATES["1", 56](t, base36(oid), side, qty, sym, price, "Y", "    ", " ")
        if not form and len(sym) <= 6 and rng.random() > 0.03:
            return TEMPLATES["A", 45](t, base36(oid), side, qty, sym, price, "Y")
        mpid = PARTICIPANTS[int(rng.random() * len(PARTICIPANTS))] if rng.random() < 0.7 else ""
        if form == "d51" or (not form and rng.random() < 0.02):
            self.seen.add("d51")
            return TEMPLATES["d", 51](t, base36(oid), side, qty, sym, price, "Y", mpid)
        self.seen.add("d52")
        return TEMPLATES["d", 52](t, base36(oid), side, qty, sym, price, "Y", mpid,
                                  "R" if mpid == "RTAL" else " ")

    def cancel(self, t: int, oid: int, full: bool) -> str:
        order = self.info[oid]
        qty = order[1] if full or order[1] == 1 else self.rng.randint(1, order[1] - 1)
        order[1] -= qty
        if order[1] == 0:
            self.remove(oid)
        return TEMPLATES["X", 27](t, base36(oid), qty)

    def execute(self, t: int) -> str:
        oid = self.pick_live()
        order = self.info[oid]
        qty = order[1] if self.rng.random() < 0.7 else self.rng.randint(1, order[1])
        order[1] -= qty
        if order[1] == 0:
            self.remove(oid)
        self.seen.add("E")
        return TEMPLATES["E", 39](t, base36(oid), qty, self.new_exec())

    def hidden_trade(self, t: int, s: int) -> str:
        sym, price = SYMBOLS[s][0], self.walk(s)
        side = "B" if self.rng.random() < 0.55 else "S"
        args = (t, base36(self.fresh_id()), side, self.shares(), sym, price, self.new_exec())
        if price >= _MAX_PRICE10:
            self.seen.add("2")
            return TEMPLATES["2", 62](*args)
        if len(sym) > 6:
            self.seen.add("r")
            return TEMPLATES["r", 58](*args)
        self.seen.add("P")
        return TEMPLATES["P", 56](*args)

    def trade_break(self, t: int) -> str | None:
        if not self.execs:
            return None
        exec_id = self.execs.pop(int(self.rng.random() * len(self.execs)))
        self.seen.add("B")
        return TEMPLATES["B", 21](t, base36(exec_id))

    def rpi(self, t: int, s: int) -> str:
        self.seen.add("R")
        return TEMPLATES["R", 18](t, SYMBOLS[s][0], "BSAN"[int(self.rng.random() * 4)])

    def status(self, t: int, s: int, halt: str) -> str:
        return TEMPLATES["H", 21](t, SYMBOLS[s][0], halt, "1" if s in self.reg_sho else "0")

    def auction(self, t: int, s: int, kind: str, final: bool) -> str:
        sym, rng, mid, tick = SYMBOLS[s][0], self.rng, self.mid[s], self.tick[s]
        extended = mid >= _MAX_PRICE10
        if final:
            key = ("4", 42) if extended else ("J", 38)
            return TEMPLATES[key](t, sym, kind, mid, 100 * rng.randint(10, 5000))
        key = ("3", 80) if extended else ("I", 68)
        return TEMPLATES[key](t, sym, kind, mid, 100 * rng.randint(10, 5000),
                              100 * rng.randint(10, 5000), mid + tick * rng.randint(-3, 3),
                              mid + tick * rng.randint(-5, 5))

    # -- the session ----------------------------------------------------------------------
    def opening(self) -> Iterator[str]:
        t = OPEN_MS
        for s in range(len(SYMBOLS)):
            yield self.status(t, s, "T")
        for s in range(len(SYMBOLS)):
            for _ in range(1 + int(self.rng.random() * 3)):
                yield self.auction(t, s, "O", final=False)
            yield self.auction(t, s, "O", final=True)
        for s in range(0, len(SYMBOLS), 4):
            yield self.rpi(t, s)

    def halt(self, s: int) -> Iterator[str]:
        """A halt: status H, the symbol's orders cancelled, clear, halt auction, resume."""
        yield self.status(self.now(), s, "H")
        for oid in [o for o in self.live if self.info[o][2] == s]:
            yield self.cancel(self.now(burst=True), oid, full=True)
        yield TEMPLATES["s", 17](self.now(burst=True), SYMBOLS[s][0])
        for _ in range(2):
            yield self.auction(self.now(), s, "H", final=False)
        yield self.auction(self.now(), s, "H", final=True)
        yield self.status(self.now(), s, "T")

    def sprinkle(self) -> Iterator[str]:
        """Each rare type once if chance has not produced it yet."""
        for kind in _RARE_TYPES:
            if kind in self.seen:
                continue
            t = self.now()
            if kind == "E" and self.live:
                yield self.execute(t)
            elif kind in ("P", "r", "2"):
                yield self.hidden_trade(t, _TRADE_FORM_SYMBOL[kind])
            elif kind == "B":
                line = self.trade_break(t)
                if line:
                    yield line
            elif kind == "R":
                yield self.rpi(t, self.symbol())
            elif kind in ("d51", "d52"):
                yield self.add(t, self.symbol(), form=kind)
            elif kind == "1":
                yield self.add(t, _TRADE_FORM_SYMBOL["2"])

    def lines(self) -> Iterator[str]:
        rng, n = self.rng, self.n
        yield from self.opening()
        halts = {n * 3 // 10: len(SYMBOLS) - 5, n * 7 // 10: len(SYMBOLS) - 12}
        i = 0
        while True:
            i += 1
            if i in halts:
                yield from self.halt(halts[i])
            if i == n // 2:
                yield from self.sprinkle()
            t = self.now()
            r = rng.random()
            if r < 0.50 or not self.live:
                yield self.add(t, self.symbol())
            elif r < 0.92:
                yield self.cancel(t, self.pick_live(), full=rng.random() < 0.92)
            elif r < 0.965:
                yield self.execute(t)
            elif r < 0.99:
                yield self.hidden_trade(t, self.symbol())
            elif r < 0.996:
                yield self.rpi(t, self.symbol())
            elif r < 0.997:
                s = self.symbol()
                self.reg_sho ^= {s}  # a Reg SHO price test starts or ends
                yield self.status(t, s, "T")
            elif r < 0.9975:
                yield self.trade_break(t) or self.rpi(t, self.symbol())
            else:
                yield self.add(t, self.symbol(), form="d52")  # attributed (MPID) adds


def _text_lines(n_messages: int, seed: int) -> Iterator[str]:
    return islice(_Session(n_messages, seed).lines(), max(n_messages, 0))


def generate_lines(n_messages: int, seed: int = 0) -> Iterator[bytes]:
    """The session's first ``n_messages`` file lines (``S`` + message + ``\\n``)."""
    for line in _text_lines(n_messages, seed):
        yield line.encode("ascii")


def write_session(stream: BinaryIO, n_messages: int, seed: int = 0,
                  batch: int = 20_000) -> int:
    """Write a session to a binary stream; returns the bytes written."""
    written = 0
    lines = _text_lines(n_messages, seed)
    while chunk := "".join(islice(lines, batch)):
        data = chunk.encode("ascii")
        stream.write(data)
        written += len(data)
    return written


def write_file(path: str | Path, n_messages: int, seed: int = 0) -> int:
    """Write a session to ``path`` (gzip when it ends in ``.gz``); returns bytes written."""
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "wb", compresslevel=6) as fh:
            return write_session(fh, n_messages, seed)
    with open(path, "wb") as fh:
        return write_session(fh, n_messages, seed)
