"""``python -m pitch book`` and ``python -m pitch bbo``: the order book from the command line.

Thin faces over :mod:`pitch.book`: parse, call one function, write its frame
with :func:`pitch.cli.write_frame` (prices with exactly 4 decimals, an empty
side as an empty field). Errors follow the CLI's conventions: a usage error
(a bad ``--at``) exits 2 through argparse, a data error (an unknown symbol or
file) is one ``error: ...`` line and exit 1, from :func:`pitch.cli.main`.
"""

from __future__ import annotations

import argparse
import sys

from . import book
from .cli import _connect, write_frame

def parse_at(text: str) -> int:
    """``--at``: nanoseconds since midnight of ``HH:MM:SS[.fraction]`` (a usage error if not)."""
    try:
        return book.parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _levels(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def cmd_book(args: argparse.Namespace) -> int:
    with _connect(args) as conn:
        frame = book.book_at(conn, args.symbol, args.at, args.levels, args.file)
    write_frame(book.exact(frame), args.format, sys.stdout)
    return 0


def cmd_bbo(args: argparse.Namespace) -> int:
    with _connect(args) as conn:
        frame = book.bbo(conn, args.symbol, args.file)
    write_frame(book.exact(frame), args.format, sys.stdout)
    return 0


def register(sub: argparse._SubParsersAction, *parents: argparse.ArgumentParser) -> None:
    """Add ``book`` and ``bbo`` to the CLI's sub-commands (``parents``: its shared options)."""
    file_help = "file_id (default: the most recent file that holds the symbol)"
    text = "depth of a symbol's book at an instant: side,price,shares,orders, best first"
    p = sub.add_parser("book", help=text, description=text, parents=list(parents))
    p.set_defaults(handler=cmd_book)
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("--at", required=True, type=parse_at, metavar="HH:MM:SS[.fraction]",
                   help="the book after the symbol's messages up to this time")
    p.add_argument("--levels", type=_levels, default=10, metavar="N",
                   help="price levels a side at most (default 10)")
    p.add_argument("--file", type=int, default=None, metavar="ID", help=file_help)
    text = ("a symbol's best bid and offer: one row per message that changes them "
            "(line_no,time_ns,bid_price,bid_shares,ask_price,ask_shares)")
    p = sub.add_parser("bbo", help=text, description=text, parents=list(parents))
    p.set_defaults(handler=cmd_bbo)
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("--file", type=int, default=None, metavar="ID", help=file_help)
