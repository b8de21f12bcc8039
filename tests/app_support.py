"""What the AppTest modules share: the pages' main script, fresh caches, a page at a URL."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "explorer" / "router.py")  # the pages' main script (app.py serves it)


@pytest.fixture(autouse=True)
def fresh_caches():
    """Cached answers and resources (the sample loader) outlive an AppTest: start and end
    each test without them. (ui.connection() follows $PITCH_DB, a new file per test.)

    Autouse in every module that imports it."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def start(script: str | None = None, **query: str | list[str]) -> AppTest:
    """Run the router, then (if given) switch to ``pages/<script>.py`` with the URL ``query``."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    if script:
        at.query_params.update(query)
        at.switch_page(f"../pages/{script}.py").run()
        assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return " | ".join(str(e.value) for e in elements)


def count_line(at: AppTest) -> str:
    """The sentence above a data table: "... : **N**"."""
    return next(m.value for m in at.main.markdown if ": **" in str(m.value))
