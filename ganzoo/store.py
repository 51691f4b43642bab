"""The results store: one embedded SQLite file (usually ``OUT/results.sqlite``) per benchmark output.

Why SQLite: several ``ganzoo bench`` processes may write the same store at once. WAL mode plus a
busy timeout lets them queue for the write lock instead of failing, and each run is written in
one ``BEGIN IMMEDIATE`` transaction when it ends, so a crash never leaves half a row. Every
write opens its own short-lived connection; nothing holds the file open between writes.

Rows are flat where a report needs to sort or filter (model, seed, status, ...) and JSON text
where the shape is open (config, metrics, versions, ...). Keys a row has that the schema does
not know are kept in an ``extra`` JSON column rather than rejected.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import pandas as pd

from ganzoo.errors import GanzooError

SCHEMA_VERSION = 1
STORE_FILENAME = "results.sqlite"
BUSY_TIMEOUT_S = 30.0
#: every status a run row may have; all but "ok" are listed in a report's failed section
FINISHED_STATUSES = ("ok", "diverged", "failed", "collapsed")
NOT_OK_STATUSES = tuple(s for s in FINISHED_STATUSES if s != "ok")

# column name -> SQL type; JSON columns hold dicts/lists encoded as text.
SCALAR_COLUMNS = {
    "run_id": "TEXT PRIMARY KEY",
    "bench_id": "TEXT",
    "model": "TEXT",
    "variant": "TEXT",
    "dataset": "TEXT",
    "preset": "TEXT",
    "seed": "INTEGER",
    "peak_memory_mb": "REAL",
    "wall_time_s": "REAL",
    "steps": "INTEGER",
    "images_seen": "INTEGER",
    "budget": "TEXT",
    "device": "TEXT",
    "git_rev": "TEXT",
    "status": "TEXT",
    "reason": "TEXT",
    "started_at": "TEXT",
    "finished_at": "TEXT",
    "command": "TEXT",
    "run_dir": "TEXT",
}
JSON_COLUMNS = ("config", "metrics", "unavailable", "metric_info", "throughput", "versions", "samples", "extra")
COLUMNS = list(SCALAR_COLUMNS) + list(JSON_COLUMNS)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    {", ".join(f"{name} {kind}" for name, kind in SCALAR_COLUMNS.items())},
    {", ".join(f"{name} TEXT" for name in JSON_COLUMNS)},
    recorded_at REAL
);
CREATE INDEX IF NOT EXISTS runs_key ON runs (bench_id, model, variant, seed);
CREATE TABLE IF NOT EXISTS curves (
    run_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL
);
CREATE INDEX IF NOT EXISTS curves_run ON curves (run_id);
"""


def resolve_store_path(path: str | Path) -> Path:
    """A store file given either itself or the bench output directory that holds it."""
    path = Path(path)
    return path / STORE_FILENAME if path.is_dir() else path


# -- paths free of the machine -----------------------------------------------------------------
#
# A store (and the CSV and reports made from it) records no absolute path of the machine it was
# made on: a path inside the output folder is written relative to it (the folder itself as
# ``<out>``), a shipped file as ``<ganzoo>/...``, the ganzoo cache as ``<cache>/...``, the Python
# installation as ``<python>/...``, the home folder as ``~/...``; any other path relative to the
# output folder.

def _ganzoo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def _cache_root() -> Path:
    from ganzoo.text import default_cache_dir

    return default_cache_dir()


def _inside(path: str, base: str) -> str | None:
    if path == base:
        return "."
    prefix = base.rstrip(os.sep) + os.sep
    return path[len(prefix):] if path.startswith(prefix) else None


def portable_path(path: str | Path, root: str | Path | None = None) -> str:
    """``path`` without the machine's folders (see above); ``root`` is the output folder."""
    text = str(path)
    if not os.path.isabs(text):
        return text
    bases: list[tuple[str | Path | None, str | None]] = [
        (root, None), (_cache_root(), "<cache>"), (_ganzoo_root(), "<ganzoo>"), (sys.prefix, "<python>"),
        (Path.home(), "~")]
    forms = [os.path.normpath(text)]
    real = os.path.realpath(text)
    if real != forms[0]:
        forms.append(real)
    for base, label in bases:
        if base is None:
            continue
        for form in forms:
            for b in dict.fromkeys([os.path.normpath(str(base)), os.path.realpath(str(base))]):
                rel = _inside(form, b)
                if rel is None:
                    continue
                if label is None:
                    return "<out>" if rel == "." else rel
                return label if rel == "." else f"{label}/{rel}"
    if root is not None:
        real_root = os.path.realpath(str(root))
        if os.path.commonpath([real, real_root]) != os.path.dirname(os.sep):  # they share a folder below /
            return os.path.relpath(real, real_root)
    return f"<elsewhere>/{os.path.basename(text.rstrip(os.sep))}"


