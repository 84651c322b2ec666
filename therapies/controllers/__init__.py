"""Closed registry of therapy controllers (protocol key ``controller.kind``).

``ControllerConfig`` is a union of the config models dispatched on ``kind`` (default
``exposure``). It is dispatched by a wrap validator rather than pydantic's
``Field(discriminator=...)`` on purpose: a discriminated union puts the tag into every
error location (``controller.exposure.hierarchy``) and reports an unknown kind as
``union_tag_invalid`` at ``controller``; this dispatch keeps errors at
``controller.hierarchy`` and reports ``controller.kind: 'expo' is not one of exposure,
distraction, breathing`` on the ``kind`` line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, Final, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from therapies.controllers.base import (
    ANSWER_RANGES,
    ArousalWindow,
    Controller,
    ControllerConfigBase,
    ControllerError,
    IntensityDecision,
    check_answer,
)
from therapies.controllers.breathing import (
    BreathingConfig,
    BreathingController,
    oscillation_amplitude,
)
from therapies.controllers.distraction import DistractionConfig, DistractionController
from therapies.controllers.exposure import ExposureConfig, ExposureController, Habituation

CONTROLLERS: Final[Mapping[str, tuple[type[ControllerConfigBase], Callable[..., Controller]]]] = (
    MappingProxyType(
        {
            "exposure": (ExposureConfig, ExposureController),
            "distraction": (DistractionConfig, DistractionController),
            "breathing": (BreathingConfig, BreathingController),
        }
    )
)
"""Closed registry: kind -> (config model, controller class taking ``(config, seed=)``).
Every other list of kinds (validation, messages, docs) is derived from it."""

_CONFIG_TYPES: tuple[type[ControllerConfigBase], ...] = tuple(c for c, _ in CONTROLLERS.values())


def controller_kinds() -> tuple[str, ...]:
    """The registered kinds, in registry order."""
    return tuple(CONTROLLERS)


def _known_kind(value: str) -> str:
    if value not in CONTROLLERS:
        raise ValueError(f"{value!r} is not one of {', '.join(CONTROLLERS)}")
    return value


class _Kind(BaseModel):
    """Checks ``kind`` alone, so an unknown one is reported with the allowed values."""

    model_config = ConfigDict(extra="allow")
    kind: Annotated[str, AfterValidator(_known_kind)] = "exposure"


def _dispatch(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Validate ``value`` with the config model its ``kind`` names."""
    if isinstance(value, _CONFIG_TYPES):
        return value
    if not isinstance(value, dict):
        return handler(value)  # the union's own "not a mapping" error
    kind = _Kind.model_validate(value).kind
    return CONTROLLERS[kind][0].model_validate(value)


if TYPE_CHECKING:
    ControllerConfig = ControllerConfigBase
else:
    ControllerConfig = Annotated[Union[_CONFIG_TYPES], WrapValidator(_dispatch)]  # noqa: UP007
"""Protocol key ``controller``: the config model of the kind it names (a union of the
registered models, so that messages list each model's fields)."""


def create_controller(config: ControllerConfigBase, seed: int = 0) -> Controller:
    """Build the controller ``config.kind`` names; ``seed`` drives any random choices."""
    _, cls = CONTROLLERS[config.kind]
    controller: Controller = cls(config, seed=seed)
    return controller


__all__ = [
    "ANSWER_RANGES",
    "CONTROLLERS",
    "ArousalWindow",
    "BreathingConfig",
    "BreathingController",
    "Controller",
    "ControllerConfig",
    "ControllerConfigBase",
    "ControllerError",
    "DistractionConfig",
    "DistractionController",
    "ExposureConfig",
    "ExposureController",
    "Habituation",
    "IntensityDecision",
    "check_answer",
    "controller_kinds",
    "create_controller",
    "oscillation_amplitude",
]
