"""Instanced renderer: one upload and one instanced draw per batch (per eye).

Needs a current OpenGL 3.3 core context (see :mod:`engine.display`). Per frame the Python
work is a handful of GL calls per batch plus small numpy copies; nothing loops over
instances in Python.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from engine.render import shaders
from engine.render._gl import (
    GL,
    raw_buffer_data,
    raw_buffer_sub_data,
    raw_draw_elements_instanced,
    raw_vertex_attrib_pointer,
)
from engine.render.camera import EyeView
from engine.render.meshes import MESH_BUILDERS
from engine.render.text import MAX_FONT_PX, MIN_FONT_PX, TextStyle, render_coverage
from engine.render.textures import Texture, TextureCache
from therapies.scenes.base import MATERIALS, Batch, DrawList, Overlay

_FLOATS_PER_INSTANCE = 20  # mat4 (16) + rgba (4)
_INSTANCE_STRIDE = _FLOATS_PER_INSTANCE * 4
_VERTEX_STRIDE = 6 * 4
_Draw = tuple[int, int, int, int]  # vao, index count, instances, material index

OVERLAY_DISTANCE = 1.5
"""Metres in front of the head at which head-locked overlay panels are placed."""


@dataclass(frozen=True)
class Lighting:
    """Directional sun plus hemisphere ambient, fixed for a renderer's life."""

    direction: tuple[float, float, float] = (0.35, 0.85, 0.4)
    color: tuple[float, float, float] = (0.75, 0.72, 0.66)
    sky_ambient: tuple[float, float, float] = (0.45, 0.48, 0.55)
    ground_ambient: tuple[float, float, float] = (0.25, 0.24, 0.22)


@dataclass
class _Mesh:
    vbo: int
    ebo: int
    index_count: int


@dataclass
class _Slot:
    """Instance buffer for the i-th batch of a frame, with one VAO per mesh it has drawn."""

    vbo: int
    capacity: int = 0
    scratch: NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 20), np.float32))
    pointer: ctypes.c_void_p = field(default_factory=ctypes.c_void_p)
    vaos: dict[str, int] = field(default_factory=dict)

    def fill(self, batch: Batch, order: NDArray[np.intp] | None) -> None:
        n = batch.count
        if n > self.capacity:
            self.capacity = max(n, 2 * self.capacity, 16)
            self.scratch = np.zeros((self.capacity, _FLOATS_PER_INSTANCE), np.float32)
            self.pointer = ctypes.c_void_p(self.scratch.ctypes.data)
        t, c = batch.transforms.reshape(n, 16), batch.colors
        if order is not None:
            t, c = t[order], c[order]
        self.scratch[:n, :16] = t
        self.scratch[:n, 16:] = c
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self.vbo)
        raw_buffer_data(GL.GL_ARRAY_BUFFER, n * _INSTANCE_STRIDE, self.pointer, GL.GL_STREAM_DRAW)


