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

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidatorFunctionWrapHandler, WrapValidator

from therapies.controllers.base import (
    ANSWER_RANGES,
    Controller,
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

CONTROLLERS: dict[str, tuple[type[BaseModel], type]] = {
    "exposure": (ExposureConfig, ExposureController),
    "distraction": (DistractionConfig, DistractionController),
    "breathing": (BreathingConfig, BreathingController),
}
"""kind -> (config model, controller class)."""

_CONFIG_TYPES = (ExposureConfig, DistractionConfig, BreathingConfig)


class _Kind(BaseModel):
    """Checks ``kind`` alone, so an unknown one is reported with the allowed values."""

    model_config = ConfigDict(extra="allow")
    kind: Literal["exposure", "distraction", "breathing"] = "exposure"


def _dispatch(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Validate ``value`` with the config model its ``kind`` names."""
    if isinstance(value, _CONFIG_TYPES):
        return value
    if not isinstance(value, dict):
        return handler(value)  # the union's own "not a mapping" error
    kind = _Kind.model_validate(value).kind
    return CONTROLLERS[kind][0].model_validate(value)


ControllerConfig = Annotated[
    ExposureConfig | DistractionConfig | BreathingConfig, WrapValidator(_dispatch)
]
"""Protocol key ``controller``: the config model of the kind it names."""


def create_controller(
    config: ExposureConfig | DistractionConfig | BreathingConfig, seed: int = 0
) -> Controller:
    """Build the controller ``config.kind`` names; ``seed`` drives any random choices."""
    _, cls = CONTROLLERS[config.kind]
    controller: Controller = cls(config, seed=seed)
    return controller


__all__ = [
    "ANSWER_RANGES",
    "CONTROLLERS",
    "BreathingConfig",
    "BreathingController",
    "Controller",
    "ControllerConfig",
    "ControllerError",
    "DistractionConfig",
    "DistractionController",
    "ExposureConfig",
    "ExposureController",
    "Habituation",
    "IntensityDecision",
    "check_answer",
    "create_controller",
    "oscillation_amplitude",
]