def relative_path(path: str | Path, base: str | Path) -> str:
    """``path`` as a file ganzoo writes records it, so that :func:`resolve_path` gets it back.

    Like :func:`portable_path` with ``base`` (the folder of the file, or the output folder) as
    the root: relative to ``base`` (``base`` itself as ``.``), or ``<cache>/...``,
    ``<ganzoo>/...``, ``<python>/...``, ``~/...``; a path outside all of them is written relative
    to ``base`` too (``../../data/birds``) rather than as ``<elsewhere>/...``, which loses it.
    """
    text = os.path.abspath(str(path))
    found = portable_path(text, base)
    if found == "<out>":
        return "."
    if found.startswith("<elsewhere>/"):
        return os.path.relpath(os.path.realpath(text), os.path.realpath(str(base)))
    return found


def resolve_path(text: str | Path, base: str | Path) -> Path:
    """The path :func:`relative_path` recorded against ``base``; an absolute path (older files) as it is."""
    text = str(text)
    if os.path.isabs(text):
        return Path(text)
    head, _, rest = text.partition("/")
    roots = {"<out>": lambda: base, "<cache>": _cache_root, "<ganzoo>": _ganzoo_root, "<python>": lambda: sys.prefix,
             "~": Path.home}
    if head in roots:
        root = Path(roots[head]())
        return root / rest if rest else root
    return Path(os.path.normpath(os.path.join(str(base), text)))


#: an absolute path inside free text: starts at a word boundary, runs to whitespace or quoting
_ABSOLUTE = re.compile(r"(?<![\w.~<>/-])/[^\s'\"`<>|,;()\[\]{}]+")
_SYSTEM_DIRS = {"dev", "proc", "sys"}


def portable_text(text: str, root: str | Path | None = None) -> str:
    """Every absolute path in ``text`` (of a folder that exists at the top level) made portable."""
    if "/" not in text:
        return text

    def replace(match: re.Match) -> str:
        found = match.group(0)
        tail = ""
        while found and found[-1] in ".:":
            found, tail = found[:-1], found[-1] + tail
        top = found.strip("/").split("/")[0]
        if not top or top in _SYSTEM_DIRS or not os.path.isdir("/" + top):
            return match.group(0)
        return portable_path(found, root) + tail

    return _ABSOLUTE.sub(replace, text)


@contextmanager
def portable_warnings(root: str | Path | None = None) -> Iterator[None]:
    """Python warnings shown as usual (on stderr) but with every path made portable: a warning's
    source file (``site-packages/torch/...``) would otherwise name a folder of the machine."""
    import warnings

    with warnings.catch_warnings():
        def show(message, category, filename, lineno, file=None, line=None):
            text = warnings.formatwarning(message, category, filename, lineno, line)
            try:
                (file or sys.stderr).write(portable_text(text, root))
            except (OSError, AttributeError):  # no stderr (closed, None): the warning is lost, as in Python
                pass

        warnings.showwarning = show
        yield


def portable_value(value: Any, root: str | Path | None = None) -> Any:
    """``value`` (str, Path, or nested dicts/lists of them) with every path made portable."""
    if isinstance(value, Path):
        return portable_path(value, root)
    if isinstance(value, str):
        return portable_text(value, root)
    if isinstance(value, Mapping):
        return {k: portable_value(v, root) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable_value(v, root) for v in value]
    return value


def _plain(value: Any) -> Any:
    """numpy scalars, Paths and the like as values sqlite3 and json understand."""
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        try:
            return value.item()
        except (ValueError, TypeError):
            pass
    if hasattr(value, "tolist") and callable(value.tolist):
        return value.tolist()
    return value


def _json_default(value: Any) -> Any:
    plain = _plain(value)
    return str(value) if plain is value else plain


def _to_json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, default=_json_default, sort_keys=True)


