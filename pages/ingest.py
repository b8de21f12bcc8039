"""Ingest: upload files, watch the inbox, see what landed and what was rejected."""

from __future__ import annotations

import math

import duckdb
import streamlit as st

from pitch import fmt, links, queries, settings, store, ui
from pitch.errors import PitchError
from pitch import ingest as ingesting
from pitch.ingest import ingest_bytes

st.title("Ingest")
if settings.current().archive:  # PITCH_ARCHIVE: nothing can land, be removed or cleared here
    st.info(f"This server shows the Parquet archive `{settings.current().archive}`, "
            "**read-only**: write to it with `python -m pitch export` or `python -m pitch.spark`. "
            "Its files, and why any failed:", icon=":material/lock:")
    ui.table(ui.q(queries.files), key="files_table")
    st.stop()
limit_mb = int(st.get_option("server.maxUploadSize"))
state = st.session_state
state.setdefault("uploads", 0)  # bumped to empty the uploader after each batch

# --- upload ----------------------------------------------------------------------------
st.subheader("Upload")
# No type= filter: the format is told by the content, whatever the name (PITCH text
# often comes as .txt, .log or no extension at all).
uploaded = st.file_uploader(
    "Drop PITCH files here: text PITCH, or binary Multicast PITCH captures (.pcap, .pcapng, "
    "raw Sequenced Units such as .dat or .bin), and .gz of each", accept_multiple_files=True,
    key=f"uploader_{state['uploads']}",
    help=f"The format is told from the content, not the name. Up to {limit_mb:,} MB per "
         "file: server.maxUploadSize in .streamlit/config.toml")
st.caption(f"Upload limit: **{limit_mb:,} MB per file** (`server.maxUploadSize` in "
           "`.streamlit/config.toml`). A file lands whole or not at all; a file already "
           "loaded adds nothing.")
if uploaded:
    outcomes = []
    for file in uploaded:
        bar = st.progress(0.0, text=f"Decoding {file.name}…")
        if file.size > limit_mb * 1024 * 1024:
            outcomes.append(("error", f"{file.name}: {fmt.size(file.size)} is over the "
                                      f"{limit_mb:,} MB upload limit; nothing was loaded"))
            bar.empty()
            continue

        def progress(done: int, total: int, stage: str, bar=bar, name=file.name) -> None:
            text = (f"Decoding {name}: {fmt.size(done)} of {fmt.size(total)}"
                    if stage == "reading" else f"{name}: deriving orders and executions…")
            bar.progress(min(done / max(total, 1), 1.0), text=text)

        try:
            result = ingest_bytes(ui.connection(), file.getvalue(), file.name, source="upload",
                                  progress=progress)
        except PitchError as exc:
            outcomes.append(("error", f"{exc}; nothing was loaded"))
        else:
            outcomes.append(("info" if result.status == "duplicate" else "success",
                             result.summary()))
        bar.empty()
    state["ingest_outcomes"] = outcomes
    state["uploads"] += 1
    ui.refresh()
    st.rerun()  # so the sidebar and every page see the new data

for kind, text in state.get("ingest_outcomes", []):
    {"error": st.error, "info": st.info, "success": st.success}[kind](text)


# --- the watched folder ----------------------------------------------------------------
@st.fragment(run_every="2s")
def watch_panel() -> None:
    w = ui.watcher()
    if w is None:
        st.caption("Folder watching is off in this server (PITCH_NO_WATCH=1).")
        return
    s = w.status()
    mode = "polling" if s["polling"] else "file-system events"
    if s.get("error"):
        st.error(s["error"])
    elif s["running"]:
        st.markdown(f":green[●] Watching `{s['folder']}` ({mode}). Drop files there; they move "
                    "to `processed/` or `failed/` when done.")
    else:
        st.markdown(f":red[●] Not watching `{s['folder']}`.")
    if s["current"]:
        st.progress(s["progress"] or 0.0, text=f"Ingesting {s['current']}…")
    if s["queue"]:
        st.caption("Waiting: " + ", ".join(s["queue"]))
    if s["recent"]:
        st.dataframe(s["recent"], hide_index=True, width="stretch",
                     column_order=["finished", "name", "status", "messages", "rejects",
                                   "seconds", "error"])


st.subheader("Watched folder")
watch_panel()

# --- history ---------------------------------------------------------------------------
def remove_file(file_id: int) -> None:
    """Button callback: delete one file's data (all its tables, one transaction)."""
    try:
        row = ingesting.remove_file(ui.connection(), file_id)
        state["ingest_outcomes"] = [("success", (
            f"Removed file {row['file_id']} ({row['name']}): {fmt.count(row['messages'] or 0)} "
            f"messages, {fmt.count(row['rejects'] or 0)} rejects. The same file can be loaded "
            "again."))]
    except (PitchError, duckdb.Error) as exc:
        state["ingest_outcomes"] = [("error", f"Could not remove file {file_id}: "
                                              f"{str(exc).splitlines()[0]}; nothing was removed")]
    state["confirm_remove"] = False
    state["remove_file"] = None
    ui.refresh()


