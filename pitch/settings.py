"""Every setting and every limit, read and validated in one place.

:class:`Settings` is one frozen object. Each field says, as data, where it
comes from (an environment variable ``PITCH_*``, or a Streamlit option in
``.streamlit/config.toml``), its default, how it is checked and how the README
describes it; the README's settings table is generated from these fields
(:mod:`pitch.docs`), so the docs cannot drift from the code.

:func:`load` turns an environment into a :class:`Settings` or raises
:class:`SettingsError` with one line naming the variable and its value, e.g.
``PITCH_SQL_ROW_LIMIT=0: must be a whole number of at least 1``. The command
line exits 2 with that line; the app shows it in an error box
(:func:`problem`). An empty variable counts as unset.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import PitchError

ROOT = Path(__file__).resolve().parent.parent

#: The committed sample the app loads into an empty database.
SAMPLE_FILE = ROOT / "data" / "sample.pitch"
#: Streamlit's own configuration: the upload limit is set there, not by PITCH_*.
STREAMLIT_CONFIG = ROOT / ".streamlit" / "config.toml"
#: Streamlit's upload limit when its configuration does not set one.
STREAMLIT_UPLOAD_MB = 200


class SettingsError(PitchError):
    """A setting with a value it cannot have; the message is one line."""


# -- parsers: text -> value, or ValueError(reason) ------------------------------------------

#: The largest whole number a setting takes (DuckDB's threads are a 32-bit count).
WHOLE_MAX = 2**31 - 1


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise ValueError(f"must be a whole number of at least {minimum:,}")
        if value > WHOLE_MAX:
            raise ValueError(f"must be a whole number of at most {WHOLE_MAX:,}")
        return value
    parse.rule = f"a whole number, at least {minimum:,}"  # type: ignore[attr-defined]
    return parse


def _seconds(minimum: float, *, inclusive: bool) -> Callable[[str], float]:
    words = f"{'at least' if inclusive else 'more than'} {minimum:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < minimum or (value == minimum and not inclusive):
            raise ValueError(f"must be a number of seconds {words}")
        return value
    parse.rule = f"seconds, {words}"  # type: ignore[attr-defined]
    return parse


def parse_flag(text: str) -> bool:
    """``1`` -> True, ``0`` -> False; anything else is refused."""
    # Only 1 and 0: "true" or "yes" were silently read as off before, so a
    # word is refused rather than guessed.
    if text not in ("0", "1"):
        raise ValueError("must be 1 (on) or 0 (off)")
    return text == "1"


parse_flag.rule = "1 or 0"  # type: ignore[attr-defined]

_SIZE = re.compile(r"(\d+(\.\d+)?)\s*(KB|MB|GB|TB|KIB|MIB|GIB|TIB|%)", re.IGNORECASE)


def _memory(text: str) -> str:
    # DuckDB's own units (1000^i and 1024^i) or a share of the machine's memory.
    match = _SIZE.fullmatch(text)
    if not match or float(match[1]) <= 0 or (match[3] == "%" and float(match[1]) > 100):
        raise ValueError("must be a size such as 1GB, 512MB, 2GiB or 50%")
    return text


_memory.rule = "a size: 1GB, 512MB, 2GiB, 50%"  # type: ignore[attr-defined]


def _text(text: str) -> str:
    return text


_text.rule = "any text"  # type: ignore[attr-defined]


def _path(text: str) -> Path:
    return Path(text)


_path.rule = "a path"  # type: ignore[attr-defined]


def _setting(default: Any, what: str, *, env: str | None = None, parse: Callable[[str], Any],
             shown: str | None = None, also: str = "", config: str | None = None) -> Any:
    """A field of :class:`Settings` with what load() and the README need to know about it.

    ``env``: the variable that sets it; ``config``: the Streamlit option that
    does instead; neither: a fixed limit. ``shown``: the default as the README
    says it; ``also``: other ways to change it (a flag, a page).
    """
    meta = {"env": env, "config": config, "parse": parse, "what": what, "shown": shown,
            "also": also}
    return field(default=default, metadata=meta)


def shown(f: dataclasses.Field, value: Any) -> str:
    """A setting's value as the README shows it: ``10,000``, ``2 s``, ``data/inbox``."""
    if f.metadata["shown"] is not None and value == f.default:
        return f.metadata["shown"]
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g} s"
    return f"`{value}`"


