"""Does moderngl hold the GIL while it draws and reads back? (Why a writer *thread* cannot
hide all of a shard write behind the rasteriser.)

A pure-Python counting thread runs beside a draw-and-read-back loop of 200k small triangles
at 512x512 (float32 target, as the renderer); its count rate during rendering is compared
with its rate while the main thread sleeps. A rate near zero during rendering means the draw
and read-back calls keep the GIL.

    LP_NUM_THREADS=1 python bench/moderngl_gil.py
"""

from __future__ import annotations

import threading
import time

import moderngl
import numpy as np

VERTEX = "#version 330\nin vec3 p; out vec3 c; void main() { gl_Position = vec4(p, 1.0); c = p; }"
FRAGMENT = "#version 330\nin vec3 c; out vec4 o; void main() { o = vec4(c, 1.0); }"


def main(triangles: int = 200_000, frames: int = 20, size: int = 512) -> None:
    ctx = moderngl.create_standalone_context(backend="egl")
    program = ctx.program(vertex_shader=VERTEX, fragment_shader=FRAGMENT)
    rng = np.random.default_rng(0)
    centres = rng.uniform(-0.9, 0.9, (triangles, 1, 3))
    corners = (centres + rng.normal(0.0, 0.004, (triangles, 3, 3))).astype(np.float32)
    vao = ctx.vertex_array(program, [(ctx.buffer(corners.tobytes()), "3f", "p")])
    fbo = ctx.simple_framebuffer((size, size), components=4, dtype="f4")
    fbo.use()

    def draw(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            fbo.clear()
            vao.render()
            fbo.read(components=4, dtype="f4")
        return time.perf_counter() - start

    draw(2)
    alone = draw(frames)
    count, stop = [0], threading.Event()

    def spin() -> None:
        while not stop.is_set():
            count[0] += 1

    thread = threading.Thread(target=spin)
    thread.start()
    time.sleep(0.2)
    before, start = count[0], time.perf_counter()
    time.sleep(1.0)
    idle_rate = (count[0] - before) / (time.perf_counter() - start)
    before = count[0]
    beside = draw(frames)
    render_rate = (count[0] - before) / beside
    stop.set()
    thread.join()
    print(f"{ctx.info['GL_RENDERER']}: {frames} frames {alone / frames * 1e3:.1f} ms each alone, "
          f"{beside / frames * 1e3:.1f} ms beside the counting thread")
    print(f"counting thread: {idle_rate:.3g} steps/s while the main thread sleeps, "
          f"{render_rate:.3g} steps/s while it renders ({render_rate / idle_rate:.2%})")


if __name__ == "__main__":
    main()