def head_frame(
    eyes: Sequence[EyeView],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The head between ``eyes``: centre ``(3,)``, head->world rotation, mean projection.

    The rotation is the nearest rotation to the eyes' mean orientation (they are equal for
    parallel stereo); the projection is the eyes' mean (a centred frustum for symmetric
    stereo pairs).
    """
    centre = np.mean([e.position for e in eyes], axis=0).astype(np.float64)
    mean_rot = np.mean([np.asarray(e.view[:3, :3], np.float64).T for e in eyes], axis=0)
    u, _, vt = np.linalg.svd(mean_rot)
    rot = u @ vt
    projection = np.mean([np.asarray(e.projection, np.float64) for e in eyes], axis=0)
    return centre, rot, projection


def overlay_model(
    overlay: Overlay,
    aspect: float,
    eyes: Sequence[EyeView],
    distance: float = OVERLAY_DISTANCE,
) -> NDArray[np.float64] | None:
    """World matrix of ``overlay``'s panel (unit quad -> world), ``None`` if behind the head.

    Parameters
    ----------
    overlay
        The panel; see :class:`~therapies.scenes.base.Overlay` for ``anchor``/``world``.
    aspect
        Panel width over height (its texture's).
    eyes
        This frame's eyes; the panel is placed relative to the head between them.
    distance
        Depth of head-locked panels, metres.
    """
    centre, rot, p = head_frame(eyes)
    if overlay.world is None:
        depth = distance
        nx, ny = 2.0 * overlay.anchor[0] - 1.0, 2.0 * overlay.anchor[1] - 1.0
        local = np.array(
            [depth * (nx + p[0, 2]) / p[0, 0], depth * (ny + p[1, 2]) / p[1, 1], -depth]
        )
        position = centre + rot @ local
    else:
        position = np.asarray(overlay.world, np.float64)
        depth = -float(np.dot(position - centre, rot[:, 2]))
        if depth <= 0.05:
            return None
    height = overlay.height * 2.0 * depth / p[1, 1]  # the same share of the view at any depth
    model = np.eye(4)
    model[:3, 0] = rot[:, 0] * height * aspect
    model[:3, 1] = rot[:, 1] * height
    model[:3, 2] = rot[:, 2]
    model[:3, 3] = position
    return model


def overlay_font_px(overlay: Overlay, viewport_height: int) -> int:
    """Font size whose panel is about as many pixels tall as it will be drawn (crisp text)."""
    lines = overlay.text.count("\n") + 1 + (1.5 if overlay.gauge is not None else 0.0)
    box_px = overlay.height * viewport_height
    size = box_px / (0.75 * lines + 1.0)  # a line is ~0.75 size; padding adds 2 * size / 2
    return int(min(max(2 * round(size / 2.0), MIN_FONT_PX), MAX_FONT_PX))


_Panel = tuple[Texture, NDArray[np.float64], Overlay]


class _OverlayPainter:
    """Text panels: a coverage texture per (text, size, gauge), one quad per panel per eye."""

    def __init__(self) -> None:
        self.program = shaders.link_program(
            shaders.OVERLAY_VERTEX_SHADER, shaders.OVERLAY_FRAGMENT_SHADER, "overlay"
        )
        loc = {
            name: int(GL.glGetUniformLocation(self.program, name))
            for name in ("u_clip_from_quad", "u_texture", "u_fg", "u_bg")
        }
        missing = [name for name, at in loc.items() if at < 0]
        if missing:
            raise shaders.ShaderError(f"overlay program lacks uniforms {', '.join(missing)}")
        self._u_matrix, self._u_fg, self._u_bg = loc["u_clip_from_quad"], loc["u_fg"], loc["u_bg"]
        GL.glUseProgram(self.program)
        GL.glUniform1i(loc["u_texture"], 0)
        self.vao = int(GL.glGenVertexArrays(1))
        self.textures = TextureCache(capacity=24)  # ~2 MB each at VR font sizes

    def _texture(self, overlay: Overlay, viewport_height: int) -> Texture:
        style = TextStyle(overlay_font_px(overlay, viewport_height))
        key = ("coverage", overlay.text, style, overlay.gauge)
        texture = self.textures.get(key)
        if texture is None:
            image = render_coverage(overlay.text, style, overlay.gauge)
            texture = self.textures.upload(key, image, mipmaps=True)
        return texture

    def prepare(self, overlays: Sequence[Overlay], eyes: Sequence[EyeView]) -> list[_Panel]:
        """Textures and world matrices for this frame: world labels first, then the HUD."""
        out = []
        viewport_height = eyes[0].viewport[3]
        for overlay in sorted(overlays, key=lambda o: o.world is None):  # stable
            texture = self._texture(overlay, viewport_height)
            model = overlay_model(overlay, texture.aspect, eyes)
            if model is not None:
                out.append((texture, model, overlay))
        return out

    def draw(self, panels: list[_Panel], eye: EyeView) -> None:
        """Draw ``panels`` into ``eye``'s viewport (already set), blended, over the scene."""
        GL.glUseProgram(self.program)
        GL.glBindVertexArray(self.vao)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glEnable(GL.GL_BLEND)
        GL.glDisable(GL.GL_CULL_FACE)
        GL.glDepthMask(GL.GL_FALSE)
        clip_from_world = np.asarray(eye.projection, np.float64) @ eye.view
        for texture, model, overlay in panels:
            if overlay.world is None:
                GL.glDisable(GL.GL_DEPTH_TEST)
            else:
                GL.glEnable(GL.GL_DEPTH_TEST)
            matrix = np.ascontiguousarray((clip_from_world @ model).T, np.float32)
            GL.glUniformMatrix4fv(self._u_matrix, 1, GL.GL_FALSE, matrix)
            GL.glUniform4f(self._u_fg, *overlay.fg)
            GL.glUniform4f(self._u_bg, *overlay.bg)
            GL.glBindTexture(GL.GL_TEXTURE_2D, texture.name)
            GL.glDrawArrays(GL.GL_TRIANGLE_STRIP, 0, 4)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        GL.glDepthMask(GL.GL_TRUE)
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glEnable(GL.GL_CULL_FACE)
        GL.glDisable(GL.GL_BLEND)

    def close(self) -> None:
        self.textures.close()
        GL.glDeleteVertexArrays(1, [self.vao])
        GL.glDeleteProgram(self.program)


class Renderer:
    """Draws a :class:`~therapies.scenes.base.DrawList` once per :class:`EyeView`.

    Parameters
    ----------
    lighting
        Sun and ambient colours.

    Notes
    -----
    Create and use it with the display's GL context current; call :meth:`close` before
    that context goes away. Opaque batches are drawn first with depth writes; a batch with
    any alpha < 1 is drawn afterwards, blended, without depth writes, its instances sorted
    back to front from the camera (batches themselves are not sorted against each other).
    Overlays come last in each eye: world labels (depth-tested), then head-locked panels
    (on top); see :func:`overlay_model`.
    """

    def __init__(self, lighting: Lighting | None = None) -> None:
        light = lighting or Lighting()
        self._program = shaders.link_program(shaders.VERTEX_SHADER, shaders.FRAGMENT_SHADER)
        self._meshes = {name: self._upload_mesh(*build()) for name, build in MESH_BUILDERS.items()}
        self._slots: list[_Slot] = []
        self._ubo = int(GL.glGenBuffers(1))
        GL.glBindBuffer(GL.GL_UNIFORM_BUFFER, self._ubo)
        GL.glBufferData(GL.GL_UNIFORM_BUFFER, shaders.CAMERA_BLOCK_BYTES, None, GL.GL_DYNAMIC_DRAW)
        block = GL.glGetUniformBlockIndex(self._program, shaders.CAMERA_BLOCK)
        GL.glUniformBlockBinding(self._program, block, shaders.CAMERA_BINDING)
        GL.glBindBufferBase(GL.GL_UNIFORM_BUFFER, shaders.CAMERA_BINDING, self._ubo)
        self._camera = np.zeros(36, np.float32)
        self._camera_ptr = ctypes.c_void_p(self._camera.ctypes.data)
        GL.glUseProgram(self._program)
        d = np.asarray(light.direction, np.float64)
        d = d / np.linalg.norm(d)
        GL.glUniform3f(self._uniform("u_light_dir"), *map(float, d))
        GL.glUniform3f(self._uniform("u_light_color"), *light.color)
        GL.glUniform3f(self._uniform("u_sky_ambient"), *light.sky_ambient)
        GL.glUniform3f(self._uniform("u_ground_ambient"), *light.ground_ambient)
        self._u_fog_color = self._uniform("u_fog_color")
        self._u_fog_density = self._uniform("u_fog_density")
        self._u_material = self._uniform("u_material")
        GL.glBlendFunc(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)
        self._overlays = _OverlayPainter()
        self._closed = False

    @property
    def textures(self) -> TextureCache:
        """The overlay texture cache (freed by :meth:`close`)."""
        return self._overlays.textures

    def _uniform(self, name: str) -> int:
        loc = int(GL.glGetUniformLocation(self._program, name))
        if loc < 0:
            raise shaders.ShaderError(f"uniform {name!r} not found in the scene program")
        return loc

    @staticmethod
    def _upload_mesh(vertices: NDArray[np.float32], indices: NDArray[np.uint32]) -> _Mesh:
        vbo, ebo = (int(b) for b in GL.glGenBuffers(2))
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, vbo)
        GL.glBufferData(GL.GL_ARRAY_BUFFER, vertices.nbytes, vertices, GL.GL_STATIC_DRAW)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, 0)
        GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, ebo)
        GL.glBufferData(GL.GL_ELEMENT_ARRAY_BUFFER, indices.nbytes, indices, GL.GL_STATIC_DRAW)
        GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, 0)
        return _Mesh(vbo, ebo, int(indices.size))

    def _vao(self, slot: _Slot, mesh_name: str) -> int:
        vao = slot.vaos.get(mesh_name)
        if vao is not None:
            return vao
        mesh = self._meshes[mesh_name]
        vao = int(GL.glGenVertexArrays(1))
        GL.glBindVertexArray(vao)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, mesh.vbo)
        for loc, offset in ((shaders.LOC_POSITION, 0), (shaders.LOC_NORMAL, 12)):
            GL.glEnableVertexAttribArray(loc)
            raw_vertex_attrib_pointer(
                loc, 3, GL.GL_FLOAT, False, _VERTEX_STRIDE, ctypes.c_void_p(offset)
            )
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, slot.vbo)
        for k in range(5):  # four matrix rows, then the colour
            loc = shaders.LOC_MODEL + k
            GL.glEnableVertexAttribArray(loc)
            raw_vertex_attrib_pointer(
                loc, 4, GL.GL_FLOAT, False, _INSTANCE_STRIDE, ctypes.c_void_p(16 * k)
            )
            GL.glVertexAttribDivisor(loc, 1)
        GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, mesh.ebo)
        GL.glBindVertexArray(0)
        slot.vaos[mesh_name] = vao
        return vao

    def _upload(self, draw_list: DrawList) -> tuple[list[_Draw], list[_Draw]]:
        """One instance upload per non-empty batch; returns (opaque, transparent) draws."""
        opaque: list[_Draw] = []
        transparent: list[_Draw] = []
        eye = np.asarray(draw_list.camera_position, np.float32)
        for i, batch in enumerate(draw_list.batches):
            n = batch.count
            if n == 0:
                continue
            while len(self._slots) <= i:
                self._slots.append(_Slot(int(GL.glGenBuffers(1))))
            slot = self._slots[i]
            blended = bool(batch.colors[:, 3].min() < 1.0)
            order = None
            if blended and n > 1:
                d = batch.transforms[:, :3, 3] - eye
                order = np.argsort(-np.einsum("ij,ij->i", d, d), kind="stable")
            slot.fill(batch, order)
            draw = (
                self._vao(slot, batch.mesh),
                self._meshes[batch.mesh].index_count,
                n,
                MATERIALS.index(batch.material),
            )
            (transparent if blended else opaque).append(draw)
        return opaque, transparent

    def render(self, draw_list: DrawList, eyes: Sequence[EyeView]) -> None:
        """Draw ``draw_list`` into the bound framebuffer once per eye, clearing each viewport.

        Parameters
        ----------
        draw_list
            The frame to draw.
        eyes
            Views to draw it from; each clears and draws only its own viewport.
        """
        if self._closed:
            raise shaders.RenderError("Renderer.render called after close()")
        GL.glUseProgram(self._program)
        opaque, transparent = self._upload(draw_list)
        GL.glUniform3f(self._u_fog_color, *draw_list.fog_color)
        GL.glUniform1f(self._u_fog_density, float(draw_list.fog_density))
        GL.glClearColor(*draw_list.sky_color, 1.0)
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glEnable(GL.GL_CULL_FACE)
        GL.glEnable(GL.GL_SCISSOR_TEST)
        GL.glBindBufferBase(GL.GL_UNIFORM_BUFFER, shaders.CAMERA_BINDING, self._ubo)
        GL.glUniform1i(self._u_material, 0)
        material = 0
        panels = (
            self._overlays.prepare(draw_list.overlays, eyes) if draw_list.overlays and eyes else []
        )
        for eye in eyes:
            GL.glViewport(*eye.viewport)
            GL.glScissor(*eye.viewport)
            GL.glDepthMask(GL.GL_TRUE)
            GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
            cam = self._camera
            cam[:16] = eye.view.T.ravel()
            cam[16:32] = eye.projection.T.ravel()
            cam[32:35] = eye.position
            cam[35] = 1.0
            raw_buffer_sub_data(GL.GL_UNIFORM_BUFFER, 0, 144, self._camera_ptr)
            material = self._draw(opaque, material)
            if transparent:
                GL.glEnable(GL.GL_BLEND)
                GL.glDepthMask(GL.GL_FALSE)
                material = self._draw(transparent, material)
                GL.glDepthMask(GL.GL_TRUE)
                GL.glDisable(GL.GL_BLEND)
            if panels:
                self._overlays.draw(panels, eye)
                GL.glUseProgram(self._program)
        GL.glDisable(GL.GL_SCISSOR_TEST)
        GL.glBindVertexArray(0)

    def _draw(self, draws: list[_Draw], material_now: int) -> int:
        """Issue the draws; returns the material uniform's value afterwards."""
        for vao, index_count, instances, material in draws:
            if material != material_now:
                GL.glUniform1i(self._u_material, material)
                material_now = material
            GL.glBindVertexArray(vao)
            raw_draw_elements_instanced(
                GL.GL_TRIANGLES, index_count, GL.GL_UNSIGNED_INT, None, instances
            )
        return material_now

    def close(self) -> None:
        """Free every GL object (the context must still be current). Idempotent."""
        if self._closed:
            return
        self._closed = True
        vaos = [v for s in self._slots for v in s.vaos.values()]
        if vaos:
            GL.glDeleteVertexArrays(len(vaos), vaos)
        buffers = [s.vbo for s in self._slots] + [self._ubo]
        buffers += [b for m in self._meshes.values() for b in (m.vbo, m.ebo)]
        GL.glDeleteBuffers(len(buffers), buffers)
        GL.glDeleteProgram(self._program)
        self._overlays.close()
        self._slots.clear()
