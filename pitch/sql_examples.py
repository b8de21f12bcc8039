"""The SQL page's example queries: each one a lesson, and each cheap at 100M messages.

The counts by type and per minute read the per-file counts kept at ingest
(``message_counts``, ``message_seconds``: see :mod:`pitch.summaries`), as a
person querying a big database should; ``benchmarks/bench_pages.py`` times
every one of them.
"""

EXAMPLES: dict[str, str] = {
    "Message counts by type": (
        "SELECT t.name, m.type, sum(m.messages) AS messages\nFROM message_counts m "
        "JOIN message_types t ON t.code = m.type\nGROUP BY ALL ORDER BY messages DESC"),
    "Top 10 symbols by executed shares": (
        "SELECT symbol, sum(shares) AS shares, count(*) AS trades,\n"
        "       round(sum(price * shares) / sum(shares), 4) AS vwap\n"
        "FROM executions WHERE NOT broken\nGROUP BY symbol ORDER BY shares DESC LIMIT 10"),
    "Messages per minute": (
        "SELECT second // 60 AS minute, sum(messages) AS messages\n"
        "FROM message_seconds WHERE second IS NOT NULL\nGROUP BY minute ORDER BY minute"),
    "Largest open orders": (
        "SELECT order_id, symbol, side, price, remaining_shares\nFROM orders "
        "WHERE status = 'open'\nORDER BY remaining_shares DESC LIMIT 20"),
    "Files and their rejects": (
        "SELECT f.name, r.line_no, r.reason\nFROM rejects r JOIN files f USING (file_id)\n"
        "ORDER BY f.file_id, r.line_no"),
    "Sequence gaps in binary captures": (
        "SELECT f.name, g.unit, g.expected_sequence, g.received_sequence, g.missing\n"
        "FROM gaps g JOIN files f USING (file_id)\nORDER BY f.file_id, g.unit, "
        "g.expected_sequence"),
}
