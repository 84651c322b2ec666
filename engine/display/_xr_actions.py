"""Headset controllers for the openxr display: one action set, mapped to prompt key names.

Actions (both hands, any of several interaction profiles):

========= ==================================================== ===================
action    bound to                                             key it produces
========= ==================================================== ===================
select    khr/simple ``select/click``; trigger on the others   ``"return"``
menu      ``menu/click`` (Touch: left menu; Index: ``b/click``) the on-demand key
step      thumbstick (Touch, Index, WMR), trackpad (Vive)      ``"right"`` / ``"left"``
========= ==================================================== ===================

A stick or pad pushed right or up gives ``"right"`` (one step up the scale), left or down
``"left"``, once per push (:class:`StickSteps`). Up/down never produce the therapist's
``"up"``/``"down"`` override keys: a patient answering must not move the exposure.
Actions are synced once per :meth:`XrControllers.poll` while the session runs; an unfocused
session (``XR_SESSION_NOT_FOCUSED``) gives no input and re-arms every edge.
"""

from __future__ import annotations

import math
from typing import Any

from engine.errors import DisplayUnavailableError

SIMPLE_PROFILE = "/interaction_profiles/khr/simple_controller"
HANDS = ("/user/hand/left", "/user/hand/right")
_BOTH = HANDS
PROFILES: dict[str, dict[str, tuple[str, ...]]] = {
    SIMPLE_PROFILE: {
        "select": tuple(f"{h}/input/select/click" for h in _BOTH),
        "menu": tuple(f"{h}/input/menu/click" for h in _BOTH),
    },
    "/interaction_profiles/oculus/touch_controller": {
        "select": tuple(f"{h}/input/trigger/value" for h in _BOTH),
        "menu": ("/user/hand/left/input/menu/click",),
        "step": tuple(f"{h}/input/thumbstick" for h in _BOTH),
    },
    "/interaction_profiles/valve/index_controller": {
        "select": tuple(f"{h}/input/trigger/click" for h in _BOTH),
        "menu": tuple(f"{h}/input/b/click" for h in _BOTH),
        "step": tuple(f"{h}/input/thumbstick" for h in _BOTH),
    },
    "/interaction_profiles/htc/vive_controller": {
        "select": tuple(f"{h}/input/trigger/click" for h in _BOTH),
        "menu": tuple(f"{h}/input/menu/click" for h in _BOTH),
        "step": tuple(f"{h}/input/trackpad" for h in _BOTH),
    },
    "/interaction_profiles/microsoft/motion_controller": {
        "select": tuple(f"{h}/input/trigger/value" for h in _BOTH),
        "menu": tuple(f"{h}/input/menu/click" for h in _BOTH),
        "step": tuple(f"{h}/input/thumbstick" for h in _BOTH),
    },
}
"""Interaction profile -> action -> binding paths suggested to the runtime."""

PRESS = 0.7
"""Stick deflection (0..1) that counts as a push."""
RELEASE = 0.3
"""Deflection below which the stick is back at rest (re-armed)."""


class StickSteps:
    """Thumbstick/trackpad -> one ``"left"``/``"right"`` key per push (with hysteresis)."""

    def __init__(self) -> None:
        self._armed = True

    def reset(self) -> None:
        """Forget the stick (input lost focus): the next push counts."""
        self._armed = True

    def update(self, x: float, y: float) -> str | None:
        """The key for stick position ``(x, y)`` (right and up positive), or ``None``."""
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        big = max(abs(x), abs(y))
        if big < RELEASE:
            self._armed = True
            return None
        if big < PRESS or not self._armed:
            return None
        self._armed = False
        value = x if abs(x) >= abs(y) else y
        return "right" if value > 0 else "left"


