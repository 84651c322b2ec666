"""OpenGL contexts for the openxr display, and importing pyopenxr without breaking PyOpenGL.

Two ways to get a GL context OpenXR accepts:

``egl``
    A Mesa *surfaceless* EGL context bound with ``XR_MNDX_egl_enable``: no X server, no
    window (Monado supports it; the headless test harness uses it).
``glx``
    A hidden pygame (SDL) window's GLX context bound with ``XR_KHR_opengl_enable``'s Xlib
    binding: what desktop runtimes (Monado, SteamVR) accept; needs ``$DISPLAY``.

EGL and GLX are called through ctypes (not PyOpenGL), so PyOpenGL's platform choice (fixed
at its first import, and overridden to GLX by ``import xr``) does not matter here: plain GL
calls work on either kind of context. :func:`import_xr` restores the platform xr replaces.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

from engine.errors import DisplayUnavailableError

XR_EXTRA = "pip install 'vrtherapy[xr]'"
EGL_PLATFORM_SURFACELESS_MESA = 0x31DD  # EGL_MESA_platform_surfaceless
_EGL_CONTEXT_MAJOR_VERSION = 0x3098
_EGL_CONTEXT_MINOR_VERSION = 0x30FB
_EGL_CONTEXT_OPENGL_PROFILE_MASK = 0x30FD
_EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT = 0x1


def require_pyopenxr() -> None:
    """Raise :class:`DisplayUnavailableError` naming the extra when pyopenxr is missing.

    Checked before PyOpenGL is touched, so a missing package leaves no side effects.
    """
    if "xr" in sys.modules:
        missing = sys.modules["xr"] is None
    else:
        try:
            missing = importlib.util.find_spec("xr") is None
        except (ImportError, ValueError):
            missing = True
    if missing:
        raise DisplayUnavailableError(
            "the openxr display needs pyopenxr, which is not installed; "
            f"install it with: {XR_EXTRA}"
        )


def choose_graphics(graphics: str) -> str:
    """Resolve ``"auto"`` (GLX when ``$DISPLAY`` is set, else EGL) and check the choice."""
    if graphics not in ("auto", "egl", "glx"):
        raise DisplayUnavailableError(
            f"openxr display: graphics={graphics!r} is not one of auto, egl, glx"
        )
    if graphics == "auto":
        graphics = "glx" if os.environ.get("DISPLAY") else "egl"
    if graphics == "glx" and not os.environ.get("DISPLAY"):
        raise DisplayUnavailableError(
            "openxr display: graphics='glx' needs an X server ($DISPLAY is not set); "
            "use graphics='egl' (Monado) or start under X"
        )
    return graphics


def import_xr() -> ModuleType:
    """Import pyopenxr, keeping PyOpenGL on the platform it had chosen.

    ``import xr`` replaces PyOpenGL's platform with GLX; that is undone here. The EGL and
    GLX calls this module needs go straight to ``libEGL``/``libGL`` through ctypes, so the
    PyOpenGL platform only has to run plain GL calls, which work with either.

    Raises
    ------
    DisplayUnavailableError
        pyopenxr is not installed (or fails to import); names the extra to install.
    """
    import OpenGL.platform as glplat

    import engine.render._gl  # noqa: F401  (sets OpenGL.ERROR_CHECKING, loads GL)

    saved = glplat.PLATFORM
    try:
        import xr
    except ImportError as exc:
        raise DisplayUnavailableError(
            f"the openxr display needs pyopenxr, which failed to import ({exc}); "
            f"install it with: {XR_EXTRA}"
        ) from exc
    finally:
        glplat.PLATFORM = saved
    module: ModuleType = xr  # untyped package (mypy sees Any)
    return module


_POINTER_TYPE = type(ctypes.POINTER(ctypes.c_char))  # the metaclass of every ctypes pointer


def _field(struct: type[ctypes.Structure], name: str, value: int | None) -> Any:
    """``value`` (an address or XID) as ``struct``'s field type, whatever pyopenxr chose."""
    kind = dict(struct._fields_)[name]  # type: ignore[arg-type]
    if issubclass(kind, ctypes.c_void_p) or isinstance(kind, _POINTER_TYPE):
        return ctypes.cast(ctypes.c_void_p(value), kind)
    return kind(value or 0)


def _load(name: str, packages: str) -> ctypes.CDLL:
    try:
        return ctypes.CDLL(name)
    except OSError as exc:
        raise DisplayUnavailableError(
            f"openxr display: cannot load {name} ({exc}); install {packages}"
        ) from exc


