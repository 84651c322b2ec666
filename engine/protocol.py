"""Therapy protocols: YAML -> frozen, typed, validated :class:`Protocol`.

Defaults live here, in one place; units are parsed once (``"3min"`` -> 180.0 s); every
problem in a file is reported as ``file:line: field.path: what is wrong (allowed values)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from biosignals.arousal import ArousalWeights
from biosignals.conversion import SignalSettings
from biosignals.errors import FieldValueError
from biosignals.roles import WAVEFORM_ROLES, check_role
from biosignals.units import Duration, format_duration
from engine.errors import ProtocolError
from engine.privacy.consent import Consent
from engine.yamlconfig import load_model
from therapies.controllers import ControllerConfig
from therapies.prompts import PromptsConfig
from therapies.safety import SafetyConfig

Role = Annotated[str, AfterValidator(check_role)]
"""A stream role from :data:`biosignals.roles.ROLES`: ``heart`` = ECG waveform, ``ppg`` =
pulse waveform, ``hr`` = heart rate or RR intervals from the device (``signal.content``),
``eda`` = skin conductance. Each has a canonical unit (:data:`ROLE_UNITS`) its values are
converted to; waveform roles (:data:`WAVEFORM_ROLES`) refuse heart-rate content."""


def _stream_problems(streams: Mapping[Role, StreamSelector]) -> None:
    """Each role's content fits the role; no two roles read one channel of one stream."""
    for role, sel in streams.items():
        content = sel.signal.content
        if role in WAVEFORM_ROLES and content != "waveform":
            hint = (
                "heart-rate numbers go under the role hr (streams: {hr: {...}})"
                if role != "eda"
                else "eda reads a skin-conductance waveform"
            )
            raise FieldValueError(
                ("streams", role, "signal", "content"),
                f"{content!r} is not a waveform, and {role} reads a waveform: {hint}",
            )
    for role, sel in streams.items():
        if role == "hr" and sel.signal.range is not None:
            raise FieldValueError(
                ("streams", role, "signal", "range"),
                "a heart-rate stream has no clipping check: give range only for heart, ppg, eda",
            )
    seen: dict[tuple[object, ...], str] = {}
    for role, sel in streams.items():
        where = (sel.type, sel.name, sel.source_id, sel.channel if sel.channel else 0)
        if where in seen:
            raise FieldValueError(
                ("streams", role, "channel"),
                f"roles {seen[where]} and {role} read the same channel of the same stream; "
                "give each role its own channel",
            )
        seen[where] = role


MIN_BASELINE = 10.0
"""Shortest baseline (s). The feature pipeline has its first valid heart rate and skin
conductance 2.5 s after clean ECG and EDA start (measured on the twin, 20 seeds); one
motion artefact at the start delays that past 8 s. The arousal index needs valid
features at several baseline ticks for its medians: without them it is never defined."""
BASELINE_TICKS = 3
"""A baseline spans at least this many controller ticks (baseline samples are taken at
ticks, the first at the very start, before any signal)."""
MAX_SEED = 2**63 - 1
"""Seeds feed NumPy's ``SeedSequence``, which takes non-negative integers only (a
negative seed fails when the session starts); the upper bound keeps a seed a 64-bit
integer in the audit trail's JSON and in other tools."""


class StreamSelector(BaseModel):
    """Which LSL stream fills a role: predicates on its type, name and source_id."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: str | None = None
    name: str | None = None
    source_id: str | None = None
    channel: str | int | None = Field(default=None, description="channel label or index")
    signal: SignalSettings = Field(
        default=SignalSettings(), description="what the device really sends (docs/devices.md)"
    )

    @model_validator(mode="after")
    def _some_predicate(self) -> StreamSelector:
        if not (self.type or self.name or self.source_id):
            raise ValueError("give at least one of type, name, source_id")
        return self


class ConsoleConfig(BaseModel):
    """Protocol key ``console``: what a therapist console may do and see (docs/console.md).

    ``events``: the scene events a console may fire: ``true`` (default) every event the
    scene declares, ``false`` none, or a list of the allowed ones. ``thumbnail``: publish a
    small image of the patient's view (off by default: privacy), ``thumbnail_fps`` times a
    second.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    events: bool | tuple[str, ...] = True
    thumbnail: bool = False
    thumbnail_fps: float = Field(default=3.0, ge=2.0, le=5.0)

    def enabled_events(self, declared: tuple[str, ...]) -> tuple[str, ...]:
        """The scene events a console may fire, of the scene's ``declared`` ones."""
        if self.events is True:
            return declared
        if self.events is False:
            return ()
        return tuple(e for e in declared if e in self.events)


