"""``vrtherapy export SESSION|SESSIONS --format bids --out DIR`` (wired in by
:mod:`engine.export.cli`).

All or nothing: the dataset is built in a hidden sibling of ``DIR`` and renamed into place
once every session has been written; a session that cannot be read (changed since it
ended, sealed under another key, no participant folder) stops the export with one sentence
naming it, and leaves no dataset behind. Every session is checked against its manifest
first (:func:`engine.privacy.review_cli.open_review`) and read in memory (sealed files are
decrypted in memory only); ``DIR`` may lie inside no session folder, and, where any session
is encrypted, not inside the sessions folder either. Each exported session gets an
``export`` entry in its site's audit trail.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.export.bids import (
    BidsError,
    BidsRun,
    find_session_folders,
    run_for,
    write_dataset_files,
    write_run,
)
from engine.export.recording import load_session
from engine.privacy.errors import IntegrityError
from engine.privacy.keys import SiteKey
from engine.privacy.review import session_of
from engine.privacy.review_cli import Review, open_review
from engine.privacy.sealed import is_sealed, read_sealed_bytes

__all__ = ["cmd_export_bids"]


@dataclass
class _Done:
    run: BidsRun
    review: Review
    files: int


def _target(args: argparse.Namespace) -> Path:
    out: Path | None = args.output
    if out is None:
        raise BidsError(
            "--format bids needs --out DIR: a new or empty folder outside the session "
            "folders (a BIDS dataset spans participants and sessions)"
        )
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise BidsError(
            f"{out} exists and is not an empty folder: give a new folder (a BIDS export "
            f"never merges into or replaces files)"
        )
    home = session_of(out)
    if home is not None:
        raise IntegrityError(
            f"{out} lies inside the session folder {home}: a BIDS dataset goes outside "
            f"every session folder (e.g. --out ~/bids/STUDY)"
        )
    return out


def _summary(folder: Path, key: SiteKey | None) -> dict[str, Any]:
    """The session's summary.json (decrypted in memory when sealed), ``{}`` if absent."""
    plain, sealed = folder / "summary.json", folder / "summary.json.sealed"
    try:
        if plain.is_file():
            raw = plain.read_bytes()
        elif sealed.is_file() and key is not None and is_sealed(sealed):
            raw = read_sealed_bytes(sealed, key)
        else:
            return {}
        data = json.loads(raw)
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _export_one(args: argparse.Namespace, folder: Path, out: Path, root: Path) -> _Done:
    session_args = argparse.Namespace(**{**vars(args), "recording": folder})
    review = open_review(session_args, "export")
    review.check_output(out, folder=True)  # the input itself, plaintext inside the site...
    with review.decrypting():
        data = load_session(review.recording, review.key)
        run = run_for(folder, _summary(folder, review.key), data.header)
        files = write_run(root, run, data)
    return _Done(run, review, len(files))


def _check_labels(done: list[_Done]) -> None:
    owners: dict[str, str] = {}
    for d in done:
        other = owners.setdefault(d.run.subject, d.run.participant)
        if other != d.run.participant:
            raise BidsError(
                f"participants {other} and {d.run.participant} would both be sub-"
                f"{d.run.subject} (BIDS labels are letters and digits only): export them "
                f"separately"
            )


def _build(args: argparse.Namespace, folders: list[Path], out: Path, root: Path) -> list[_Done]:
    done = [_export_one(args, folder, out, root) for folder in folders]
    _check_labels(done)
    write_dataset_files(root, [d.run for d in done])
    return done


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or gone): leave it and its parents


def cmd_export_bids(args: argparse.Namespace) -> int:
    """Run ``vrtherapy export ... --format bids``; prints one line; errors propagate as
    VrTherapyError (nothing written)."""
    source = Path(args.recording)
    folders = find_session_folders(source)
    if not folders:
        raise BidsError(
            f"{source} holds no session folders (<participant>/<stamp>-<protocol>/ with "
            f"integrity.json or a consent record): nothing to export"
        )
    out = _target(args)
    made = [p for p in (out.parent, *out.parent.parents) if not p.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    root = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(root, ignore_errors=True)
    try:
        done = _build(args, folders, out, root)
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(root, out)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        _remove_empty(made)  # the folders made for --out, deepest first
        raise
    for d in done:
        d.review.audit(
            "export",
            format="bids",
            output=str(out),
            key_used=d.review.key is not None,
            bids=f"{d.run.beh.as_posix()}/{d.run.stem}",
        )
    files = sum(d.files for d in done)
    subjects = len({d.run.subject for d in done})
    print(
        f"export: BIDS dataset {out}: {len(done)} sessions of {subjects} participants, "
        f"{files} files"
    )
    return 0
