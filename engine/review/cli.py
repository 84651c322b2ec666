"""``vrtherapy outcomes`` and ``vrtherapy serve``: argument parsers and the outcomes command.

``serve`` runs the console's web app in review mode; it lives in :mod:`console.review`
(a layer above the engine), started by :mod:`engine.cli` (the one engine module that
names the console, lazily).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from engine import cli_types
from engine.privacy.keys import SiteKey
from engine.review.folder import ReviewError, find_sessions

__all__ = ["add_parsers", "cmd_outcomes", "review_key"]


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers (1..256)")
    return value


def _dask_address(text: str) -> str:
    host, _, port = text.removeprefix("tcp://").rpartition(":")
    if not text.startswith("tcp://") or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a Dask scheduler address: expected tcp://HOST:PORT"
        )
    return text


def add_parsers(sub: Any) -> None:
    """Add ``outcomes`` and ``serve`` to the ``vrtherapy`` subcommands."""
    _add_outcomes(sub)
    _add_serve(sub)


def _add_outcomes(sub: Any) -> None:
    from engine.privacy.cli import add_key_options, add_operator_option

    o = sub.add_parser(
        "outcomes",
        help="one row of outcome measures per session, as CSV or Parquet",
        description="Reads every session folder <SESSIONS>/<participant>/<session>/ (sealed "
        "ones decrypted in memory with the site key) and writes one row per session: "
        "date, protocol, duration, end state, highest step, predicted/peak/end SUDS, time "
        "in window, %% valid signal, safety and override events, prompts, HR and SCL "
        "reactivity per step (columns and units: docs/outcomes.md). Bad folders get a row "
        "whose status says what is wrong.",
    )
    o.add_argument(
        "sessions", type=cli_types.path, metavar="SESSIONS_DIR", help="the sessions folder"
    )
    o.add_argument(
        "-o",
        "--output",
        type=cli_types.out_path,
        required=True,
        metavar="FILE",
        help="outcomes.csv or outcomes.parquet (outside the sessions folder)",
    )
    o.add_argument(
        "--workers", type=_workers, default=1, metavar="N", help="worker processes (default 1)"
    )
    o.add_argument(
        "--dask",
        type=_dask_address,
        metavar="tcp://HOST:PORT",
        help="run the per-session work on this Dask scheduler (extra 'dask')",
    )
    o.add_argument("--force", action="store_true", help="replace FILE if it exists")
    add_key_options(o)
    add_operator_option(o)


def _add_serve(sub: Any) -> None:
    from engine.privacy.cli import add_key_options, add_operator_option

    s = sub.add_parser(
        "serve",
        help="the console's web app in review mode: sessions, reports, a participant's course",
        description="Serves participants -> sessions -> one session's report, and each "
        "participant's course over sessions, to logged-in clinicians (accounts: vrtherapy "
        "user). Sealed sessions are decrypted in memory only. Every view is audited in "
        "SESSIONS_DIR/audit.log. Any address but loopback needs TLS.",
    )
    s.add_argument(
        "sessions", type=cli_types.path, metavar="SESSIONS_DIR", help="the sessions folder"
    )
    s.add_argument(
        "--bind",
        default="127.0.0.1:8766",
        metavar="HOST:PORT",
        help="address to serve (default 127.0.0.1:8766; port 0: any free port)",
    )
    s.add_argument(
        "--tls-cert", type=cli_types.path, metavar="FILE", help="PEM certificate (with --tls-key)"
    )
    s.add_argument("--tls-key", type=cli_types.path, metavar="FILE", help="PEM private key")
    s.add_argument(
        "--tls-self-signed",
        action="store_true",
        help="serve TLS with the console's own certificate (site folder)",
    )
    s.add_argument(
        "--index",
        type=cli_types.path,
        metavar="FILE",
        help="the session index (default SESSIONS_DIR/.vrtherapy-index.sqlite)",
    )
    s.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="worker processes for indexing new sessions at start (default 1)",
    )
    s.add_argument(
        "--twins",
        type=cli_types.path,
        metavar="DIR",
        help="fitted twins (`vrtherapy twin fit -o DIR/PARTICIPANT.yaml [--next PROTOCOL]`): "
        "a participant's course page shows the twin over sessions and its stored forecast",
    )
    add_key_options(s)
    add_operator_option(s)


def review_key(args: argparse.Namespace) -> SiteKey | None:
    """``--key FILE``, else the site key when there is one, else ``None`` (sealed sessions
    are then listed as not readable)."""
    from engine.privacy.cli import key_from_args, reader_key
    from engine.privacy.site import site_key_path

    explicit = key_from_args(args)
    if explicit is not None:
        return explicit
    path = site_key_path()
    return reader_key(args, path) if path.exists() else None


def cmd_outcomes(args: argparse.Namespace) -> int:
    """Run ``vrtherapy outcomes``; a progress line per session goes to standard error."""
    from engine.review.outcomes import check_output, compute_rows, progress_printer, write_table

    sessions: Path = args.sessions
    folders = find_sessions(sessions)
    if not folders:
        raise ReviewError(f"{sessions}: no session folders (<participant>/<session>/) in it")
    fmt = check_output(args.output, sessions)
    if args.output.exists() and not args.force:
        raise ReviewError(f"-o {args.output}: exists; add --force to replace it")
    if fmt == ".parquet":
        from engine.review.outcomes import table_bytes

        table_bytes([], fmt)  # pyarrow missing: say so before the work
    key = review_key(args)
    start = time.perf_counter()
    every = max(1, len(folders) // 20)
    rows = compute_rows(
        folders,
        key,
        workers=args.workers,
        dask_address=args.dask,
        progress=progress_printer(sys.stderr, every),
    )
    write_table(args.output, rows)
    _audit(args, len(rows), sum(1 for r in rows if r.get("sealed")))
    took = time.perf_counter() - start
    bad = sum(1 for r in rows if r.get("status") != "ok")
    print(
        f"outcomes: {args.output}: {len(rows)} sessions ({bad} not ok), {took:.1f} s "
        f"({len(rows) / took if took > 0 else 0:.1f} sessions/s)"
    )
    return 0


def _audit(args: argparse.Namespace, count: int, sealed: int) -> None:
    from engine.privacy.cli import audit_for, operator_from_args

    audit_for(args.sessions, operator_from_args(args)).append(
        "outcomes", output=str(args.output.resolve()), sessions=count, sealed_sessions=sealed
    )
