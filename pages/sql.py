"""SQL: one read-only SELECT with a row limit and a time limit, exportable as CSV."""

from __future__ import annotations

import streamlit as st

from pitch import export, queries, sandbox, settings, sql_export, ui
from pitch.errors import QueryRefused
from pitch.sql_examples import EXAMPLES

limits = settings.current()  # validated: the row limit is at least 1
st.title("SQL")
st.caption("One read-only SELECT over the tables on the right. Writes, settings and file "
           "access are refused.")


def use_example() -> None:
    name = st.session_state.get("example")
    if name:
        st.session_state["sql"] = EXAMPLES[name]


editor, schema_col = st.columns([3, 1])
with editor:
    st.selectbox("Examples", list(EXAMPLES), index=None, key="example", on_change=use_example,
                 placeholder="Pick an example query")
    sql = st.text_area("Query", key="sql", bind="query-params", height=180,
                       placeholder="SELECT * FROM messages LIMIT 10",
                       help="Ctrl+Enter runs it; the query is kept in the URL")
    a, b, c = st.columns([1, 1, 1], vertical_alignment="bottom")
    row_limit = a.number_input("Row limit", 1, limits.sql_max_rows,
                               min(limits.sql_row_limit, limits.sql_max_rows),
                               step=1000, key="rows", bind="query-params",
                               help=f"Default {limits.sql_row_limit:,} ($PITCH_SQL_ROW_LIMIT), "
                                    f"from 1 to {limits.sql_max_rows:,} ($PITCH_SQL_MAX_ROWS)")
    timeout = b.number_input("Time limit (s)", 1.0, limits.sql_max_seconds,
                             max(1.0, min(limits.sql_timeout, limits.sql_max_seconds)), step=1.0,
                             key="seconds", bind="query-params",
                             help=f"Default {limits.sql_timeout:g} s ($PITCH_SQL_TIMEOUT), "
                                  f"at most {limits.sql_max_seconds:g} s "
                                  f"($PITCH_SQL_MAX_SECONDS)")
    c.button("Run", icon=":material/play_arrow:", type="primary")
with schema_col:
    st.markdown("**Tables**")
    schema = ui.q(queries.schema)
    for table, cols in schema.groupby("table_name", sort=True):
        with st.expander(table):
            st.markdown("\n".join(f"- `{n}` {t.lower()}" for n, t in
                                  zip(cols["column_name"], cols["data_type"])))

if not (sql or "").strip():
    st.info("Write a SELECT above or pick an example.", icon=":material/edit_note:")
    st.stop()

try:
    result = sandbox.run_query(ui.connection(), sql, row_limit=int(row_limit), timeout=float(timeout))
except sandbox.QueryTimeout as exc:
    st.warning(f"{exc}: the time limit stopped it. Raise the time limit or narrow the query.",
               icon=":material/timer_off:")
    st.stop()
except QueryRefused as exc:
    st.error(str(exc), icon=":material/block:")
    st.stop()

offer = sql_export.csv_offer(result)
if result.truncated:
    st.warning(f"The answer was cut at the row limit: showing the first {result.row_limit:,} "
               "rows. Raise the row limit, add a LIMIT or narrow the query; the CSV below has "
               f"the first {offer.row_cap:,} rows at most.", icon=":material/content_cut:")
st.caption(f"{len(result.frame):,} rows in {result.seconds:.3f} s")
ui.table(export.unique_columns(result.frame), key="result")
ui.csv_button(offer.label,
              lambda cur: sql_export.query_csv(cur, sql, offer.row_cap, float(timeout)),
              offer.file_name, key="csv_sql", help=offer.help)