def _from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def flatten(mapping: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; non-dict leaves are kept as they are."""
    flat: dict[str, Any] = {}
    for key, value in (mapping or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


class ResultStore:
    """Append-only record of benchmark runs and their metric/loss-vs-step curves."""

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = resolve_store_path(path)
        if not create and not self.path.is_file():
            raise GanzooError(f"no results store at {self.path} (expected a results.sqlite file or a bench output directory)")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._init_schema()

    # -- connections -------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; the write lock is taken up front so concurrent writers queue."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()

    def _init_schema(self) -> None:
        # Switching to WAL can report "locked" while another process is doing the same,
        # without waiting on the busy handler, so retry for as long as the busy timeout.
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                self._init_schema_once()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                    raise GanzooError(f"cannot open results store {self.path}: {exc}") from None
                time.sleep(0.05)
            except sqlite3.DatabaseError as exc:
                raise GanzooError(f"{self.path} is not a ganzoo results store: {exc}") from None

    def _init_schema_once(self) -> None:
        conn = self._connect()
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise GanzooError(
                    f"results store {self.path} has schema version {version}; this ganzoo reads up to "
                    f"{SCHEMA_VERSION} (upgrade ganzoo)"
                )
            if version == SCHEMA_VERSION:
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)
                if version == 0 and self._has_foreign_tables(conn):
                    raise GanzooError(f"{self.path} is an SQLite file but not a ganzoo results store")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    @staticmethod
    def _has_foreign_tables(conn: sqlite3.Connection) -> bool:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return bool(tables - {"runs", "curves"})

    @property
    def schema_version(self) -> int:
        with self._read() as conn:
            return conn.execute("PRAGMA user_version").fetchone()[0]

    # -- writing -------------------------------------------------------------------------------

    def add_run(self, row: Mapping[str, Any]) -> str:
        """Record one finished run (a single transaction); returns its run_id.

        Paths anywhere in the row are recorded without the machine's folders (see
        :func:`portable_path`): relative to the folder that holds the store, or as ``<ganzoo>/...``,
        ``<cache>/...``.
        """
        row = portable_value(dict(row), self.path.parent)
        run_id = str(row.pop("run_id", None) or uuid.uuid4().hex)
        extra = dict(row.pop("extra", None) or {})
        values: dict[str, Any] = {"run_id": run_id}
        for key, value in row.items():
            if key in SCALAR_COLUMNS:
                values[key] = _plain(value)
            elif key in JSON_COLUMNS:
                values[key] = _to_json(value)
            else:
                extra[key] = value
        if extra:
            values["extra"] = _to_json(extra)
        values["recorded_at"] = time.time()
        names = list(values)
        sql = f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
        with self._write() as conn:
            conn.execute(sql, [values[n] for n in names])
        return run_id

    def add_curve_points(self, run_id: str, points: Iterable[tuple[int, str, float]]) -> None:
        """Append ``(step, name, value)`` points of one run in one transaction."""
        # SQLite stores NaN as NULL; it reads back as NaN. Infinities are kept.
        rows = [(run_id, int(_plain(step)), str(name), _float_or_nan(value)) for step, name, value in points]
        if not rows:
            return
        with self._write() as conn:
            conn.executemany("INSERT INTO curves (run_id, step, name, value) VALUES (?, ?, ?, ?)", rows)

    # -- reading -------------------------------------------------------------------------------

    def runs(self) -> pd.DataFrame:
        """One row per run in insertion order; JSON decoded; metrics and throughput flattened.

        ``metrics = {"fid": 80.1, "caption_accuracy": {"shape": 0.9}}`` adds the columns
        ``metric.fid`` and ``metric.caption_accuracy.shape``; ``throughput`` likewise gives
        ``throughput.<name>`` columns.
        """
        with self._read() as conn:
            cursor = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM runs ORDER BY recorded_at, rowid")
            records = cursor.fetchall()
        rows = []
        for record in records:
            row = dict(zip(COLUMNS, record))
            for name in JSON_COLUMNS:
                row[name] = _from_json(row[name])
            for name, value in flatten(row["metrics"]).items():
                row[f"metric.{name}"] = _float_or_nan(value)
            for name, value in flatten(row["throughput"]).items():
                row[f"throughput.{name}"] = _float_or_nan(value)
            rows.append(row)
        frame = pd.DataFrame(rows, columns=_ordered_columns(rows))
        for name in ("peak_memory_mb", "wall_time_s", "steps", "images_seen"):
            frame[name] = pd.to_numeric(frame[name], errors="coerce")
        return frame

    def curves(self) -> pd.DataFrame:
        """All curve points: columns run_id, step, name, value."""
        with self._read() as conn:
            records = conn.execute("SELECT run_id, step, name, value FROM curves ORDER BY rowid").fetchall()
        frame = pd.DataFrame(records, columns=["run_id", "step", "name", "value"])
        frame["value"] = frame["value"].astype(float)
        return frame

    def finished_keys(self) -> set[tuple[str, str, str, int]]:
        """``(bench_id, model, variant, seed)`` of runs that ended (ok, diverged, failed or collapsed)."""
        marks = ", ".join("?" for _ in FINISHED_STATUSES)
        with self._read() as conn:
            records = conn.execute(
                f"SELECT bench_id, model, variant, seed FROM runs WHERE status IN ({marks})", FINISHED_STATUSES
            ).fetchall()
        return {(b, m, v, s) for b, m, v, s in records}

    def export(self, out_dir: str | Path) -> list[Path]:
        """Write runs.csv (and runs.parquet when pyarrow is installed) and curves.csv."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        runs = self.runs()
        for name in JSON_COLUMNS:  # CSV cells hold the JSON text, not Python reprs
            runs[name] = runs[name].map(_to_json)
        written = [out_dir / "runs.csv"]
        runs.to_csv(written[0], index=False)
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            pass
        else:
            written.append(out_dir / "runs.parquet")
            runs.to_parquet(written[-1], index=False)
        written.append(out_dir / "curves.csv")
        self.curves().to_csv(written[-1], index=False)
        return written


def _ordered_columns(rows: list[dict]) -> list[str]:
    derived = sorted({key for row in rows for key in row} - set(COLUMNS))
    metrics = [c for c in derived if c.startswith("metric.")]
    return COLUMNS + metrics + [c for c in derived if c not in metrics]


def _float_or_nan(value: Any) -> float:
    try:
        return float(_plain(value))
    except (TypeError, ValueError):
        return math.nan

