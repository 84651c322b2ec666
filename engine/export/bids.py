"""Sessions as a BIDS dataset (``docs/bids.md``): which session folders, their labels, and
the files of one run and of the dataset. The command side (integrity, keys, output rules,
audit) is :mod:`engine.export.bids_cli`.

Layout::

    dataset_description.json  README  participants.tsv  participants.json
    sub-<label>/sub-<label>_sessions.tsv (+ .json)
    sub-<label>/ses-<n>/beh/sub-<label>_ses-<n>_task-<scene>_events.tsv (+ .json)
    sub-<label>/ses-<n>/beh/sub-<label>_ses-<n>_task-<scene>_recording-<kind>_physio.tsv.gz
                                                                           (+ .json)

(``<kind>``: ``ecg``, ``ppg``, ``eda`` or ``hr``.)

``<label>`` is the participant's pseudonym without its ``-`` and ``_`` (BIDS labels are
letters and digits); ``<n>`` numbers a participant's session folders by the start stamp in
their names (``YYYYmmdd-HHMMSS-<protocol>``), 1 for the first, counting every session
folder of the participant whether exported or not, so a session keeps its number whichever
sessions are exported with it; ``<scene>`` is the scene's name, letters and digits only.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import __version__
from engine.errors import VrTherapyError
from engine.export.bids_events import events_sidecar, events_tsv, session_events, time_zero
from engine.export.bids_physio import physio_bytes, physio_tables
from engine.export.recording import SessionData
from engine.privacy.review import is_session_folder
from engine.sessiondir import PSEUDONYM

__all__ = [
    "BIDS_VERSION",
    "BidsRun",
    "find_session_folders",
    "label",
    "run_for",
    "session_number",
    "write_dataset_files",
    "write_run",
]

BIDS_VERSION = "1.10.0"
"""The BIDS version the export follows (physio ``PhysioType``, the ``recording-`` entity)."""
_STAMP = re.compile(r"^(\d{8}-\d{6})-")
_MAX_DEPTH = 3
"""Session folders are searched this deep under a sessions folder (``<participant>/<stamp>``
is depth 2)."""


class BidsError(VrTherapyError):
    """Sessions that cannot be exported as BIDS (no session folder, a label clash...)."""


def label(text: str) -> str:
    """``text`` with everything but letters and digits removed (a BIDS label)."""
    return "".join(c for c in text if c.isascii() and c.isalnum())


def find_session_folders(path: Path) -> list[Path]:
    """The session folders ``path`` names: itself (a session folder, or a recording in
    one), or every session folder under it (a sessions folder), sorted.

    Raises
    ------
    BidsError
        ``path`` does not exist, or a recording is not inside a session folder.
    """
    if not path.exists():
        raise BidsError(f"{path} does not exist: give a session folder or a sessions folder")
    if path.is_file():
        if not is_session_folder(path.parent):
            raise BidsError(
                f"{path} is not inside a session folder (<participant>/<stamp>-<protocol>/ "
                f"with its consent record): a BIDS export needs the participant and session"
            )
        return [path.parent]
    if is_session_folder(path):
        return [path]
    found: list[Path] = []
    base_depth = len(path.parts)
    for folder, dirs, _ in os.walk(path):
        here = Path(folder)
        if here != path and is_session_folder(here):
            found.append(here)
            dirs.clear()  # nothing below a session folder is another session
        elif len(here.parts) - base_depth >= _MAX_DEPTH:
            dirs.clear()
        else:
            dirs.sort()
    return sorted(found)


def _start_key(folder: Path) -> tuple[int, str, str]:
    m = _STAMP.match(folder.name)
    return (0, m.group(1), folder.name) if m else (1, "", folder.name)


def session_number(folder: Path) -> int:
    """1-based number of session ``folder`` among its participant's session folders, in
    the order of their start stamps (names without a stamp after, by name)."""
    siblings = [p for p in folder.parent.iterdir() if p.is_dir() and is_session_folder(p)]
    siblings.sort(key=_start_key)
    return 1 + [p.name for p in siblings].index(folder.name)


@dataclass(frozen=True)
class BidsRun:
    """One session's place in the dataset and what it was.

    Attributes
    ----------
    folder
        The session folder.
    participant
        The pseudonym (the participant folder's name).
    subject, session, task
        The ``sub-``, ``ses-`` and ``task-`` labels.
    scene, protocol, state
        From the session's summary (``state`` ``""`` when it has none).
    """

    folder: Path
    participant: str
    subject: str
    session: int
    task: str
    scene: str
    protocol: str
    state: str

    @property
    def stem(self) -> str:
        """``sub-X_ses-N_task-T``."""
        return f"sub-{self.subject}_ses-{self.session}_task-{self.task}"

    @property
    def beh(self) -> Path:
        """The run's folder relative to the dataset root."""
        return Path(f"sub-{self.subject}", f"ses-{self.session}", "beh")


def run_for(folder: Path, summary: dict[str, Any], header: dict[str, str]) -> BidsRun:
    """The run of session ``folder`` (``summary``: its summary.json, ``{}`` when missing;
    ``header``: the recording's XDF file header).

    Raises
    ------
    BidsError
        The participant folder's name is no pseudonym, or the scene has no letters.
    """
    participant = folder.parent.name
    if not PSEUDONYM.match(participant) or not label(participant):
        raise BidsError(
            f"{folder}: its participant folder {participant!r} is not a pseudonymous ID "
            f"(letters, digits, '-', '_'): the session folder must sit in <participant>/"
        )
    protocol = str(summary.get("protocol") or header.get("protocol") or "")
    scene = str(summary.get("scene") or protocol)
    if not label(scene):
        raise BidsError(f"{folder}: the session's scene is unknown (no summary, no protocol)")
    return BidsRun(
        folder,
        participant,
        label(participant),
        session_number(folder),
        label(scene),
        scene,
        protocol,
        str(summary.get("state") or ""),
    )


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _json(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_run(root: Path, run: BidsRun, data: SessionData) -> list[Path]:
    """Write one session's events and physio files under ``root``; returns them."""
    t_zero = time_zero(data)
    folder = root / run.beh
    rows = session_events(data, t_zero)
    paths = [
        _write(folder / f"{run.stem}_events.tsv", events_tsv(rows)),
        _write(
            folder / f"{run.stem}_events.json", _json(events_sidecar(rows, run.task, run.scene))
        ),
    ]
    for table in physio_tables(data, t_zero):
        name = f"{run.stem}_recording-{table.label}_physio"
        paths.append(_write(folder / f"{name}.tsv.gz", physio_bytes(table)))
        sidecar = {"TaskName": run.task, **table.sidecar}
        paths.append(_write(folder / f"{name}.json", _json(sidecar)))
    return paths


_README = """\
Sessions of vrtherapy (VR exposure therapy and pain distraction with biofeedback),
exported as BIDS {version} by vrtherapy {software}.

- sub-<label>: the participant's pseudonym, letters and digits only.
- ses-<n>: the participant's sessions numbered by their start time (1 = the first), counting
  every session of the participant held at the site, exported or not.
- task-<label>: the scene (heights, spiders, publicspeaking, flying, snow, breathing).
- beh/*_events.tsv: what happened (intensity steps, prompts and answers, therapist
  overrides, scene events, signal quality flags and gaps); onset 0 is the session's start.
- beh/*_recording-<ecg|ppg|eda|hr>_physio.tsv.gz: each recorded signal in its role's unit,
  on its stream's nominal rate (n/a where no sample arrived); irregular heart-rate streams
  are interpolated onto a 4 Hz grid. StartTime in each sidecar is relative to onset 0.

No names, dates or free-text notes are exported.
"""


def write_dataset_files(root: Path, runs: list[BidsRun]) -> list[Path]:
    """``dataset_description.json``, ``README``, ``participants.tsv/.json`` and each
    subject's ``sessions.tsv/.json`` for ``runs`` (written once, after the runs)."""
    description = {
        "Name": "vrtherapy sessions",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "raw",
        "GeneratedBy": [{"Name": "vrtherapy", "Version": __version__}],
    }
    paths = [
        _write(root / "dataset_description.json", _json(description)),
        _write(root / "README", _README.format(version=BIDS_VERSION, software=__version__)),
    ]
    subjects = sorted({r.subject for r in runs})
    participants = "participant_id\n" + "".join(f"sub-{s}\n" for s in subjects)
    paths.append(_write(root / "participants.tsv", participants))
    described = {
        "participant_id": {"Description": "pseudonymous participant ID (letters and digits)"}
    }
    paths.append(_write(root / "participants.json", _json(described)))
    for subject in subjects:
        mine = sorted((r for r in runs if r.subject == subject), key=lambda r: r.session)
        lines = ["session_id\tprotocol\tscene\tend_state"]
        lines += [f"ses-{r.session}\t{r.protocol}\t{r.scene}\t{r.state or 'n/a'}" for r in mine]
        stem = root / f"sub-{subject}" / f"sub-{subject}_sessions"
        paths.append(_write(stem.with_suffix(".tsv"), "\n".join(lines) + "\n"))
        sidecar = {
            "session_id": {"Description": "the session (numbered by start time)"},
            "protocol": {"Description": "the vrtherapy protocol that ran"},
            "scene": {"Description": "the VR scene"},
            "end_state": {
                "Description": "how the session ended",
                "Levels": {"finished": "ran its full duration", "aborted": "stopped early"},
            },
        }
        paths.append(_write(stem.with_suffix(".json"), _json(sidecar)))
    return paths