class Protocol(BaseModel):
    """A complete therapy protocol (see ``seeds/protocols/`` for commented examples)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    protocol: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)
    title: str = ""
    scene: str
    duration: Duration = Field(gt=0.0, le=4 * 3600.0)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    streams: dict[Role, StreamSelector] = Field(min_length=1)
    stream_timeout: Duration = Field(default=10.0, gt=0.0, le=600.0)
    baseline: Duration = Field(default=60.0, ge=0.0)
    """Resting period before the controller starts (at least :data:`MIN_BASELINE`)."""
    controller: ControllerConfig
    safety: SafetyConfig = SafetyConfig()
    arousal: ArousalWeights = Field(
        default=ArousalWeights(), description="how HR, SCL and SCR rate make the arousal index"
    )
    prompts: PromptsConfig = PromptsConfig()
    consent: Consent | None = Field(
        default=None, description="what the participant consented to (else from the CLI)"
    )
    console: ConsoleConfig = Field(
        default=ConsoleConfig(), description="what a therapist console may do and see"
    )

    @field_validator("scene")
    @classmethod
    def _known_scene(cls, value: str) -> str:
        from therapies.scenes import scene_names

        names = scene_names()
        if value not in names:
            raise ValueError(f"{value!r} is not one of {', '.join(names)}")
        return value

    @field_validator("baseline")
    @classmethod
    def _baseline_long_enough(cls, value: float) -> float:
        if value < MIN_BASELINE:
            raise ValueError(
                f"{format_duration(value)} is too short: the arousal reference needs at least "
                f"{MIN_BASELINE:g} s of resting signal (the first valid heart rate comes "
                "about 2.5 s after the streams start)"
            )
        return value

    @model_validator(mode="after")
    def _streams_fit_roles(self) -> Protocol:
        _stream_problems(self.streams)
        return self

    @model_validator(mode="after")
    def _baseline_fits(self) -> Protocol:
        if self.baseline >= self.duration:
            raise FieldValueError(
                ("baseline",),
                f"baseline ({self.baseline:g} s) must be shorter than "
                f"duration ({self.duration:g} s)",
            )
        tick = self.controller.tick
        if self.baseline < BASELINE_TICKS * tick:
            raise FieldValueError(
                ("baseline",),
                f"baseline ({self.baseline:g} s) must span at least {BASELINE_TICKS} "
                f"controller ticks of {tick:g} s (baseline samples are taken at ticks): "
                f"make it at least {BASELINE_TICKS * tick:g} s or shorten controller.tick",
            )
        return self

    @model_validator(mode="after")
    def _console_events_declared(self) -> Protocol:
        events = self.console.events
        if isinstance(events, bool):
            return self
        from therapies.scenes import scene_events

        declared = scene_events(self.scene)
        for i, name in enumerate(events):
            if name not in declared:
                raise FieldValueError(
                    ("console", "events", i),
                    f"{name!r} is not an event of scene {self.scene} "
                    f"(its events: {', '.join(declared) or 'none'})",
                )
        return self

    @model_validator(mode="after")
    def _consent_covers_a_stream(self) -> Protocol:
        if self.consent is None:
            return self
        roles = list(self.streams)
        if not set(self.consent.streams) & set(roles):
            given = ", ".join(self.consent.streams) or "none"
            raise FieldValueError(
                ("consent", "streams"),
                f"consent covers none of the protocol's streams ({', '.join(roles)}); "
                f"consented: {given}; a session needs consent to record at least one",
            )
        return self


def load_protocol(path: str | Path) -> Protocol:
    """Load and validate a protocol file; raises :class:`ProtocolError` naming file:line:field."""
    return load_model(path, Protocol, what="protocol")


def seeds_dir() -> Path:
    """Folder of the installed starter library (``protocols/``, ``patients/``)."""
    return Path(str(resources.files("vrtherapy_seeds")))


def seed_protocols() -> list[Path]:
    """All shipped protocol files."""
    return sorted((seeds_dir() / "protocols").glob("*.yaml"))


def seed_patients() -> list[Path]:
    """All shipped patient-twin profiles."""
    return sorted((seeds_dir() / "patients").glob("*.yaml"))


def resolve_seed(kind: Literal["protocols", "patients"], name_or_path: str) -> Path:
    """A path as given, or the shipped seed of that name (``heights-demo`` -> its file)."""
    path = Path(name_or_path)
    if path.exists() or path.suffix in (".yaml", ".yml"):
        return path
    candidate = seeds_dir() / kind / f"{name_or_path}.yaml"
    if candidate.exists():
        return candidate
    shipped = ", ".join(p.stem for p in sorted((seeds_dir() / kind).glob("*.yaml")))
    raise ProtocolError(
        f"{name_or_path}: no such file, and no shipped {kind[:-1]} of that name ({shipped})"
    )
