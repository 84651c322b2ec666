"""How one simulated patient reacts: the twin's profile (validated, frozen).

A :class:`TwinProfile` describes one patient for :class:`~biosignals.twin_model.TwinPhysiology`
(see that module for the model). Most fields describe one session. The *course* fields
describe a course of treatment, session after session:

* ``session`` — which session of the course the twin plays (0 = the first);
* ``between_session_rate`` — the share of the reactivity lost from one session to the
  next (between-session habituation): session ``n`` plays with
  ``reactivity * (1 - between_session_rate) ** n``;
* ``resting_hr_shifts`` / ``resting_scl_shifts`` — per session (index 0, 1, ...) the bpm
  and µS added to ``resting_hr`` / ``resting_scl`` that day (a session beyond the lists:
  no shift).

:meth:`TwinProfile.in_session` turns them into the one-session profile the physiology
runs. With the defaults (session 0, no shifts) it is the profile itself, so a profile
without course fields behaves exactly as before they existed.
"""

from __future__ import annotations

import math

import pydantic
from pydantic import Field

__all__ = ["MAX_SESSIONS", "TwinProfile"]

MAX_SESSIONS = 1000
"""Longest course a profile describes (sessions)."""
_HR_SHIFT_MAX, _SCL_SHIFT_MAX = 40.0, 20.0  # bpm, µS


