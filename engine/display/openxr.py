"""OpenXR headset display: the runtime paces frames, the head pose moves the eyes.

``present()`` runs one OpenXR frame: ``xrWaitFrame`` (blocks until the runtime wants the
next frame: this paces the session loop), ``xrBeginFrame``, locate the two eyes at the
predicted display time, draw the scene for both into one side-by-side swapchain image with
the shared :class:`~engine.render.Renderer`, and ``xrEndFrame`` with a projection layer.
Eyes are placed in the scene by :func:`engine.display._xr_math.tracked_eye_view`: the
tracking origin sits on the scene's ``camera_position`` (the head position of the first
tracked frame lands there) turned by ``camera_yaw``.

Each frame's timing and head pose are kept as data in :attr:`OpenXRDisplay.last_frame`
(:class:`XrFrameInfo`) with running totals in :attr:`OpenXRDisplay.stats`, for the session
recording. Needs pyopenxr (``pip install 'vrtherapy[xr]'``) and an OpenXR runtime with an
HMD (e.g. Monado, selected by ``XR_RUNTIME_JSON``).

Input: :meth:`OpenXRDisplay.poll` syncs a controller action set
(:mod:`engine.display._xr_actions`: select -> ``"return"``, menu -> :attr:`menu_key`,
thumbstick/trackpad -> ``"left"``/``"right"``) and reports the head pose of the last
submitted frame in scene coordinates, for answering prompts by gaze.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from engine.display._xr_frames import NO_POSE, FramePose, XrFrameInfo, XrFrameStats, frame_pose
from engine.display._xr_gl import GlxContext, choose_graphics, import_xr, require_pyopenxr
from engine.display._xr_math import tracked_eye_view
from engine.display._xr_session import pose_is_valid
from engine.display.base import FrameTiming, InputEvents
from engine.display.capabilities import OPENXR
from engine.errors import DisplayUnavailableError
from engine.render.camera import EyeView
from therapies.prompt_gaze import PanelLayout
from therapies.scenes.base import DrawList, Overlay

if TYPE_CHECKING:
    from engine.display._xr_mirror import DesktopMirror

_NS_PER_MS = 1_000_000
MIRROR_SIZE = (960, 720)
"""Initial size of the therapist's mirror window (resizable; the eye is letterboxed)."""


