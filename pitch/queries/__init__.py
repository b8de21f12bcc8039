"""Read-side queries shared by the CLI and the app: SQL lives here, never in pages.

Every function takes a DuckDB connection (or cursor) and returns a pandas
DataFrame or plain values. One module per page family; this package is the
name they are called by (``queries.messages_page``).
"""

from .base import (PAGE_SIZE, data_version, schema, stream_csv, symbols, time_bounds,
                   totals)
from .history import files, reject_count, rejects_csv, rejects_page
from .messages import (MESSAGE_COLUMNS, MESSAGE_SORTS, message_count, message_detail,
                       messages_csv, messages_page)
from .orders import (ORDER_COLUMNS, ORDER_SORTS, order_count, order_instances,
                     order_lifecycle, orders_csv, orders_page)
from .overview import BUCKETS, message_rate, message_type_counts, pick_bucket, top_symbols
from .symbol import symbol_adds, symbol_summary, symbol_trades, symbol_trades_csv

__all__ = [
    "BUCKETS", "MESSAGE_COLUMNS", "MESSAGE_SORTS", "ORDER_COLUMNS", "ORDER_SORTS", "PAGE_SIZE",
    "data_version", "files", "message_count", "message_detail", "message_rate",
    "message_type_counts", "messages_csv", "messages_page", "order_count", "order_instances",
    "order_lifecycle", "orders_csv", "orders_page", "pick_bucket", "reject_count",
    "rejects_csv", "rejects_page", "schema", "stream_csv", "symbol_adds", "symbol_summary",
    "symbol_trades", "symbol_trades_csv", "symbols", "time_bounds", "top_symbols", "totals",
]
