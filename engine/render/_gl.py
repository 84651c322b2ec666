"""The one place that imports PyOpenGL, so its global switches are set before first use.

``OpenGL.ERROR_CHECKING`` (a ``glGetError`` after every call) stays **on** by default and in
tests. Set the environment variable ``VRTHERAPY_GL_ERROR_CHECKING=0`` *before* the first
``engine.render`` / ``engine.display`` GL import to switch it off (the benchmark does).

The ``raw_*`` functions skip PyOpenGL's array conversion (pass ``ctypes.c_void_p``); the
raw ``glVertexAttribPointer`` also skips PyOpenGL's per-context bookkeeping, which cannot
find an EGL context (SDL's offscreen driver) when PyOpenGL picked its GLX platform.
"""

from __future__ import annotations

import os

import OpenGL

if os.environ.get("VRTHERAPY_GL_ERROR_CHECKING", "1") == "0":
    OpenGL.ERROR_CHECKING = False

from OpenGL import GL
from OpenGL.raw.GL.VERSION.GL_1_5 import glBufferData as raw_buffer_data
from OpenGL.raw.GL.VERSION.GL_1_5 import glBufferSubData as raw_buffer_sub_data
from OpenGL.raw.GL.VERSION.GL_2_0 import (
    glVertexAttribPointer as raw_vertex_attrib_pointer,
)
from OpenGL.raw.GL.VERSION.GL_3_1 import (
    glDrawElementsInstanced as raw_draw_elements_instanced,
)

__all__ = [
    "GL",
    "raw_buffer_data",
    "raw_buffer_sub_data",
    "raw_draw_elements_instanced",
    "raw_vertex_attrib_pointer",
]
