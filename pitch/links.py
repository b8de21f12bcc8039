"""A page's state in its URL, and where the drill-down links between pages go.

Messages and Orders keep every filter, the sort and the page number in the
URL, and nowhere else: each run, :func:`widget` gives a widget the value its
URL parameter holds, and the widget's ``on_change`` writes the parameter back.
So a page shows exactly what its URL says, and a drill-down is a link
(``st.page_link(page, query_params=...)``, ``ui.link``) to the URL that the
functions below compute: it can be opened in a new tab, copied and shared.

Why not ``bind="query-params"`` (Streamlit 1.67)? Both pages filter by order
id, file, symbols and side, and a bound parameter cannot cross between pages
that share a key: ``switch_page`` refuses to set a parameter bound on the page
being left, a page switch drops it, and a bound widget's last value follows its
key onto the next page (a symbol filter on Orders hid the executions of "Its
messages"). Pages whose keys are their own (Symbols, Overview) stay bound.

Message types travel as codes (``type=A&type=E``), order ids as people read
them in their file (``order=AK27GA0000DT`` for a text file, ``order=123`` for a
binary one), files by id (``file=2``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import pandas as pd
import streamlit as st

from . import ids
from .filters import TYPE_NAMES, type_label


@dataclass(frozen=True)
class Param:
    """How one widget's value is written in the URL."""

    #: The parameter's values (a key may repeat) -> the widget's value.
    read: Callable[[list[str]], Any]
    #: The widget's value -> the parameter's values; [] leaves the parameter out.
    write: Callable[[Any], list[str]]


TEXT = Param(lambda v: v[-1] if v else "", lambda x: [x.strip()] if (x or "").strip() else [])
FLAG = Param(lambda v: bool(v) and v[-1].lower() == "true", lambda x: ["true"] if x else [])


def one_of(options: Iterable[Any], default: Any = None) -> Param:
    """One of ``options`` (by its text); anything else reads as ``default``, which is left out."""
    known = {str(o): o for o in options}
    return Param(lambda v: known.get(v[-1], default) if v else default,
                 lambda x: [] if x is None or x == default else [str(x)])


def some_of(options: Iterable[Any]) -> Param:
    """Several of ``options``, the key repeated (``symbols=A&symbols=B``); others are dropped."""
    known = {str(o): o for o in options}
    return Param(lambda v: [known[s] for s in dict.fromkeys(v) if s in known],
                 lambda xs: [str(x) for x in xs or ()])


def page_number(pages: int) -> Param:
    """A page from 1 to ``pages``; out of range reads as the nearest, 1 is left out."""
    def read(v: list[str]) -> int:
        n = int(v[-1]) if v and v[-1].isdigit() else 1
        return min(max(n, 1), pages)
    return Param(read, lambda n: [str(n)] if n and n > 1 else [])


def set_param(key: str, values: list[str]) -> None:
    """Write one parameter of this page's URL ([] removes it)."""
    if values:
        st.query_params[key] = values
    else:
        st.query_params.pop(key, None)


def widget(draw: Callable[..., Any], key: str, param: Param, *args: Any,
           on_change: Callable[[], None] | None = None, **kwargs: Any) -> Any:
    """``draw(*args, key=key, ...)`` showing the URL's ``key``, which its changes rewrite.

    ``draw`` is a widget function such as ``container.multiselect``; ``on_change``
    runs after the URL is written.
    """
    # The URL decides, every run. (Set even when equal: after a page switch the
    # value in session state may be the last page's widget's, which a new widget
    # would not take up.)
    st.session_state[key] = param.read(st.query_params.get_all(key))

    def changed() -> None:
        set_param(key, param.write(st.session_state[key]))
        if on_change:
            on_change()
    return draw(*args, key=key, on_change=changed, **kwargs)


# --- the parameters that pages link into -------------------------------------------------

TYPE, ORDER, FILE = "type", "order", "file"


def type_picker(container: Any, on_change: Callable[[], None] | None = None) -> tuple[str, ...]:
    """Message types by name on screen, by code in the URL; returns the chosen codes.

    Codes in the URL that no message type has are left out, with a warning.
    """
    unknown = [c for c in st.query_params.get_all(TYPE) if c not in TYPE_NAMES]
    chosen = widget(container.multiselect, TYPE, some_of(TYPE_NAMES), "Message types",
                    list(TYPE_NAMES), format_func=type_label, on_change=on_change,
                    placeholder="All types")
    if unknown:
        container.warning(f"No message type has the code {', '.join(map(repr, unknown))}: "
                          "left out of the filter.", icon=":material/link_off:")
    return tuple(chosen)


#: An example id of each feed, for the order box's placeholder.
_EXAMPLE_IDS = {ids.TEXT: "1K27GA00000X", ids.BINARY: "2265901215303825392"}


def order_box(container: Any, on_change: Callable[[], None] | None = None,
              scope: tuple[str, ...] = (ids.TEXT,)) -> str:
    """The order id as typed (``order``); ``scope`` is the feeds in view (FileFeeds.scope)."""
    example = " or ".join(_EXAMPLE_IDS[f] for f in scope)
    return widget(container.text_input, ORDER, TEXT, "Order id", on_change=on_change,
                  placeholder=f"e.g. {example}",
                  help="As in the file: base 36 for text PITCH, decimal for binary PITCH (as "
                       "Cboe and Wireshark write them). With no file chosen, an id that reads "
                       "both ways matches either.")


def file_label(file_id: int, name: str) -> str:
    """How a file appears in a file picker: ``3: monday.pitch``."""
    return f"{file_id}: {name}"


def file_id_in(text: str) -> int | None:
    """The file id of a ``file`` parameter: ``2``, or ``2: name`` as older links had it."""
    head = text.split(":", 1)[0].strip()
    return int(head) if head.isdigit() else None


def file_picker(container: Any, files: pd.DataFrame,
                on_change: Callable[[], None] | None = None) -> int | None:
    """A file by id (``file``); returns the id or None (all files).

    A file the URL names that is not loaded reads as all files, with a warning.
    """
    labels = {int(i): file_label(int(i), n) for i, n in zip(files["file_id"], files["name"])}
    wanted = st.query_params.get_all(FILE)
    param = Param(lambda v: next((i for i in map(file_id_in, v[-1:]) if i in labels), None),
                  lambda i: [] if i is None else [str(i)])
    chosen = widget(container.selectbox, FILE, param, "File", list(labels), index=None,
                    on_change=on_change, placeholder="All files",
                    format_func=labels.__getitem__)
    if wanted and chosen is None:
        container.warning(f"There is no file {wanted[-1]!r}: showing all files.",
                          icon=":material/link_off:")
    return chosen


# --- where a link goes: the target page's URL ----------------------------------------------

def messages_of_type(code: str) -> dict[str, list[str]]:
    """Messages of one type, by code (``'A'``)."""
    return {TYPE: [code]}


def of_order(order_id: int, file_id: int, binary: bool = False) -> dict[str, str]:
    """One order id in one file (ids are reused across files), for Messages or Orders.

    The id is written as its file writes it (``binary``: decimal). On Messages:
    every message of that order; on Orders: that order, opened when it is the
    only match.
    """
    return {ORDER: ids.format_id(order_id, binary), FILE: str(file_id)}


def symbol(name: str) -> dict[str, str]:
    """The Symbols page for one symbol (its bound ``symbol`` widget reads it)."""
    return {"symbol": name}


def orders_of_symbol(name: str) -> dict[str, list[str]]:
    """The Orders page filtered to one symbol."""
    return {"symbols": [name]}