class EglContext:
    """Mesa surfaceless EGL display with an OpenGL 3.3 core context (no window, no X)."""

    def __init__(self) -> None:
        egl = _load("libEGL.so.1", "libegl1 libegl-mesa0")
        vp, i32, u32 = ctypes.c_void_p, ctypes.c_int32, ctypes.c_uint32
        signatures: dict[str, tuple[Any, list[Any]]] = {
            "eglGetPlatformDisplay": (vp, [u32, vp, vp]),
            "eglGetDisplay": (vp, [vp]),
            "eglInitialize": (u32, [vp, ctypes.POINTER(i32), ctypes.POINTER(i32)]),
            "eglChooseConfig": (u32, [vp, ctypes.POINTER(i32), ctypes.POINTER(vp), i32,
                                      ctypes.POINTER(i32)]),
            "eglBindAPI": (u32, [u32]),
            "eglCreateContext": (vp, [vp, vp, vp, ctypes.POINTER(i32)]),
            "eglCreatePbufferSurface": (vp, [vp, vp, ctypes.POINTER(i32)]),
            "eglMakeCurrent": (u32, [vp, vp, vp, vp]),
            "eglDestroySurface": (u32, [vp, vp]),
            "eglDestroyContext": (u32, [vp, vp]),
            "eglTerminate": (u32, [vp]),
            "eglGetError": (i32, []),
            "eglGetProcAddress": (vp, [ctypes.c_char_p]),
        }  # fmt: skip
        for fname, (restype, argtypes) in signatures.items():
            fn = getattr(egl, fname)
            fn.restype, fn.argtypes = restype, argtypes
        self._egl = egl
        self.display = egl.eglGetPlatformDisplay(
            EGL_PLATFORM_SURFACELESS_MESA, None, None
        ) or egl.eglGetDisplay(None)
        major, minor = i32(), i32()
        if not self.display or not egl.eglInitialize(self.display, major, minor):
            raise DisplayUnavailableError(
                f"openxr display: EGL initialisation failed ({self._error()}); "
                "install libegl1 libegl-mesa0"
            )
        try:
            self._create(egl)
        except BaseException:
            egl.eglTerminate(self.display)
            raise
        self.info = f"EGL {major.value}.{minor.value}"

    def _error(self) -> str:
        return f"EGL error {self._egl.eglGetError():#x}"

    def _create(self, egl: ctypes.CDLL) -> None:
        attrs = _ints(0x3024, 8, 0x3023, 8, 0x3022, 8, 0x3021, 8,  # R, G, B, A sizes
                      0x3040, 0x0008,  # EGL_RENDERABLE_TYPE: EGL_OPENGL_BIT
                      0x3033, 0x0001)  # EGL_SURFACE_TYPE: EGL_PBUFFER_BIT  # fmt: skip
        config, count = ctypes.c_void_p(), ctypes.c_int32()
        if not egl.eglChooseConfig(self.display, attrs, ctypes.byref(config), 1, count) or (
            count.value < 1
        ):
            raise DisplayUnavailableError("openxr display: no EGL config with OpenGL + pbuffer")
        egl.eglBindAPI(0x30A2)  # EGL_OPENGL_API
        ctx_attrs = _ints(
            *(_EGL_CONTEXT_MAJOR_VERSION, 3, _EGL_CONTEXT_MINOR_VERSION, 3),
            *(_EGL_CONTEXT_OPENGL_PROFILE_MASK, _EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT),
        )
        self.config = config.value
        self.context = egl.eglCreateContext(self.display, self.config, None, ctx_attrs)
        if not self.context:
            raise DisplayUnavailableError(
                f"openxr display: no OpenGL 3.3 core EGL context ({self._error()})"
            )
        self.surface = egl.eglCreatePbufferSurface(
            self.display,
            self.config,
            _ints(0x3057, 16, 0x3056, 16),  # EGL_WIDTH, EGL_HEIGHT
        )
        if not self.surface:
            egl.eglDestroyContext(self.display, self.context)
            raise DisplayUnavailableError(f"openxr display: no EGL pbuffer ({self._error()})")
        self.make_current()

    def make_current(self) -> None:
        """Make the context current on this thread."""
        if not self._egl.eglMakeCurrent(self.display, self.surface, self.surface, self.context):
            raise DisplayUnavailableError(
                f"openxr display: eglMakeCurrent failed ({self._error()})"
            )

    def binding(self, xr: Any) -> Any:
        """``XrGraphicsBindingEGLMNDX`` for session creation."""
        kind = xr.GraphicsBindingEGLMNDX
        get_proc = ctypes.cast(self._egl.eglGetProcAddress, ctypes.c_void_p).value
        return kind(
            get_proc_address=xr.PFN_xrEglGetProcAddressMNDX(get_proc),
            display=_field(kind, "display", self.display),
            config=_field(kind, "config", self.config),
            context=_field(kind, "context", self.context),
        )

    def destroy(self) -> None:
        """Release the context, surface and display."""
        egl = self._egl
        egl.eglMakeCurrent(self.display, None, None, None)
        egl.eglDestroySurface(self.display, self.surface)
        egl.eglDestroyContext(self.display, self.context)
        egl.eglTerminate(self.display)