class TwinProfile(pydantic.BaseModel, frozen=True, extra="forbid"):
    """How one simulated patient reacts; every field has a default and a range."""

    name: str = Field(default="typical", min_length=1, description="profile name")
    resting_hr: float = Field(default=70.0, ge=40, le=120, description="heart rate at rest, bpm")
    max_hr_gain: float = Field(default=45.0, ge=0, le=100, description="bpm added at arousal 1")
    resting_scl: float = Field(default=4.0, ge=0.5, le=40, description="tonic SCL at rest, µS")
    max_scl_gain: float = Field(default=4.0, ge=0, le=30, description="µS added at arousal 1")
    scl_lag: float = Field(default=15.0, ge=1, le=300, description="tonic SCL lag, s")
    scr_rate_rest: float = Field(default=1.0, ge=0, le=30, description="SCRs per minute at rest")
    scr_rate_max: float = Field(default=8.0, ge=0, le=60, description="SCRs/min at arousal 1")
    scr_amplitude: float = Field(default=0.3, ge=0.01, le=3, description="typical SCR peak, µS")
    reactivity: float = Field(default=1.0, ge=0, le=3, description="arousal per unit intensity")
    response_lag: float = Field(default=8.0, ge=0.1, le=120, description="arousal lag, s")
    habituation_tau: float = Field(default=240.0, ge=5, le=3600, description="habituation, s")
    habituation_floor: float = Field(
        default=0.5, ge=0, le=1, description="fraction of the response left after full habituation"
    )
    hrv_rsa_bpm: float = Field(default=4.0, ge=0, le=20, description="respiratory sinus arrhythmia")
    hrv_sd_bpm: float = Field(default=1.5, ge=0, le=10, description="random HR variability (sd)")
    breathing_rate: float = Field(default=12.0, ge=4, le=30, description="breaths per minute")
    ecg_noise_mv: float = Field(default=0.02, ge=0, le=0.5, description="ECG white noise sd, mV")
    eda_noise_us: float = Field(default=0.005, ge=0, le=0.2, description="EDA white noise sd, µS")
    ectopic_rate_per_min: float = Field(default=0.0, ge=0, le=20, description="PVCs/min")
    ectopic_prematurity: float = Field(default=0.35, ge=0.1, le=0.6, description="RR fraction")
    dropout_rate_per_hour: float = Field(default=0.0, ge=0, le=120, description="per stream")
    dropout_duration: float = Field(default=5.0, ge=0.5, le=120, description="dropout length, s")
    artifact_rate_per_hour: float = Field(default=0.0, ge=0, le=600, description="motion")
    artifact_mv: float = Field(default=1.0, ge=0, le=5, description="ECG artefact size, mV")
    artifact_us: float = Field(default=0.5, ge=0, le=5, description="EDA artefact size, µS")
    pain_level: float = Field(default=0.0, ge=0, le=10, description="pain NRS, no distraction")
    pain_relief: float = Field(default=0.5, ge=0, le=1, description="relief at engagement 1")
    pain_lag: float = Field(default=30.0, ge=1, le=600, description="pain follows engagement, s")
    pain_arousal: float = Field(default=0.0, ge=0, le=1, description="arousal added at pain 10")
    suds_scale: float = Field(default=1.0, ge=0.2, le=3, description="SUDS = 100 * scale * a")
    pacer_adherence: float = Field(default=0.8, ge=0, le=1, description="breaths with a pacer")
    resonance_rate: float = Field(default=6.0, ge=3, le=10, description="breaths/min, max RSA")
    resonance_gain: float = Field(default=1.5, ge=0, le=5, description="extra RSA at resonance")
    session: int = Field(
        default=0, ge=0, lt=MAX_SESSIONS, description="session of the course played (0 = first)"
    )
    between_session_rate: float = Field(
        default=0.0, ge=0, le=0.9, description="share of the reactivity lost per session"
    )
    resting_hr_shifts: tuple[float, ...] = Field(
        default=(), max_length=MAX_SESSIONS, description="per session: bpm added to resting_hr"
    )
    resting_scl_shifts: tuple[float, ...] = Field(
        default=(), max_length=MAX_SESSIONS, description="per session: µS added to resting_scl"
    )

    @pydantic.model_validator(mode="after")
    def _rates_ordered(self) -> TwinProfile:
        if self.scr_rate_max < self.scr_rate_rest:
            raise ValueError(
                f"scr_rate_max ({self.scr_rate_max}) must be >= scr_rate_rest "
                f"({self.scr_rate_rest})"
            )
        return self

    @pydantic.field_validator("resting_hr_shifts", "resting_scl_shifts")
    @classmethod
    def _shifts_bounded(cls, value: tuple[float, ...], info: pydantic.ValidationInfo) -> tuple:
        limit = _HR_SHIFT_MAX if info.field_name == "resting_hr_shifts" else _SCL_SHIFT_MAX
        for k, shift in enumerate(value):
            if not (math.isfinite(shift) and abs(shift) <= limit):
                raise ValueError(f"session {k}: shift {shift} is not within -{limit:g}..{limit:g}")
        return value

    def in_session(self, session: int | None = None) -> TwinProfile:
        """The one-session profile that session ``session`` of the course plays.

        Parameters
        ----------
        session
            Index in the course (0 = first); default :attr:`session`.

        Returns
        -------
        TwinProfile
            ``self`` for session 0 without shifts (unchanged behaviour); otherwise a copy
            with ``resting_hr`` and ``resting_scl`` shifted (kept within their ranges),
            ``reactivity * (1 - between_session_rate) ** session``, and the course fields
            reset (``session`` 0, no rate, no shifts), so applying it twice changes nothing.
        """
        n = self.session if session is None else int(session)
        if not 0 <= n < MAX_SESSIONS:
            raise ValueError(f"session {n} is not within 0..{MAX_SESSIONS - 1}")
        hr = self.resting_hr_shifts[n] if n < len(self.resting_hr_shifts) else 0.0
        scl = self.resting_scl_shifts[n] if n < len(self.resting_scl_shifts) else 0.0
        if n == 0 and not self.resting_hr_shifts and not self.resting_scl_shifts:
            return self
        return self.model_copy(
            update={
                "resting_hr": min(120.0, max(40.0, self.resting_hr + hr)),
                "resting_scl": min(40.0, max(0.5, self.resting_scl + scl)),
                "reactivity": self.reactivity * (1.0 - self.between_session_rate) ** n,
                "session": 0,
                "between_session_rate": 0.0,
                "resting_hr_shifts": (),
                "resting_scl_shifts": (),
            }
        )
