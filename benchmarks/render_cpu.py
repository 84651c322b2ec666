"""Python CPU cost of one stereo frame: scene.update + draw_list + render/present.

Run: ``.venv/bin/python benchmarks/render_cpu.py [--objects 200] [--frames 600]
[--display offscreen|null] [--gl-noop]``.

What is measured
----------------
``time.thread_time()`` of the calling thread around ``scene.update()`` + ``scene.draw_list()``
(*scene*) and around ``display.present()`` (*present*: the renderer's uploads, uniform/UBO
updates and instanced draw calls for both eyes, plus flush). Thread CPU time excludes time
spent waiting and excludes Mesa llvmpipe's rasteriser worker threads, but it *includes*
whatever llvmpipe does on the calling thread (command validation, vertex shading, binning),
so on llvmpipe it over-states the Python cost a real GPU driver would leave.

``--gl-noop`` sets Mesa's ``GALLIUM_NOOP=true`` before the context exists: every GL call
goes through Mesa's real API front end (validation, state tracking) and then to a driver
that does nothing, so *present* is the Python renderer plus GL API overhead - the figure
to compare with the target (<= 1 ms p50, <= 2 ms p99 per stereo frame). Nothing is drawn in
that mode. ``--display null`` measures the scene side only. The frame budget is a 90 Hz
headset's 11.1 ms. PyOpenGL error checking is switched off here
(``VRTHERAPY_GL_ERROR_CHECKING=0``) unless the environment sets it.
"""

from __future__ import annotations

import os
import time

from vrtherapy_benchmarks.bench_args import bench_parser, count

os.environ.setdefault("VRTHERAPY_GL_ERROR_CHECKING", "0")
os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np

from engine.display import HEADLESS, capabilities, display_names, open_display
from therapies.scenes import HeightsScene

FRAME_BUDGET_MS = 1000.0 / 90.0


def _buildings_for(objects: int) -> int:
    """Buildings so that the mid-sweep frame has about ``objects`` instances.

    Each building adds two instances (the building and its block's pavement slab).
    """
    bare = HeightsScene(seed=0, buildings=0)
    bare.update(0.5, 0.0)
    return max(0, (objects - bare.draw_list().instance_count) // 2)


def _stats(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples)
    p50, p99 = float(np.percentile(a, 50)), float(np.percentile(a, 99))
    return {
        "p50_ms": p50,
        "p99_ms": p99,
        "p50_pct_of_11_1ms": 100.0 * p50 / FRAME_BUDGET_MS,
        "p99_pct_of_11_1ms": 100.0 * p99 / FRAME_BUDGET_MS,
    }


def measure(
    objects: int = 200,
    frames: int = 600,
    display: str = HEADLESS,
    size: tuple[int, int] = (1280, 720),
) -> dict[str, object]:
    """Render ``frames`` stereo frames of the heights scene; return CPU-time percentiles.

    Parameters
    ----------
    objects
        Approximate instances per frame (buildings are added until the scene has about
        this many; the exact mean count is reported).
    frames
        Frames measured (after 30 warm-up frames). Intensity sweeps 0 -> 1 -> 0.
    display
        ``offscreen`` (real GL) or ``null`` (scene cost only).
    size
        Framebuffer size; each eye gets half the width.

    Returns
    -------
    dict
        ``scene``, ``present`` and ``total`` stats (``p50_ms``, ``p99_ms`` and % of the
        11.1 ms budget), ``wall_ms_p50`` (incl. waiting on llvmpipe), ``instances``,
        ``batches``, ``display``, ``frames``.
    """
    scene = HeightsScene(seed=0, buildings=_buildings_for(objects))
    disp = open_display(display, size=size, stereo=True)
    scene_ms: list[float] = []
    present_ms: list[float] = []
    total_ms: list[float] = []
    wall_ms: list[float] = []
    counts: list[int] = []
    try:
        for i in range(frames + 30):
            intensity = 0.5 - 0.5 * np.cos(2.0 * np.pi * i / max(frames, 1))
            w0, t0 = time.perf_counter(), time.thread_time()
            scene.update(float(intensity), 1.0 / 90.0)
            dl = scene.draw_list()
            t1 = time.thread_time()
            disp.present(dl)
            t2, w1 = time.thread_time(), time.perf_counter()
            if i >= 30:
                scene_ms.append((t1 - t0) * 1e3)
                present_ms.append((t2 - t1) * 1e3)
                total_ms.append((t2 - t0) * 1e3)
                wall_ms.append((w1 - w0) * 1e3)
                counts.append(dl.instance_count)
    finally:
        disp.close()
    return {
        "display": display,
        "frames": frames,
        "instances": float(np.mean(counts)),
        "batches": len(dl.batches),
        "scene": _stats(scene_ms),
        "present": _stats(present_ms),
        "total": _stats(total_ms),
        "wall_ms_p50": float(np.percentile(wall_ms, 50)),
        "gl_noop": os.environ.get("GALLIUM_NOOP", "") == "true",
    }


def main(argv: list[str] | None = None) -> int:
    """Print :func:`measure` for the command-line arguments."""
    parser = bench_parser("vrtherapy bench render", __doc__)
    parser.add_argument("--objects", type=count(1, 100_000), default=200)
    parser.add_argument("--frames", type=count(1, 1_000_000), default=600)
    no_desktop = [  # what a benchmark can open anywhere: no desktop, no headset
        n
        for n in display_names()
        if not (capabilities(n).needs_desktop or capabilities(n).head_pose)
    ]
    parser.add_argument("--display", default=HEADLESS, choices=no_desktop)
    parser.add_argument(
        "--gl-noop", action="store_true", help="Mesa GALLIUM_NOOP: GL API cost, no drawing"
    )
    args = parser.parse_args(argv)
    if args.gl_noop:
        os.environ["GALLIUM_NOOP"] = "true"  # read by Mesa when the context is created
    r = measure(args.objects, args.frames, args.display)
    print(
        f"render_cpu: display={r['display']} frames={r['frames']} "
        f"instances={r['instances']:.0f} batches={r['batches']} gl_noop={r['gl_noop']} "
        "(thread CPU per stereo frame)"
    )
    for part in ("scene", "present", "total"):
        s = r[part]
        assert isinstance(s, dict)
        print(
            f"  {part:8s} p50 {s['p50_ms']:6.3f} ms ({s['p50_pct_of_11_1ms']:5.1f}% of 11.1 ms)"
            f"   p99 {s['p99_ms']:6.3f} ms ({s['p99_pct_of_11_1ms']:5.1f}%)"
        )
    print(f"  wall p50 {r['wall_ms_p50']:.2f} ms/frame (includes waiting on llvmpipe rasterising)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