class XrControllers:
    """The action set of the openxr display (created, bound, attached to ``session``).

    Parameters
    ----------
    xr
        The imported ``xr`` module.
    instance, session
        The display's OpenXR instance and session (actions not yet attached).
    menu_key
        Key name the menu button produces (the protocol's on-demand prompt key).

    Raises
    ------
    DisplayUnavailableError
        The runtime refused the action set, every profile's bindings, or the attachment.
    """

    def __init__(self, xr: Any, instance: Any, session: Any, menu_key: str = "s") -> None:
        self.xr, self.session, self.menu_key = xr, session, menu_key
        self.syncs = 0
        """Successful ``xrSyncActions`` calls (focused frames)."""
        self.unfocused = 0
        """Polls that found the session not focused (no input)."""
        self._stick = StickSteps()
        try:
            self.action_set = xr.create_action_set(
                instance,
                xr.ActionSetCreateInfo(
                    action_set_name="vrtherapy",
                    localized_action_set_name="vrtherapy prompts",
                    priority=0,
                ),
            )
            self._hands = [xr.string_to_path(instance, h) for h in HANDS]
            kinds = {
                "select": xr.ActionType.BOOLEAN_INPUT,
                "menu": xr.ActionType.BOOLEAN_INPUT,
                "step": xr.ActionType.VECTOR2F_INPUT,
            }
            self.actions = {name: self._action(name, kind) for name, kind in kinds.items()}
            self.profiles = self._suggest(instance)
            xr.attach_session_action_sets(
                session, xr.SessionActionSetsAttachInfo(action_sets=[self.action_set])
            )
        except xr.XrException as exc:
            raise DisplayUnavailableError(
                f"OpenXR controller actions could not be set up: {type(exc).__name__} {exc}"
            ) from exc

    def _action(self, name: str, kind: Any) -> Any:
        xr = self.xr
        return xr.create_action(
            self.action_set,
            xr.ActionCreateInfo(
                action_name=name,
                action_type=kind,
                subaction_paths=self._hands,
                localized_action_name=name,
            ),
        )

    def _suggest(self, instance: Any) -> tuple[str, ...]:
        """Suggest every profile's bindings; returns the profiles the runtime accepted."""
        xr = self.xr
        accepted = []
        for profile, table in PROFILES.items():
            bindings = [
                xr.ActionSuggestedBinding(self.actions[name], xr.string_to_path(instance, path))
                for name, paths in table.items()
                for path in paths
            ]
            try:
                xr.suggest_interaction_profile_bindings(
                    instance,
                    xr.InteractionProfileSuggestedBinding(
                        interaction_profile=xr.string_to_path(instance, profile),
                        suggested_bindings=bindings,
                    ),
                )
            except (xr.PathUnsupportedError, xr.PathInvalidError):
                continue  # the runtime does not know this controller
            accepted.append(profile)
        if SIMPLE_PROFILE not in accepted:
            raise DisplayUnavailableError(
                f"the OpenXR runtime refused bindings for {SIMPLE_PROFILE} (every runtime must "
                "support it)"
            )
        return tuple(accepted)

    def poll(self, running: bool) -> tuple[str, ...]:
        """Sync the actions and return the keys pressed since the last poll.

        Parameters
        ----------
        running
            The session is running (synced only then; otherwise no input).
        """
        xr = self.xr
        if not running:
            self._stick.reset()
            return ()
        try:
            xr.sync_actions(
                self.session,
                xr.ActionsSyncInfo(
                    active_action_sets=[xr.ActiveActionSet(self.action_set, xr.NULL_PATH)]
                ),
            )
        except xr.SessionNotFocused:
            self.unfocused += 1
            self._stick.reset()
            return ()
        self.syncs += 1
        keys = []
        for name, key in (("select", "return"), ("menu", self.menu_key)):
            state = xr.get_action_state_boolean(
                self.session, xr.ActionStateGetInfo(action=self.actions[name])
            )
            if state.is_active and state.changed_since_last_sync and state.current_state:
                keys.append(key)
        stick = xr.get_action_state_vector2f(
            self.session, xr.ActionStateGetInfo(action=self.actions["step"])
        )
        step = None
        if stick.is_active:
            step = self._stick.update(stick.current_state.x, stick.current_state.y)
        else:
            self._stick.reset()
        if step is not None:
            keys.append(step)
        return tuple(keys)

    def destroy(self) -> None:
        """Destroy the action set (and its actions)."""
        self.xr.destroy_action_set(self.action_set)
