"""Read-side queries shared by the CLI and the app: SQL lives here, never in pages.

Every function takes a DuckDB connection (or cursor) and returns a pandas
DataFrame or plain values. One module per page family; this package is the
name they are called by (``queries.messages_page``).
"""

from .base import (PAGE_SIZE, data_version, file_feeds, schema, stream_csv, symbols,
                   time_bounds, totals, unknown_times)
from .history import (FILE_LIST_SQL, file_list, files, gap_count, gap_summary, gaps, gaps_csv, gaps_page,
                      is_binary_file, reject_count, rejects_csv, rejects_page)
from .messages import (MESSAGE_COLUMNS, MESSAGE_SORTS, SEQUENCING_COLUMNS, message_count,
                       message_detail, messages_csv, messages_page)
from .orders import (ORDER_COLUMNS, ORDER_SORTS, order_count, order_instances,
                     order_lifecycle, orders_csv, orders_page)
from .overview import BUCKETS, message_rate, message_type_counts, pick_bucket, top_symbols
from .symbol import symbol_adds, symbol_summary, symbol_trades, symbol_trades_csv

__all__ = [
    "BUCKETS", "FILE_LIST_SQL", "MESSAGE_COLUMNS", "MESSAGE_SORTS", "ORDER_COLUMNS", "ORDER_SORTS", "PAGE_SIZE",
    "SEQUENCING_COLUMNS", "data_version", "file_feeds", "file_list", "files", "gap_count",
    "gap_summary", "gaps", "gaps_csv", "gaps_page", "is_binary_file", "message_count",
    "message_detail", "message_rate", "message_type_counts", "messages_csv", "messages_page",
    "order_count", "order_instances", "order_lifecycle", "orders_csv", "orders_page",
    "pick_bucket", "reject_count", "rejects_csv", "rejects_page", "schema", "stream_csv",
    "symbol_adds", "symbol_summary", "symbol_trades", "symbol_trades_csv", "symbols",
    "time_bounds", "top_symbols", "totals", "unknown_times",
]
