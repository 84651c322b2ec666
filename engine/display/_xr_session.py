"""OpenXR instance, HMD system, GL session, spaces, events and clock for the openxr display.

:class:`XrRuntime` owns everything up to (not including) swapchains and drawing, and drives
the session lifecycle from runtime events: ``READY`` begins the session, ``STOPPING`` ends
it, ``EXITING`` / ``LOSS_PENDING`` / instance loss ask the application to quit. Every wait
has a deadline; cleanup runs in reverse creation order through one :class:`ExitStack`.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from engine.display._xr_gl import EglContext, GlContext, GlxContext
from engine.errors import DisplayUnavailableError

RUNTIME_HINT = (
    "install and start an OpenXR runtime (e.g. Monado: apt install monado-service, then run "
    "monado-service) and select it with XR_RUNTIME_JSON=/path/to/openxr_monado.json "
    "or the system's active_runtime.json"
)
_VALID_POSE = 0x1 | 0x2  # ORIENTATION_VALID | POSITION_VALID (space and view flags alike)
_NS = 1_000_000_000


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class XrRuntime:
    """Instance, system, GL context, session and reference spaces.

    Parameters
    ----------
    xr
        The imported ``xr`` (pyopenxr) module.
    graphics
        ``"egl"`` or ``"glx"`` (see :mod:`engine.display._xr_gl`).
    title
        Application name given to the runtime (and the hidden window's caption).
    space
        ``"local"`` (seated, origin at the head at start) or ``"stage"`` (floor origin).
    ready_timeout_s
        Seconds to wait for the runtime to make the session ``READY``.
    """

    def __init__(
        self,
        xr: Any,
        graphics: str,
        *,
        title: str,
        space: str,
        ready_timeout_s: float,
        mirror_size: tuple[int, int] | None = None,
    ) -> None:
        self.xr = xr
        self.state = xr.SessionState.UNKNOWN
        self.running = False
        self.quit_requested = False
        self._stack = ExitStack()
        self._wake = threading.Event()
        try:
            self._create_instance(graphics, title)
            self.gl: GlContext = (
                EglContext() if graphics == "egl" else GlxContext(title, mirror_size)
            )
            self._stack.callback(self.gl.destroy)
            self._create_session(space)
            self.wait_until(lambda: self.running, ready_timeout_s, "become READY")
        except xr.XrException as exc:
            self._stack.close()
            raise DisplayUnavailableError(
                f"OpenXR session setup failed: {_describe(exc)}; {RUNTIME_HINT}"
            ) from exc
        except BaseException:
            self._stack.close()
            raise

    # ------------------------------------------------------------------ creation
    def _create_instance(self, graphics: str, title: str) -> None:
        xr = self.xr
        want = [xr.KHR_OPENGL_ENABLE_EXTENSION_NAME]
        if graphics == "egl":
            want.append("XR_MNDX_egl_enable")
        try:
            names = {_text(e.extension_name) for e in xr.enumerate_instance_extension_properties()}
        except xr.XrException as exc:
            raise DisplayUnavailableError(
                f"no OpenXR runtime could be loaded ({_describe(exc)}); {RUNTIME_HINT}"
            ) from exc
        missing = [e for e in want if e not in names]
        if missing:
            raise DisplayUnavailableError(
                f"the OpenXR runtime lacks {', '.join(missing)} (OpenGL rendering with "
                f"{graphics.upper()}); {RUNTIME_HINT}"
            )
        self.has_clock = "XR_KHR_convert_timespec_time" in names
        if self.has_clock:
            want.append("XR_KHR_convert_timespec_time")
        try:
            self.instance = xr.create_instance(
                xr.InstanceCreateInfo(
                    application_info=xr.ApplicationInfo(
                        application_name=title[:127], engine_name="vrtherapy"
                    ),
                    enabled_extension_names=want,
                )
            )
        except xr.XrException as exc:
            raise DisplayUnavailableError(
                f"the OpenXR runtime refused to create an instance ({_describe(exc)}); "
                f"{RUNTIME_HINT}"
            ) from exc
        self._stack.callback(xr.destroy_instance, self.instance)
        self.runtime_name = _text(xr.get_instance_properties(self.instance).runtime_name)
        try:
            self.system = xr.get_system(
                self.instance, xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY)
            )
        except xr.XrException as exc:
            raise DisplayUnavailableError(
                f"OpenXR runtime {self.runtime_name!r} has no head-mounted display "
                f"({_describe(exc)}); connect and switch on the headset, or {RUNTIME_HINT}"
            ) from exc
        self.system_name = _text(xr.get_system_properties(self.instance, self.system).system_name)
        if self.has_clock:
            self._to_xr_time = self._proc(
                "xrConvertTimespecTimeToTimeKHR",
                ctypes.POINTER(_Timespec),
                ctypes.POINTER(ctypes.c_int64),
            )

    def _proc(self, name: str, *argtypes: Any) -> Any:
        """An instance function pointer with the given arguments after the instance."""
        xr = self.xr
        proto = ctypes.CFUNCTYPE(ctypes.c_int, xr.Instance, *argtypes)
        return ctypes.cast(xr.get_instance_proc_addr(self.instance, name), proto)

    def _create_session(self, space: str) -> None:
        xr = self.xr
        get_req = ctypes.cast(
            xr.get_instance_proc_addr(self.instance, "xrGetOpenGLGraphicsRequirementsKHR"),
            xr.PFN_xrGetOpenGLGraphicsRequirementsKHR,
        )
        req = xr.GraphicsRequirementsOpenGLKHR()
        result = xr.check_result(xr.Result(get_req(self.instance, self.system, ctypes.byref(req))))
        if result.is_exception():
            raise DisplayUnavailableError(f"xrGetOpenGLGraphicsRequirementsKHR: {result}")
        binding = self.gl.binding(xr)
        try:
            self.session = xr.create_session(
                self.instance,
                xr.SessionCreateInfo(
                    system_id=self.system,
                    next=ctypes.cast(ctypes.pointer(binding), ctypes.c_void_p),
                ),
            )
        except xr.XrException as exc:
            raise DisplayUnavailableError(
                f"OpenXR runtime {self.runtime_name!r} refused an OpenGL session "
                f"({_describe(exc)}) with the {type(self.gl).__name__}"
            ) from exc
        self._stack.callback(xr.destroy_session, self.session)
        self._stack.callback(self._end_if_running)
        kinds = {"local": xr.ReferenceSpaceType.LOCAL, "stage": xr.ReferenceSpaceType.STAGE}
        if space not in kinds:
            raise DisplayUnavailableError(
                f"openxr display: space={space!r} is not one of {', '.join(kinds)}"
            )
        if kinds[space] not in xr.enumerate_reference_spaces(self.session):
            raise DisplayUnavailableError(f"the OpenXR runtime has no {space.upper()} space")
        self.space = self._reference_space(kinds[space])
        self.view_space = self._reference_space(xr.ReferenceSpaceType.VIEW)

    def _reference_space(self, kind: Any) -> Any:
        xr = self.xr
        handle = xr.create_reference_space(
            self.session, xr.ReferenceSpaceCreateInfo(reference_space_type=kind)
        )
        self._stack.callback(xr.destroy_space, handle)
        return handle

    def on_close(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` first on :meth:`destroy` (for objects made after the runtime)."""
        self._stack.callback(callback)

    # ------------------------------------------------------------------ events
    def pump_events(self) -> None:
        """Drain the runtime's event queue and follow session state changes.

        Raises
        ------
        DisplayUnavailableError
            The runtime failed (other than losing the session, which sets ``quit_requested``).
        """
        xr = self.xr
        try:
            self._pump()
        except (xr.SessionLostError, xr.InstanceLostError):
            self.quit_requested = True
        except xr.XrException as exc:
            raise DisplayUnavailableError(
                f"OpenXR runtime {self.runtime_name!r} failed in state {self.state.name}: "
                f"{type(exc).__name__} {exc}"
            ) from exc

    def _pump(self) -> None:
        xr = self.xr
        while True:
            try:
                event = xr.poll_event(self.instance)
            except xr.EventUnavailable:
                return
            kind = xr.StructureType(event.type)
            if kind == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                changed = ctypes.cast(
                    ctypes.byref(event), ctypes.POINTER(xr.EventDataSessionStateChanged)
                ).contents
                self._on_state(xr.SessionState(changed.state))
            elif kind == xr.StructureType.EVENT_DATA_INSTANCE_LOSS_PENDING:
                self.quit_requested = True

    def _on_state(self, state: Any) -> None:
        xr = self.xr
        self.state = state
        if state == xr.SessionState.READY:
            xr.begin_session(
                self.session,
                xr.SessionBeginInfo(
                    primary_view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO
                ),
            )
            self.running = True
        elif state == xr.SessionState.STOPPING:
            self.running = False
            xr.end_session(self.session)
        elif state in (xr.SessionState.EXITING, xr.SessionState.LOSS_PENDING):
            self.quit_requested = True

    def wait_until(self, done: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Pump events until ``done()`` or ``timeout_s`` passes (then raise)."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.pump_events()
            if done():
                return
            if self.quit_requested or time.monotonic() > deadline:
                raise DisplayUnavailableError(
                    f"OpenXR session did not {what} within {timeout_s:g} s "
                    f"(state {self.state.name}, runtime {self.runtime_name!r})"
                )
            self._wake.wait(0.005)

    def idle(self, seconds: float) -> None:
        """Wait up to ``seconds`` for the session to run again (it is not running now)."""
        deadline = time.monotonic() + seconds
        while not self.running and not self.quit_requested and time.monotonic() < deadline:
            self._wake.wait(0.005)
            self.pump_events()

    # ------------------------------------------------------------------ clock
    def now(self) -> tuple[int, int] | None:
        """``(XrTime, CLOCK_MONOTONIC)`` now, both ns; None without XR_KHR_convert_timespec_time."""
        if not self.has_clock:
            return None
        ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        spec = _Timespec(ns // _NS, ns % _NS)
        out = ctypes.c_int64()
        if self._to_xr_time(self.instance, ctypes.byref(spec), ctypes.byref(out)) < 0:
            return None
        return int(out.value), ns

    # ------------------------------------------------------------------ teardown
    def _end_if_running(self) -> None:
        """Ask the runtime to stop the session and end it (bounded wait)."""
        xr = self.xr
        if not self.running:
            return
        try:
            xr.request_exit_session(self.session)
        except (xr.SessionLostError, xr.InstanceLostError):
            return  # a lost session cannot be ended; destroying it is all that is left
        deadline = time.monotonic() + 2.0
        while self.running and not self.quit_requested and time.monotonic() < deadline:
            self._wake.wait(0.005)
            self.pump_events()

    def destroy(self) -> None:
        """Tear everything down in reverse order; safe to call twice."""
        self._stack.close()


def pose_is_valid(flags: Any) -> bool:
    """Both orientation and position valid in an ``XrSpaceLocationFlags``/``XrViewStateFlags``."""
    return int(flags) & _VALID_POSE == _VALID_POSE


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".rstrip(": ")
