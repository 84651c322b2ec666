"""GLSL 3.30 core sources and compile/link helpers with errors that say what failed."""

from __future__ import annotations

from engine.errors import VrTherapyError
from engine.render._gl import GL

CAMERA_BLOCK = "Camera"
CAMERA_BINDING = 0
CAMERA_BLOCK_BYTES = 144
"""std140 ``Camera`` block: mat4 view (64 B), mat4 projection (64 B), vec4 eye (16 B)."""

# Attribute locations shared by the VAO setup and the vertex shader.
LOC_POSITION, LOC_NORMAL, LOC_MODEL, LOC_COLOR = 0, 1, 2, 6

VERTEX_SHADER = """
#version 330 core
layout(location = 0) in vec3 a_position;
layout(location = 1) in vec3 a_normal;
// Per instance. The scene's row-major (n, 4, 4) matrices are uploaded as-is, so GL reads
// each *row* as a column: i_model_t is the transpose of the model matrix.
layout(location = 2) in mat4 i_model_t;
layout(location = 6) in vec4 i_color;

layout(std140) uniform Camera {
    mat4 u_view;
    mat4 u_projection;
    vec4 u_eye;
};

out vec3 v_world;
out vec3 v_normal;
out vec4 v_color;

void main() {
    mat4 model = transpose(i_model_t);
    vec4 world = model * vec4(a_position, 1.0);
    // Cofactor matrix = normal matrix up to scale; also fine for zero-thickness scales.
    vec3 c0 = model[0].xyz, c1 = model[1].xyz, c2 = model[2].xyz;
    v_normal = cross(c1, c2) * a_normal.x + cross(c2, c0) * a_normal.y
             + cross(c0, c1) * a_normal.z;
    v_world = world.xyz;
    v_color = i_color;
    gl_Position = u_projection * (u_view * world);
}
"""

FRAGMENT_SHADER = """
#version 330 core
layout(std140) uniform Camera {
    mat4 u_view;
    mat4 u_projection;
    vec4 u_eye;
};
uniform vec3 u_light_dir;     // towards the light, normalised
uniform vec3 u_light_color;
uniform vec3 u_sky_ambient;
uniform vec3 u_ground_ambient;
uniform vec3 u_fog_color;
uniform float u_fog_density;
uniform int u_material;       // 0 plain, 1 windows (MATERIALS order)

in vec3 v_world;
in vec3 v_normal;
in vec4 v_color;
out vec4 frag_color;

void main() {
    vec3 n = normalize(v_normal);
    float diffuse = max(dot(n, u_light_dir), 0.0);
    vec3 ambient = mix(u_ground_ambient, u_sky_ambient, n.y * 0.5 + 0.5);
    vec3 base = v_color.rgb;
    if (u_material == 1 && abs(n.y) < 0.5) {
        float across = abs(n.x) > abs(n.z) ? v_world.z : v_world.x;
        vec2 cell = fract(vec2(across / 3.0, v_world.y / 3.5));
        float pane = step(0.18, cell.x) * step(cell.x, 0.82) * step(0.3, cell.y)
                   * step(cell.y, 0.85) * step(1.5, v_world.y);
        vec3 glass = vec3(0.16, 0.2, 0.26) + 0.25 * max(n.y, 0.0);
        base = mix(base, glass, pane * 0.85);
    }
    vec3 lit = base * (ambient + u_light_color * diffuse);
    float visibility = exp(-u_fog_density * distance(v_world, u_eye.xyz));
    frag_color = vec4(mix(u_fog_color, lit, visibility), v_color.a);
}
"""


OVERLAY_VERTEX_SHADER = """
#version 330 core
// A textured unit quad without vertex buffers: gl_VertexID 0..3 as a triangle strip.
uniform mat4 u_clip_from_quad;  // quad corners (-0.5..0.5, -0.5..0.5, 0) -> clip space
out vec2 v_uv;

void main() {
    vec2 corner = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1));
    v_uv = vec2(corner.x, 1.0 - corner.y);  // images are uploaded top row first
    gl_Position = u_clip_from_quad * vec4(corner - 0.5, 0.0, 1.0);
}
"""

OVERLAY_FRAGMENT_SHADER = """
#version 330 core
// Coverage texture (engine.render.text.render_coverage): r = text, g = panel. Coverage
// filters linearly, so colouring after the lookup keeps edges clean at any scale.
uniform sampler2D u_texture;
uniform vec4 u_fg;  // straight-alpha RGBA
uniform vec4 u_bg;
in vec2 v_uv;
out vec4 frag_color;

void main() {
    vec2 cover = texture(u_texture, v_uv).rg;
    float text_a = cover.r * u_fg.a;
    float box_a = cover.g * u_bg.a;
    float alpha = text_a + box_a * (1.0 - text_a);
    if (alpha <= 0.0) discard;
    frag_color = vec4((u_fg.rgb * text_a + u_bg.rgb * box_a * (1.0 - text_a)) / alpha, alpha);
}
"""


class RenderError(VrTherapyError):
    """The renderer cannot draw (misuse such as rendering after ``close()``, bad GL state)."""


class ShaderError(RenderError):
    """A GLSL shader failed to compile or a program failed to link (driver log attached)."""


def _log(text: bytes | str) -> str:
    return text.decode(errors="replace") if isinstance(text, bytes) else str(text)


def compile_shader(source: str, kind: int, label: str) -> int:
    """Compile one shader stage; raise :class:`ShaderError` with the driver log on failure."""
    shader = int(GL.glCreateShader(kind))
    GL.glShaderSource(shader, source)
    GL.glCompileShader(shader)
    if not GL.glGetShaderiv(shader, GL.GL_COMPILE_STATUS):
        log = _log(GL.glGetShaderInfoLog(shader))
        GL.glDeleteShader(shader)
        raise ShaderError(f"{label} shader failed to compile:\n{log}")
    return shader


def link_program(vertex_source: str, fragment_source: str, label: str = "program") -> int:
    """Compile both stages and link them; raise :class:`ShaderError` naming what failed."""
    vs = compile_shader(vertex_source, GL.GL_VERTEX_SHADER, f"{label} vertex")
    try:
        fs = compile_shader(fragment_source, GL.GL_FRAGMENT_SHADER, f"{label} fragment")
    except ShaderError:
        GL.glDeleteShader(vs)
        raise
    program = int(GL.glCreateProgram())
    GL.glAttachShader(program, vs)
    GL.glAttachShader(program, fs)
    GL.glLinkProgram(program)
    GL.glDeleteShader(vs)
    GL.glDeleteShader(fs)
    if not GL.glGetProgramiv(program, GL.GL_LINK_STATUS):
        log = _log(GL.glGetProgramInfoLog(program))
        GL.glDeleteProgram(program)
        raise ShaderError(f"{label} failed to link:\n{log}")
    return program
