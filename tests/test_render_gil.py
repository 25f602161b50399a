"""The renderer's GL calls through ctypes: same pixels as moderngl's own calls, and calls that
release the GIL, so other Python threads run while a view is drawn and read back (what lets
the shard writer thread hide the writes behind the rasteriser)."""

from __future__ import annotations

import ctypes

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


def test_every_call_that_takes_time_releases_the_gil():
    """ctypes drops the GIL around each call of a ``CDLL`` function and keeps it for a ``PyDLL``
    one (``_FUNCFLAG_PYTHONAPI``): the draw, finish and read-back go through the former. How
    much a thread then gets done beside a draw depends on the machine's load, so that is
    measured in ``bench/moderngl_gil.py``, not asserted here."""
    gl = GilFreeGL()
    for name in ("glDrawElements", "glDrawArrays", "glFinish", "glReadPixels"):
        function = getattr(gl, f"_{name}")
        assert isinstance(function, ctypes._CFuncPtr), name  # noqa: SLF001
        assert not function._flags_ & ctypes._FUNCFLAG_PYTHONAPI, name  # noqa: SLF001
    holding = ctypes.PyDLL(gl.path).glFinish
    assert holding._flags_ & ctypes._FUNCFLAG_PYTHONAPI  # noqa: SLF001  (the check can fail)
