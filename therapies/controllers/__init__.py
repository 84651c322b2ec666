"""Closed registry of therapy controllers (protocol key ``controller.kind``)."""

from __future__ import annotations

from therapies.controllers.base import Controller, IntensityDecision
from therapies.controllers.exposure import ExposureConfig, ExposureController

CONTROLLERS: dict[str, tuple[type, type]] = {"exposure": (ExposureConfig, ExposureController)}
"""kind -> (config model, controller class). Designed, not built yet: distraction, breathing."""

ControllerConfig = ExposureConfig


def create_controller(config: ControllerConfig) -> Controller:
    """Build the controller ``config.kind`` names."""
    _, cls = CONTROLLERS[config.kind]
    controller: Controller = cls(config)
    return controller


__all__ = [
    "CONTROLLERS",
    "Controller",
    "ControllerConfig",
    "ExposureConfig",
    "ExposureController",
    "IntensityDecision",
    "create_controller",
]