def _ints(*values: int) -> Any:
    """An ``EGL_NONE``-terminated EGLint attribute list."""
    return (ctypes.c_int32 * (len(values) + 1))(*values, 0x3038)


class GlxContext:
    """A pygame window's OpenGL 3.3 core GLX context (needs an X server).

    Hidden unless ``mirror_size`` is given: then it is a visible, resizable window of that
    size for the therapist's desktop mirror (no vsync: the headset runtime paces frames).
    """

    def __init__(self, title: str, mirror_size: tuple[int, int] | None = None) -> None:
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame

        from engine.display._pygame_gl import sdl_video_driver

        if pygame.display.get_init() and pygame.display.get_surface() is not None:
            raise DisplayUnavailableError(
                "a GL display is already open in this process (pygame allows one); close it first"
            )
        try:
            with sdl_video_driver("x11"):  # GLX needs SDL's X11 driver, whatever tests set
                pygame.display.init()
            pygame.display.gl_set_attribute(pygame.GL_CONTEXT_MAJOR_VERSION, 3)
            pygame.display.gl_set_attribute(pygame.GL_CONTEXT_MINOR_VERSION, 3)
            pygame.display.gl_set_attribute(
                pygame.GL_CONTEXT_PROFILE_MASK, pygame.GL_CONTEXT_PROFILE_CORE
            )
            if mirror_size is None:
                flags = pygame.OPENGL | pygame.DOUBLEBUF | pygame.HIDDEN
                pygame.display.set_mode((64, 64), flags)
            else:
                flags = pygame.OPENGL | pygame.DOUBLEBUF | pygame.RESIZABLE
                pygame.display.set_mode(mirror_size, flags, vsync=0)
            pygame.display.set_caption(title)
        except pygame.error as exc:
            pygame.display.quit()
            raise DisplayUnavailableError(
                f"openxr display: no GLX context from pygame ({exc}); is $DISPLAY an X server?"
            ) from exc
        self._pygame = pygame
        libgl = _load("libGL.so.1", "libgl1 libglx-mesa0")
        for fname, restype in (("glXGetCurrentDisplay", ctypes.c_void_p),
                               ("glXGetCurrentDrawable", ctypes.c_ulong),
                               ("glXGetCurrentContext", ctypes.c_void_p),
                               ("glXMakeCurrent", ctypes.c_int)):  # fmt: skip
            getattr(libgl, fname).restype = restype
        libgl.glXMakeCurrent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p]
        self._gl = libgl
        self.display = libgl.glXGetCurrentDisplay()
        self.drawable = libgl.glXGetCurrentDrawable()
        self.context = libgl.glXGetCurrentContext()
        if not self.context:
            pygame.display.quit()
            raise DisplayUnavailableError("openxr display: SDL did not create a GLX context")
        self.info = f"GLX via SDL {pygame.display.get_driver()}"

    def make_current(self) -> None:
        """Make the context current on this thread."""
        self._gl.glXMakeCurrent(self.display, self.drawable, self.context)

    def binding(self, xr: Any) -> Any:
        """``XrGraphicsBindingOpenGLXlibKHR`` for session creation."""
        kind = xr.GraphicsBindingOpenGLXlibKHR
        return kind(
            x_display=_field(kind, "x_display", self.display),
            glx_drawable=_field(kind, "glx_drawable", self.drawable),
            glx_context=_field(kind, "glx_context", self.context),
        )

    def window_size(self) -> tuple[int, int]:
        """The window's drawable size in pixels (it may have been resized)."""
        w, h = self._pygame.display.get_window_size()
        return (int(w), int(h))

    def swap(self) -> None:
        """Show the window's back buffer."""
        self._pygame.display.flip()

    def events(self) -> tuple[bool, tuple[str, ...]]:
        """Drain the window's events: (closed, keys pressed as pygame key names)."""
        pygame = self._pygame
        closed, keys = False, []
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                closed = True
            elif event.type == pygame.KEYDOWN:
                keys.append(pygame.key.name(event.key))
        return closed, tuple(keys)

    def destroy(self) -> None:
        """Close the window and its context."""
        self._pygame.display.quit()


GlContext = EglContext | GlxContext