class OpenXRDisplay:
    """A head-mounted display through OpenXR, rendering with the shared renderer.

    Parameters
    ----------
    size
        Ignored: the runtime recommends the per-eye resolution (see ``eye_size``); kept
        for the uniform backend constructor. :attr:`size` reports the real one.
    stereo
        True: each eye sees from its own tracked pose. False: both eyes see from the head
        centre (zero interpupillary distance), still with each eye's field of view.
    title
        Application name shown by the runtime.
    graphics
        ``"auto"`` (GLX when ``$DISPLAY`` is set, else headless EGL), ``"egl"`` (needs the
        runtime's ``XR_MNDX_egl_enable``, Monado) or ``"glx"``.
    space
        Reference space: ``"local"`` (seated, default) or ``"stage"``.
    eye_size
        Per-eye ``(width, height)``; default the runtime's recommendation, clamped to its
        maximum.
    ready_timeout_s
        Seconds to wait for the runtime to start the session.
    mirror
        Show the headset's left eye in a desktop window for the therapist (GLX only: needs
        ``$DISPLAY``). The window's keyboard works like the desktop window's (escape stops,
        up/down override), and closing it ends the session.
    mirror_every
        Refresh the mirror on every n-th frame (1: every frame).

    Raises
    ------
    DisplayUnavailableError
        pyopenxr missing (names ``pip install 'vrtherapy[xr]'``), no runtime or no HMD
        (names ``XR_RUNTIME_JSON``), no suitable GL context, or the session never started.
    """

    name = "openxr"
    capabilities = OPENXR
    paced = True

    def __init__(
        self,
        size: tuple[int, int] = (1280, 720),
        stereo: bool = True,
        title: str = "vrtherapy",
        *,
        graphics: str = "auto",
        space: str = "local",
        eye_size: tuple[int, int] | None = None,
        ready_timeout_s: float = 10.0,
        mirror: bool = False,
        mirror_every: int = 1,
    ) -> None:
        require_pyopenxr()
        graphics = choose_graphics(graphics)
        if mirror and graphics != "glx":
            raise DisplayUnavailableError(
                "openxr display: the desktop mirror needs a window (GLX): run it on a desktop "
                "with $DISPLAY set, or without the mirror"
            )
        self._xr = import_xr()
        from engine.display._gaze import PanelLayouts, head_pose
        from engine.display._xr_actions import XrControllers
        from engine.display._xr_mirror import DesktopMirror
        from engine.display._xr_session import XrRuntime
        from engine.display._xr_swapchain import StereoSwapchain
        from engine.render.renderer import Renderer

        self.stereo = stereo
        self.graphics = graphics
        self.last_frame: XrFrameInfo | None = None
        """The most recent frame's timing and head pose (None before the first)."""
        self.last_eyes: tuple[EyeView, ...] = ()
        """The eye views (world space) of the last submitted frame, left then right."""
        self._stats = XrFrameStats()
        self._frames = 0
        self._presented = False
        self._anchor: NDArray[np.float64] | None = None
        self._prev_display_ns: int | None = None
        self._layouts = PanelLayouts()
        self._head_pose = head_pose
        self._rt = XrRuntime(
            self._xr,
            graphics,
            title=title,
            space=space,
            ready_timeout_s=ready_timeout_s,
            mirror_size=MIRROR_SIZE if mirror else None,
        )
        self.mirror: DesktopMirror | None = None
        """The therapist's desktop mirror (``None`` without one)."""
        self._window: GlxContext | None = None  # the mirror's window
        try:
            self._eye_size = self._choose_eye_size(eye_size)
            self._swapchain = StereoSwapchain(self._xr, self._rt.session, self._eye_size)
            self._rt.on_close(self._swapchain.destroy)
            self._renderer = Renderer()
            self._rt.on_close(self._renderer.close)
            self._rt.on_close(self._rt.gl.make_current)  # runs first: GL frees need it
            if mirror:
                window = self._rt.gl
                assert isinstance(window, GlxContext)
                self._window = window
                self.mirror = DesktopMirror(window.swap, window.window_size, every=mirror_every)
            self.controllers = XrControllers(self._xr, self._rt.instance, self._rt.session)
            """The controller action set (its ``syncs`` count and accepted ``profiles``)."""
            self._rt.on_close(self.controllers.destroy)
        except self._xr.XrException as exc:
            self._rt.destroy()
            raise DisplayUnavailableError(
                f"OpenXR swapchain setup failed in {self.runtime!r}: {type(exc).__name__} {exc}"
            ) from exc
        except BaseException:
            self._rt.destroy()
            raise
        self._closed = False

    def _choose_eye_size(self, requested: tuple[int, int] | None) -> tuple[int, int]:
        xr, rt = self._xr, self._rt
        views = xr.enumerate_view_configuration_views(
            rt.instance, rt.system, xr.ViewConfigurationType.PRIMARY_STEREO
        )
        if len(views) != 2:
            raise DisplayUnavailableError(f"the HMD has {len(views)} views, expected 2")
        v = views[0]
        w, h = requested or (v.recommended_image_rect_width, v.recommended_image_rect_height)
        return (max(1, min(int(w), v.max_image_rect_width)),
                max(1, min(int(h), v.max_image_rect_height)))  # fmt: skip

    # ------------------------------------------------------------------ Display API
    @property
    def size(self) -> tuple[int, int]:
        """Side-by-side framebuffer ``(2 * eye width, eye height)`` in pixels."""
        return (2 * self._eye_size[0], self._eye_size[1])

    @property
    def eye_size(self) -> tuple[int, int]:
        """One eye's ``(width, height)`` in pixels."""
        return self._eye_size

    @property
    def stats(self) -> XrFrameStats:
        """Frame totals since opening."""
        return self._stats

    @property
    def runtime(self) -> str:
        """``"<runtime name> / <system name>"``, e.g. Monado's simulated HMD."""
        return f"{self._rt.runtime_name} / {self._rt.system_name}"

    @property
    def session_state(self) -> str:
        """The OpenXR session state's name (``FOCUSED``, ``STOPPING``...)."""
        return str(self._rt.state.name)

    @property
    def menu_key(self) -> str:
        """Key name a controller's menu button produces (the session sets its on-demand key)."""
        return self.controllers.menu_key

    @menu_key.setter
    def menu_key(self, key: str) -> None:
        self.controllers.menu_key = key

    def set_prompt_key(self, key: str) -> None:
        """The menu button asks a prompt with the protocol's on-demand key."""
        self.menu_key = key

    def poll(self) -> InputEvents:
        """Follow runtime events and controllers; the head pose of the last submitted frame.

        ``quit`` once the runtime is exiting or the session is lost. Controller keys come only
        while the session is focused.
        """
        if self._closed:
            return InputEvents(quit=True)
        self._rt.pump_events()
        live = self._rt.running and not self._rt.quit_requested
        xr = self._xr
        try:
            keys = self.controllers.poll(live)
        except (xr.SessionLostError, xr.InstanceLostError, xr.SessionNotRunningError):
            keys = ()
        except xr.XrException as exc:
            raise DisplayUnavailableError(
                f"OpenXR controller input failed in {self._rt.runtime_name!r}: "
                f"{type(exc).__name__} {exc}"
            ) from exc
        closed = False
        if self._window is not None:  # the therapist's window: its keys, and closing it
            closed, desk = self._window.events()
            keys = (*keys, *desk)
        return InputEvents(
            quit=self._rt.quit_requested or closed,
            keys=keys,
            head=self._head_pose(self.last_eyes),
        )

    def panel_layout(self, overlay: Overlay) -> PanelLayout | None:
        """Where ``overlay``'s scale sits on its panel as drawn in each eye (gaze input)."""
        return self._layouts.get(overlay, self._eye_size[1])

    def request_exit(self) -> None:
        """Ask the runtime to end the session (``xrRequestExitSession``).

        The runtime then moves it through ``STOPPING`` (ended here) to ``EXITING``, after
        which :meth:`poll` reports ``quit``; :meth:`present` submits nothing meanwhile.
        """
        if self._closed or not self._rt.running:
            return
        xr = self._xr
        try:
            xr.request_exit_session(self._rt.session)
        except xr.XrException as exc:
            raise DisplayUnavailableError(f"xrRequestExitSession failed: {exc}") from exc

    def recenter(self) -> None:
        """Put the next tracked head position back on the scene's ``camera_position``."""
        self._anchor = None

    def present(self, draw_list: DrawList) -> FrameTiming:
        """Run one OpenXR frame showing ``draw_list``; blocks in ``xrWaitFrame`` (pacing).

        While the session is not running (the runtime stopped it, or it is exiting) no frame
        is submitted and this waits up to 50 ms for events instead.
        """
        start = time.thread_time()
        if self._closed:
            raise DisplayUnavailableError("the openxr display is closed")
        index = self._frames
        self._frames += 1
        self._rt.pump_events()
        if self._rt.running and not self._rt.quit_requested:
            self._frame(draw_list, index)
        else:
            self._rt.idle(0.05)
        return FrameTiming((time.thread_time() - start) * 1000.0, index)

    def _frame(self, draw_list: DrawList, index: int) -> None:
        xr, session = self._xr, self._rt.session
        try:
            waited = time.perf_counter()
            state = xr.wait_frame(session)
            wait_ms = (time.perf_counter() - waited) * 1000.0
            # FrameDiscarded is a success code: the previous frame was dropped, this one goes on.
            with contextlib.suppress(xr.FrameDiscarded):
                xr.begin_frame(session)
            layers: list[Any] = []
            head = NO_POSE
            try:
                loc = xr.locate_space(
                    self._rt.view_space, self._rt.space, state.predicted_display_time
                )
                head = frame_pose(loc.pose, pose_is_valid(loc.location_flags))
                if state.should_render and head.valid:
                    layers = self._render(draw_list, state.predicted_display_time, head, loc.pose)
            finally:
                xr.end_frame(
                    session,
                    xr.FrameEndInfo(
                        display_time=state.predicted_display_time,
                        environment_blend_mode=xr.EnvironmentBlendMode.OPAQUE,
                        layers=[ctypes.byref(layer) for layer in layers],
                    ),
                )
        except (xr.SessionLostError, xr.InstanceLostError, xr.SessionLossPending):
            self._rt.quit_requested = True
            return
        except xr.XrException as exc:
            raise DisplayUnavailableError(
                f"OpenXR frame {index} failed in {self._rt.runtime_name!r}: {type(exc).__name__}"
                f" {exc}"
            ) from exc
        self._record(index, state, bool(layers), head, wait_ms)

    def _render(
        self, draw_list: DrawList, display_time: int, head: FramePose, head_pose: Any
    ) -> list[Any]:
        """Locate the eyes and draw both; return the layers to submit (none if untracked)."""
        xr, rt = self._xr, self._rt
        view_state, views = xr.locate_views(
            rt.session,
            xr.ViewLocateInfo(
                view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO,
                display_time=display_time,
                space=rt.space,
            ),
        )
        if not pose_is_valid(view_state.view_state_flags):
            return []
        if self._anchor is None:
            self._anchor = np.array(head.position, np.float64)
        w, h = self._eye_size
        eyes = []
        for i, view in enumerate(views):
            p = view.pose.position
            pos = (p.x, p.y, p.z) if self.stereo else head.position
            q = view.pose.orientation
            f = view.fov
            eyes.append(tracked_eye_view(
                pos, (q.x, q.y, q.z, q.w), (f.angle_left, f.angle_right, f.angle_up, f.angle_down),
                camera_position=draw_list.camera_position, camera_yaw_deg=draw_list.camera_yaw,
                anchor=self._anchor, viewport=(i * w, 0, w, h),
            ))  # fmt: skip
        fbo = self._swapchain.acquire()
        try:
            self._renderer.render(draw_list, eyes)
        finally:
            self._swapchain.capture_and_release(fbo)
        if self.mirror is not None:
            self.mirror.show(self._swapchain.capture_fbo, self._eye_size)
        self._presented = True
        self.last_eyes = tuple(eyes)
        proj = [xr.CompositionLayerProjectionView() for _ in views]
        for i, (pv, view) in enumerate(zip(proj, views, strict=True)):
            pv.pose, pv.fov = view.pose, view.fov
            if not self.stereo:
                pv.pose.position = head_pose.position
            pv.sub_image.swapchain = self._swapchain.handle
            pv.sub_image.image_rect.offset.x = i * w
            pv.sub_image.image_rect.offset.y = 0
            pv.sub_image.image_rect.extent.width = w
            pv.sub_image.image_rect.extent.height = h
        return [xr.CompositionLayerProjection(space=rt.space, views=proj)]

    def _record(
        self, index: int, state: Any, submitted: bool, head: FramePose, wait_ms: float
    ) -> None:
        clock = self._rt.now()
        display_ns = int(state.predicted_display_time)
        period_ns = int(state.predicted_display_period)
        skipped = 0
        if self._prev_display_ns is not None and period_ns > 0:
            skipped = max(0, round((display_ns - self._prev_display_ns) / period_ns) - 1)
        self._prev_display_ns = display_ns
        margin = mono_s = None
        if clock is not None:
            xr_now, mono_now = clock
            margin = (display_ns - xr_now) / _NS_PER_MS
            mono_s = (display_ns - xr_now + mono_now) / 1e9
        late = margin is not None and margin < 0.0
        self.last_frame = XrFrameInfo(
            index, display_ns, period_ns, mono_s, bool(state.should_render), submitted,
            head.valid, head.position, head.orientation, wait_ms, margin, late, skipped,
        )  # fmt: skip
        s = self._stats
        self._stats = XrFrameStats(
            s.frames + 1, s.submitted + submitted, s.late + late, s.skipped_periods + skipped
        )

    def read_pixels(self) -> NDArray[np.uint8]:
        """The last submitted frame's **left eye**, ``(h, w, 3)`` uint8 RGB, top row first."""
        if self._closed:
            raise DisplayUnavailableError("the openxr display is closed")
        if not self._presented:
            raise DisplayUnavailableError("no frame has been submitted to the headset yet")
        return self._swapchain.read_left()

    def screenshot(self, path: str | os.PathLike[str]) -> None:
        """Write the last submitted frame's left eye as PNG (temp file + rename)."""
        import pygame

        pixels = self.read_pixels()
        dest = Path(path)
        tmp = dest.with_name(f".{dest.stem}.tmp.png")
        h, w = pixels.shape[:2]
        surface = pygame.image.frombuffer(pixels.tobytes(), (w, h), "RGB")
        pygame.image.save(surface, str(tmp))
        os.replace(tmp, dest)

    def close(self) -> None:
        """End the session if running and destroy everything; idempotent, bounded wait."""
        if self._closed:
            return
        self._closed = True
        self._rt.destroy()
