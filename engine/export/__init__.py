"""Reading session recordings and exporting them (EDF+, CSV).

:func:`load_session` / :func:`load_physiology` read an XDF recording (the physiology is
what ``vrtherapy replay`` re-publishes); :mod:`engine.export.edf` and
:mod:`engine.export.csv` write the exports.
"""

from __future__ import annotations

from engine.export.recording import SessionData, load_physiology, load_session

__all__ = ["SessionData", "load_physiology", "load_session"]
