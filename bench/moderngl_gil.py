"""Does a draw and read-back keep the GIL? moderngl's calls against the ctypes path the
renderer uses (:mod:`rendering.gl_calls`), which is why a shard writer *thread* can hide the
writes behind the rasteriser.

A pure-Python counting thread runs beside a draw-and-read-back loop at 512x512 (float32
target, as the renderer), once with moderngl's ``render`` + ``read_into`` and once with
``GilFreeGL.draw_triangles`` + ``read_rgba``, for a geometry-heavy scene (200k small
triangles) and a fill-heavy one (2k large ones). Its count rate during each loop is compared
with its rate while the main thread sleeps: near 0% the calls keep the GIL, near 100% they
let the thread run. Both paths must give the same pixels (checked).

    LP_NUM_THREADS=1 python bench/moderngl_gil.py
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import moderngl
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rendering.gl_calls import GilFreeGL, ModernglCalls  # noqa: E402

VERTEX = "#version 330\nin vec3 p; out vec3 c; void main() { gl_Position = vec4(p, 1.0); c = p; }"
FRAGMENT = "#version 330\nin vec3 c; out vec4 o; void main() { o = vec4(c, 1.0); }"


def counter_share(draw: Callable[[int], float], frames: int) -> tuple[float, float]:
    """(ms a frame beside the counting thread, its count rate then / while the main thread
    sleeps)."""
    count, stop = [0], threading.Event()

    def spin() -> None:
        while not stop.is_set():
            count[0] += 1

    thread = threading.Thread(target=spin)
    thread.start()
    time.sleep(0.2)
    before, start = count[0], time.perf_counter()
    time.sleep(0.5)
    idle_rate = (count[0] - before) / (time.perf_counter() - start)
    before = count[0]
    beside = draw(frames)
    share = (count[0] - before) / beside / idle_rate
    stop.set()
    thread.join()
    return beside / frames * 1e3, share


def scene(ctx: moderngl.Context, triangles: int, spread: float) -> moderngl.VertexArray:
    program = ctx.program(vertex_shader=VERTEX, fragment_shader=FRAGMENT)
    rng = np.random.default_rng(0)
    centres = rng.uniform(-0.9, 0.9, (triangles, 1, 3))
    corners = (centres + rng.normal(0.0, spread, (triangles, 3, 3))).astype(np.float32)
    return ctx.vertex_array(program, [(ctx.buffer(corners.tobytes()), "3f", "p")])


def main(frames: int = 20, size: int = 512) -> None:
    ctx = moderngl.create_standalone_context(backend="egl")
    fbo = ctx.simple_framebuffer((size, size), components=4, dtype="f4")
    fbo.use()
    out = np.empty((size, size, 4), np.float32)
    paths = (("moderngl render + read_into", ModernglCalls()),
             ("ctypes draw + glFinish + glReadPixels", GilFreeGL()))
    print(f"{ctx.info['GL_RENDERER']}, {size}x{size} float32, {frames} frames each")
    for label, vao in (("200k small triangles", scene(ctx, 200_000, 0.004)),
                       ("2k large triangles", scene(ctx, 2_000, 0.5))):
        pixels = []
        for name, calls in paths:
            def draw(n: int, calls=calls, vao: moderngl.VertexArray = vao) -> float:
                start = time.perf_counter()
                for _ in range(n):
                    fbo.clear()
                    calls.draw_triangles(vao)
                    calls.read_rgba(fbo, 0, out)
                return time.perf_counter() - start

            draw(2)
            alone = draw(frames) / frames * 1e3
            beside, share = counter_share(draw, frames)
            pixels.append(out.copy())
            print(f"  {label}, {name}: {alone:.1f} ms a frame alone, {beside:.1f} beside the "
                  f"counting thread, which ran at {share:.0%} of its idle rate")
        if not np.array_equal(*pixels):
            raise SystemExit(f"{label}: the two paths gave different pixels")


if __name__ == "__main__":
    main()