@dataclass(frozen=True)
class Settings:
    """Every setting and limit of one run, validated. Build it with :func:`load`."""

    db: Path = _setting(Path("data") / "pitch.duckdb", "database file", env="PITCH_DB",
                        parse=_path, also="`--db PATH`")
    archive: Path | None = _setting(
        None, "app: open this Parquet archive read-only instead of the database",
        env="PITCH_ARCHIVE", parse=_path, shown="none (the database)",
        also="`--archive DIR` on counts, top-symbols, query, files")
    inbox: Path = _setting(Path("data") / "inbox", "watched folder", env="PITCH_INBOX",
                           parse=_path, also="`python -m pitch watch DIR`")
    sql_row_limit: int = _setting(10_000, "SQL: rows shown (the row limit's default)",
                                  env="PITCH_SQL_ROW_LIMIT", parse=_whole(1),
                                  also="the SQL page, `query --row-limit`")
    sql_max_rows: int = _setting(100_000, "SQL page: highest row limit it offers",
                                 env="PITCH_SQL_MAX_ROWS", parse=_whole(1))
    sql_export_rows: int = _setting(
        1_000_000, "SQL page: rows in its CSV (the button and file name say so when it cuts)",
        env="PITCH_SQL_EXPORT_ROWS", parse=_whole(1))
    sql_timeout: float = _setting(10.0, "SQL: seconds a query may run (the time limit's "
                                  "default)", env="PITCH_SQL_TIMEOUT",
                                  parse=_seconds(0, inclusive=False),
                                  also="the SQL page, `query --timeout`")
    sql_max_seconds: float = _setting(60.0, "SQL page: highest time limit it offers",
                                      env="PITCH_SQL_MAX_SECONDS",
                                      parse=_seconds(1, inclusive=True))
    watch_polling: bool = _setting(False, "watcher: poll instead of file-system events (Docker "
                                   "bind mounts, network drives)", env="PITCH_WATCH_POLLING",
                                   parse=parse_flag, also="`watch --polling`")
    watch_stable_seconds: float = _setting(
        2.0, "watcher: a file no event vouches for is complete once unchanged for",
        env="PITCH_WATCH_STABLE_SECONDS", parse=_seconds(0, inclusive=True))
    no_sample: bool = _setting(False, "app: leave an empty database empty (no sample)",
                               env="PITCH_NO_SAMPLE", parse=parse_flag)
    no_watch: bool = _setting(False, "app: no folder watcher in the server",
                              env="PITCH_NO_WATCH", parse=parse_flag)
    threads: int | None = _setting(None, "DuckDB threads", env="PITCH_THREADS", parse=_whole(1),
                                   shown="all cores")
    memory_limit: str = _setting("1GB", "DuckDB memory (it spills to disk beyond)",
                                 env="PITCH_MEMORY_LIMIT", parse=_memory, shown="1 GB")
    api_token: str | None = _setting(None, "REST API: the bearer token every call must carry "
                                     "(and writes over HTTP beyond loopback need)",
                                     env="PITCH_API_TOKEN", parse=_text, shown="none")
    upload_mb: int = _setting(STREAMLIT_UPLOAD_MB, "upload size per file (MB)",
                              config="server.maxUploadSize", parse=_whole(1))
    page_size: int = _setting(50, "rows per page of the Messages, Orders and rejects tables",
                              parse=_whole(1))
    trade_points: int = _setting(5_000, "trades drawn on the Symbols page's chart (a notice "
                                 "says when it cuts; its CSV has every trade)", parse=_whole(1))


#: The fields, in the order the README lists them.
FIELDS: tuple[dataclasses.Field, ...] = dataclasses.fields(Settings)
#: Every environment variable a setting reads.
VARIABLES: tuple[str, ...] = tuple(f.metadata["env"] for f in FIELDS if f.metadata["env"])


def _config_option(config: Path, option: str) -> str | None:
    """``section.key`` from a Streamlit config.toml, as text (None when unset)."""
    try:
        data = tomllib.loads(config.read_text())
    except (FileNotFoundError, NotADirectoryError):  # also: pitch run from a zip (Spark)
        return None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{config}: cannot read it: {exc}") from None
    section, _, key = option.partition(".")
    value = data.get(section, {}).get(key)
    return None if value is None else str(value)


def load(environ: Mapping[str, str] | None = None, config: Path = STREAMLIT_CONFIG) -> Settings:
    """The settings of ``environ`` (default ``os.environ``) and Streamlit's ``config``.

    Raises :class:`SettingsError` on the first bad value, in field order:
    ``NAME=value: what it must be``.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in FIELDS:
        meta = f.metadata
        if meta["env"]:
            name, text = meta["env"], environ.get(meta["env"], "")
        elif meta["config"]:
            name, text = f"{config.name} {meta['config']}", _config_option(config, meta["config"])
        else:
            continue  # a fixed limit: its default
        if not text:
            continue
        try:
            values[f.name] = meta["parse"](text.strip())
        except ValueError as exc:
            raise SettingsError(f"{name}={_echo(text)}: {exc}") from None
    return Settings(**values)


def _echo(text: str) -> str:
    """The value as typed, on one line and short enough to read."""
    shown = text if text.isprintable() else repr(text)[1:-1]
    return shown if len(shown) <= 60 else shown[:59] + "\u2026"


_lock = threading.Lock()
_cache: tuple[tuple, Settings | SettingsError] | None = None


def current() -> Settings:
    """This process's settings, loaded from ``os.environ`` once.

    Loaded again only when a ``PITCH_*`` variable changes (tests set them per
    test, and the app follows ``$PITCH_DB``); a bad value raises
    :class:`SettingsError` on every call until it is fixed.
    """
    global _cache
    key = tuple(os.environ.get(name) for name in VARIABLES)
    cached = _cache
    if cached is None or cached[0] != key:
        with _lock:
            try:
                loaded: Settings | SettingsError = load(os.environ)
            except SettingsError as exc:
                loaded = exc
            cached = _cache = (key, loaded)
    if isinstance(cached[1], SettingsError):
        raise SettingsError(str(cached[1]))
    return cached[1]


def problem() -> str | None:
    """The one-line reason the settings are unusable, or None when they are fine.

    For the app: ``if (why := settings.problem()): st.error(why); st.stop()``.
    """
    try:
        current()
    except SettingsError as exc:
        return str(exc)
    return None


# -- the accessors other modules call (each reads the one object) ----------------------------

def inbox_dir() -> Path:
    """The watched folder: ``$PITCH_INBOX`` or ``data/inbox``."""
    return current().inbox


def sql_row_limit() -> int:
    """Rows a user query may return before the answer is cut."""
    return current().sql_row_limit


def sql_timeout() -> float:
    """Seconds a user query may run before it is interrupted."""
    return current().sql_timeout


def watch_stable_seconds() -> float:
    """How long a file's size must stay unchanged before the watcher takes it."""
    return current().watch_stable_seconds
