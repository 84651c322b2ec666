"""``vrtherapy outcomes``: one row per session of a sessions folder, as CSV or Parquet.

The rows (:func:`engine.review.rows.session_row`) are computed in this process, in
``workers`` processes (:class:`concurrent.futures.ProcessPoolExecutor`), or on an existing
Dask cluster (``dask_address``: ``distributed.Client(address)``; the optional ``dask``
extra). Each worker reads its session folder itself (sealed files decrypted in its memory
only) and returns the row; rows come back in session order whatever the order they finish.
Parquet needs the optional ``pyarrow`` (extra ``outcomes``).
"""

from __future__ import annotations

import csv
import importlib
import io
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from engine.privacy.keys import SiteKey
from engine.review.folder import ReviewError, SessionFolder
from engine.review.measures import Value, column_kind, columns_for
from engine.review.rows import session_row

__all__ = [
    "FORMATS",
    "check_output",
    "compute_rows",
    "progress_printer",
    "table_bytes",
    "write_table",
]

FORMATS = (".csv", ".parquet")
Progress = Callable[[int, int], None]
Row = dict[str, Value]


def _serial(folders: list[SessionFolder], key: SiteKey | None) -> Iterator[tuple[int, Row]]:
    for i, folder in enumerate(folders):
        yield i, session_row(folder, key)


def _processes(
    folders: list[SessionFolder], key: SiteKey | None, workers: int
) -> Iterator[tuple[int, Row]]:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(session_row, f, key): i for i, f in enumerate(folders)}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _dask(
    folders: list[SessionFolder], key: SiteKey | None, address: str
) -> Iterator[tuple[int, Row]]:
    try:
        distributed: Any = importlib.import_module("distributed")  # untyped: used as Any
    except ImportError:
        raise ReviewError(
            "--dask needs Dask's distributed scheduler: pip install 'vrtherapy[dask]'"
        ) from None
    try:
        client = distributed.Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ReviewError(
            f"--dask {address}: cannot reach a Dask scheduler there ({exc})"
        ) from None
    try:
        futures = [client.submit(session_row, f, key, pure=False) for f in folders]
        for i, fut in enumerate(futures):  # all submitted: in order, as they come
            yield i, fut.result()
    finally:
        client.close()


def compute_rows(
    folders: list[SessionFolder],
    key: SiteKey | None,
    *,
    workers: int = 1,
    dask_address: str | None = None,
    progress: Progress | None = None,
) -> list[Row]:
    """The rows of ``folders``, in their order.

    Parameters
    ----------
    workers
        Processes to spread the sessions over (1: this process).
    dask_address
        ``tcp://HOST:PORT`` of a running Dask scheduler: the sessions are read there.
    progress
        Called with (done, total) after each session.
    """
    if dask_address is not None:
        source = _dask(folders, key, dask_address)
    elif workers > 1 and len(folders) > 1:
        source = _processes(folders, key, min(workers, len(folders)))
    else:
        source = _serial(folders, key)
    rows: list[Row | None] = [None] * len(folders)
    for done, (i, row) in enumerate(source, 1):
        rows[i] = row
        if progress is not None:
            progress(done, len(folders))
    return [r for r in rows if r is not None]


def _cell(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def table_bytes(rows: list[Row], fmt: str) -> bytes:
    """The table of ``rows`` as ``.csv`` (UTF-8, header row, empty cell for n/a) or
    ``.parquet`` bytes (typed columns, null for n/a)."""
    names = columns_for(rows)
    if fmt == ".csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow([_cell(row.get(n)) for n in names])
        return buf.getvalue().encode("utf-8")
    return _parquet(rows, names)


def _parquet(rows: list[Row], names: list[str]) -> bytes:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ReviewError(
            "a .parquet table needs pyarrow: pip install 'vrtherapy[outcomes]' (or write .csv)"
        ) from None
    types = {"str": pa.string(), "int": pa.int64(), "float": pa.float64()}
    arrays: dict[str, Any] = {}
    for n in names:
        kind = column_kind(n)
        values = [row.get(n) for row in rows]
        if kind == "float":
            values = [float(v) if isinstance(v, int | float) else None for v in values]
        arrays[n] = pa.array(values, type=types[kind])
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(arrays), sink)
    return bytes(sink.getvalue().to_pybytes())


def check_output(path: Path, sessions: Path) -> str:
    """The format of ``path`` (``.csv`` or ``.parquet``).

    Raises
    ------
    ReviewError
        Another suffix, a folder, or a path inside the sessions folder (the table holds
        health data in plaintext: it goes where the user puts it, never among sessions).
    """
    fmt = path.suffix.lower()
    if fmt not in FORMATS:
        raise ReviewError(f"-o {path}: the table is written as .csv or .parquet, not {fmt!r}")
    if path.is_dir():
        raise ReviewError(f"-o {path}: is a folder; give a file name ending .csv or .parquet")
    real = Path(os.path.realpath(path))
    if real.is_relative_to(Path(os.path.realpath(sessions))):
        raise ReviewError(
            f"-o {path}: lies inside the sessions folder {sessions}; the table is a readable "
            f"copy of health data: write it outside (e.g. -o ~/study/outcomes.csv)"
        )
    if not real.parent.is_dir():
        raise ReviewError(f"-o {path}: the folder {path.parent} does not exist")
    return fmt


def write_table(path: Path, rows: list[Row]) -> None:
    """Write the table (temp file + rename)."""
    data = table_bytes(rows, path.suffix.lower())
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise ReviewError(f"cannot write {path}: {exc.strerror}") from None


def progress_printer(stream: Any, every: int = 1) -> Progress:
    """A progress callback printing ``outcomes: done/total`` lines to ``stream``."""

    def show(done: int, total: int) -> None:
        if done == total or done % every == 0:
            print(f"outcomes: {done}/{total} sessions", file=stream, flush=True)

    return show
