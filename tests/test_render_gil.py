"""The renderer's GL calls through ctypes: same pixels as moderngl's own calls, and other
Python threads run while a view is drawn and read back (what lets the shard writer thread
hide the writes behind the rasteriser)."""

from __future__ import annotations

import threading
import time

import moderngl
import numpy as np
import pytest
import trimesh

from rendering import (
    Renderer,
    Surface,
    UVMesh,
    ViewSampling,
    render_training_maps,
    sample_view_camera,
)
from rendering.gl_calls import GilFreeGL, ModernglCalls, libgl_path

SIZE = 96


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    r = Renderer(SIZE, SIZE)
    yield r
    r.release()


def _scene() -> tuple[Surface, UVMesh]:
    """A coloured, bumpy, open sphere (its back shows through the hole) and a uv mesh."""
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.1)
    keep = sphere.triangles_center[:, 2] < 0.07  # a hole facing +z
    faces = sphere.faces[keep]
    verts = sphere.vertices * (1.0 + 0.05 * np.sin(sphere.vertices[:, :1] * 60))
    colours = ((verts - verts.min(0)) / np.ptp(verts, 0) * 255).astype(np.uint8)
    uv = (verts[:, :2] - verts[:, :2].min(0)) / np.ptp(verts[:, :2], 0)
    return Surface(verts, faces, colours), UVMesh(verts, faces, uv, faces)


def _maps(renderer: Renderer, calls, scan, registered, camera, face_mask) -> dict:
    renderer._gl = calls  # noqa: SLF001 (the two call paths compared)
    return render_training_maps(renderer, scan, registered, camera, None,
                                face_vertex_mask=face_mask, registered_faces=registered.faces)


def test_ctypes_calls_give_the_pixels_of_moderngls_calls(renderer):
    gil_free = renderer._gl  # noqa: SLF001
    assert isinstance(gil_free, GilFreeGL) and libgl_path()
    scan, registered = _scene()
    face_mask = registered.verts_m[:, 1] > 0.0
    rng = np.random.default_rng(3)
    views = ViewSampling(width=SIZE, height=SIZE, distance_m=(0.3, 0.5))
    try:
        for _ in range(3):
            camera = sample_view_camera(rng, views, np.zeros(3))
            for cull in (False, True):
                renderer.cull_back_faces = cull
                ours = _maps(renderer, gil_free, scan, registered, camera, face_mask)
                theirs = _maps(renderer, ModernglCalls(), scan, registered, camera, face_mask)
                for name, value in ours.items():
                    np.testing.assert_array_equal(value, theirs[name], err_msg=name)
                assert ours["mask"].any() and (ours["uv"] > 0).any()
            renderer._gl = gil_free  # noqa: SLF001
            ours = renderer.rasterize(registered.verts_m, registered.faces, camera)
            renderer._gl = ModernglCalls()  # noqa: SLF001
            theirs = renderer.rasterize(registered.verts_m, registered.faces, camera)
            for a, b in zip(ours, theirs, strict=True):
                np.testing.assert_array_equal(a, b)
    finally:
        renderer._gl = gil_free  # noqa: SLF001
        renderer.cull_back_faces = False


def test_read_rgba_names_a_wrong_buffer(renderer):
    with pytest.raises(ValueError, match="framebuffer is"):
        renderer._gl.read_rgba(renderer._corner_fbo, 0,  # noqa: SLF001
                               np.empty((SIZE, SIZE + 1, 4), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        renderer._gl.read_rgba(renderer._corner_fbo, 0,  # noqa: SLF001
                               np.empty((SIZE, SIZE, 8), np.float32)[..., :4])


def _counted_while(draw, seconds: float = 0.4) -> int:
    """Steps a pure-Python counting thread makes while ``draw()`` repeats for ``seconds``."""
    count, stop = [0], threading.Event()

    def spin() -> None:
        while not stop.is_set():
            count[0] += 1

    thread = threading.Thread(target=spin)
    thread.start()
    time.sleep(0.05)
    before, end = count[0], time.perf_counter() + seconds
    while time.perf_counter() < end:
        draw()
    counted = count[0] - before
    stop.set()
    thread.join()
    return counted


def test_other_threads_run_while_a_view_is_drawn_and_read_back():
    """Fill-heavy frames at 512 px: a counting thread beside moderngl's calls gets a few
    percent of its idle rate (measured: 5%), beside the ctypes calls about all of it."""
    ctx = moderngl.create_standalone_context(backend="egl")
    try:
        program = ctx.program(
            vertex_shader="#version 330\nin vec3 p; out vec3 c;"
                          "void main() { gl_Position = vec4(p, 1.0); c = p; }",
            fragment_shader="#version 330\nin vec3 c; out vec4 o; void main() { o = vec4(c, 1); }")
        corners = np.random.default_rng(0).uniform(-1, 1, (3000, 3)).astype(np.float32)
        vao = ctx.vertex_array(program, [(ctx.buffer(corners.tobytes()), "3f", "p")])
        fbo = ctx.simple_framebuffer((512, 512), components=4, dtype="f4")
        fbo.use()
        out = np.empty((512, 512, 4), np.float32)
        counts = {}
        for name, calls in (("moderngl", ModernglCalls()), ("ctypes", GilFreeGL())):
            def draw(calls=calls) -> None:
                fbo.clear()
                calls.draw_triangles(vao)
                calls.read_rgba(fbo, 0, out)
            draw()
            counts[name] = _counted_while(draw)
        assert counts["ctypes"] > 3 * counts["moderngl"], counts
    finally:
        ctx.release()