def remove_panel(files) -> None:
    """Pick one file, confirm, remove it."""
    labels = {int(i): links.file_label(int(i), n) for i, n in zip(files["file_id"], files["name"])}
    counts = dict(zip(files["file_id"].astype(int), files["messages"].fillna(0).astype(int)))
    pick, confirm, button = st.columns([3, 3, 2], vertical_alignment="bottom")
    fid = pick.selectbox("Remove one file", list(labels), index=None, key="remove_file",
                         format_func=lambda i: labels[i], placeholder="Pick a file to remove")
    sure = confirm.checkbox(f"Yes, delete its {fmt.count(counts.get(fid, 0))} messages" if fid is not None
                            else "Yes, delete it", key="confirm_remove", disabled=fid is None)
    button.button("Remove the file", icon=":material/delete:", on_click=remove_file, args=(fid,),
                  disabled=fid is None or not sure, key="remove_button")


st.subheader("Ingested files")
files = ui.q(queries.files)
if files.empty:
    st.info(ui.EMPTY_HINT.format(inbox=settings.inbox_dir()), icon=":material/upload_file:")
else:
    shown = files.assign(
        size=files["size"].map(fmt.size), seconds=files["seconds"].map(fmt.seconds),
        finished_at=files["finished_at"].dt.strftime("%Y-%m-%d %H:%M:%S UTC"))
    ui.table(shown, key="files_table", labels={
        "seconds": "duration", "finished_at": "finished", "first_time": "first message",
        "last_time": "last message"})
    if (files["format"] != "text").any():
        st.caption("Binary captures: **gaps** are runs of sequence numbers never received "
                   "(per unit), **duplicates** messages received again and dropped, **skipped "
                   "frames** frames that were not a PITCH unit (not IPv4/UDP, or not valid).")
    remove_panel(files)

    with_rejects = files[files["rejects"] > 0]
    st.subheader("Rejects")
    if with_rejects.empty:
        st.caption("No file has rejected lines.")
    else:
        labels = {int(i): f"{i}: {n} ({r:,} rejects)" for i, n, r in
                  zip(with_rejects["file_id"], with_rejects["name"], with_rejects["rejects"])}
        fid = st.selectbox("File", list(labels), format_func=lambda i: labels[i],
                           key="rejects_file")
        n = ui.q(queries.reject_count, fid)
        pages = max(1, math.ceil(n / queries.PAGE_SIZE))
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        with c1:
            page = st.pagination(pages, key="rejects_page")
        with c2:
            ui.csv_button(f"CSV of all {n:,} rejects", lambda cur: queries.rejects_csv(cur, fid),
                          f"rejects-{fid}.csv", key="csv_rejects")
        # A binary file's reject is found by its packet (frame) and byte offset; its
        # line_no only numbers the rejects.
        binary = ui.q(queries.is_binary_file, fid)
        ui.table(ui.q(queries.rejects_page, fid, page=page), key="rejects_table",
                 labels={"line_no": "reject"} if binary else None)

    with_gaps = files[files["gaps"] > 0]
    st.subheader("Gaps")
    if with_gaps.empty:
        st.caption("No binary file has a sequence gap.")
    else:
        # Its own name: the rejects picker's format_func still reads ``labels`` later.
        gap_labels = {int(i): f"{i}: {n} ({g:,} gaps, {m:,} messages missing)"
                      for i, n, g, m in zip(with_gaps["file_id"], with_gaps["name"],
                                            with_gaps["gaps"], with_gaps["missing_messages"])}
        gid = st.selectbox("File", list(gap_labels), format_func=lambda i: gap_labels[i],
                           key="gaps_file")
        n = ui.q(queries.gap_count, gid)
        pages = max(1, math.ceil(n / queries.PAGE_SIZE))
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        with c1:
            page = st.pagination(pages, key="gaps_page")
        with c2:
            ui.csv_button(f"CSV of all {n:,} gaps", lambda cur: queries.gaps_csv(cur, gid),
                          f"gaps-{gid}.csv", key="csv_gaps")
        st.caption("Each row is a run of sequence numbers of one unit that never arrived: from "
                   "the expected sequence up to (not including) the one received next.")
        ui.table(ui.q(queries.gaps_page, gid, page=page), key="gaps_table")

# --- sample and clearing ---------------------------------------------------------------
def load_sample() -> None:
    try:
        result = ui.load_sample(ui.connection())
        state["ingest_outcomes"] = [("info" if result.status == "duplicate" else "success",
                                     result.summary())]
    except PitchError as exc:
        state["ingest_outcomes"] = [("error", str(exc))]
    ui.refresh()


def clear_database() -> None:
    try:
        store.delete_all(ui.connection())
        state["ingest_outcomes"] = [("success", "The database is empty.")]
    except duckdb.Error as exc:
        state["ingest_outcomes"] = [("error", f"Could not clear: {str(exc).splitlines()[0]}")]
    state["confirm_clear"] = False
    ui.refresh()


st.subheader("Database")
left, right = st.columns(2)
with left:
    st.caption(f"`{store.db_path()}`. The sample is `{settings.SAMPLE_FILE.name}` "
               "(a generated session with every message type).")
    st.button("Load the sample", icon=":material/science:", on_click=load_sample,
              disabled=not settings.SAMPLE_FILE.exists())
with right:
    totals = ui.q(queries.totals)
    sure = st.checkbox(f"Yes, delete all {totals['messages']:,} messages of "
                       f"{totals['files']:,} {fmt.plural(totals['files'], 'file')}",
                       key="confirm_clear")
    st.button("Clear the database", icon=":material/delete_forever:", type="primary",
              disabled=not sure or not totals["files"], on_click=clear_database)
