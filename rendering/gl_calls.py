"""Draw, finish and read back through ctypes, so that other Python threads run meanwhile.

moderngl keeps the GIL through a draw and a read-back (``bench/moderngl_gil.py``): while a
render worker rasterises, its shard writer thread cannot quantise or hand chunks to HDF5.
ctypes releases the GIL around every foreign call, so the three calls that take the time
(``glDrawElements``/``glDrawArrays``, ``glFinish`` and ``glReadPixels``) are made here,
on objects moderngl created (their ``glo`` names). Everything else (uniforms, state, clears,
uploads) stays with moderngl. :class:`ModernglCalls` is moderngl's own way of making the same
calls, the baseline the tests and ``bench/render_shards.py`` compare against.

The functions come from the library glcontext loads for moderngl's EGL context
(``GLCONTEXT_LINUX_LIBGL``, else ``ctypes.util.find_library("GL")``, see
``glcontext/__init__.py: _egl``), so they dispatch to the context current in this thread.
"""

from __future__ import annotations

import ctypes
import os
from ctypes.util import find_library

import moderngl
import numpy as np

GL_TRIANGLES = 0x0004
GL_UNSIGNED_BYTE = 0x1401
GL_UNSIGNED_SHORT = 0x1403
GL_UNSIGNED_INT = 0x1405
GL_FLOAT = 0x1406
GL_RGBA = 0x1908
GL_READ_FRAMEBUFFER = 0x8CA8
GL_COLOR_ATTACHMENT0 = 0x8CE0
GL_PACK_ALIGNMENT = 0x0D05
GL_PIXEL_PACK_BUFFER = 0x88EB
GL_NO_ERROR = 0

_INDEX_TYPES = {1: GL_UNSIGNED_BYTE, 2: GL_UNSIGNED_SHORT, 4: GL_UNSIGNED_INT}
_PIXEL_TYPES = {np.dtype(np.float32): GL_FLOAT, np.dtype(np.uint8): GL_UNSIGNED_BYTE}

_SIGNATURES = {
    "glUseProgram": [ctypes.c_uint],
    "glBindVertexArray": [ctypes.c_uint],
    "glDrawArrays": [ctypes.c_uint, ctypes.c_int, ctypes.c_int],
    "glDrawElements": [ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p],
    "glFinish": [],
    "glBindFramebuffer": [ctypes.c_uint, ctypes.c_uint],
    "glBindBuffer": [ctypes.c_uint, ctypes.c_uint],
    "glReadBuffer": [ctypes.c_uint],
    "glPixelStorei": [ctypes.c_uint, ctypes.c_int],
    "glReadPixels": [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_uint,
                     ctypes.c_uint, ctypes.c_void_p],
    "glGetError": [],
}


def libgl_path(environ: dict[str, str] | None = None) -> str:
    """The OpenGL library glcontext opens for an EGL context; RuntimeError if none is found."""
    environ = os.environ if environ is None else environ
    path = environ.get("GLCONTEXT_LINUX_LIBGL") or find_library("GL")
    if not path:
        raise RuntimeError("no OpenGL library (libGL.so.1) found; install libgl1 (glvnd) or set "
                           "GLCONTEXT_LINUX_LIBGL")
    return path


class GilFreeGL:
    """The GL calls a :class:`rendering.Renderer` makes per view, each without the GIL.

    Use only in the thread whose EGL context is current (the renderer's).
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path or libgl_path()
        library = ctypes.CDLL(self.path)
        for name, argtypes in _SIGNATURES.items():
            function = getattr(library, name)
            function.argtypes = argtypes
            function.restype = ctypes.c_uint if name == "glGetError" else None
            setattr(self, f"_{name}", function)

    def draw_triangles(self, vao: moderngl.VertexArray) -> None:
        """Draw all triangles of ``vao`` with its program into the bound framebuffer and wait
        until they are rasterised (RuntimeError on a GL error)."""
        self._glUseProgram(vao.program.glo)
        self._glBindVertexArray(vao.glo)
        if vao.index_buffer is None:
            self._glDrawArrays(GL_TRIANGLES, 0, vao.vertices)
        else:
            self._glDrawElements(GL_TRIANGLES, vao.vertices,
                                 _INDEX_TYPES[vao.index_element_size], None)
        self._glFinish()
        self._check("draw")

    def read_rgba(self, framebuffer: moderngl.Framebuffer, attachment: int,
                  out: np.ndarray) -> None:
        """Read colour ``attachment`` of ``framebuffer`` into ``out`` (H, W, 4) C-contiguous,
        float32 or uint8, rows bottom-up as OpenGL stores them (as moderngl's ``read_into``)."""
        height, width = out.shape[:2]
        if out.shape != (height, width, 4) or not out.flags.c_contiguous:
            raise ValueError(f"read_rgba: out must be (H, W, 4) C-contiguous, got {out.shape}")
        if tuple(framebuffer.size) != (width, height):
            raise ValueError(f"read_rgba: framebuffer is {framebuffer.size}, out {out.shape}")
        self._glBindBuffer(GL_PIXEL_PACK_BUFFER, 0)
        self._glBindFramebuffer(GL_READ_FRAMEBUFFER, framebuffer.glo)
        self._glReadBuffer(GL_COLOR_ATTACHMENT0 + attachment)
        self._glPixelStorei(GL_PACK_ALIGNMENT, 1)
        self._glReadPixels(0, 0, width, height, GL_RGBA, _PIXEL_TYPES[out.dtype],
                           out.ctypes.data)
        self._check("read-back")

    def _check(self, what: str) -> None:
        error = self._glGetError()
        if error != GL_NO_ERROR:
            raise RuntimeError(f"OpenGL error 0x{error:04x} in {what} ({self.path})")


class ModernglCalls:
    """moderngl's own draw and read-back, which keep the GIL: same interface and pixels as
    :class:`GilFreeGL` (the baseline it is tested and measured against)."""

    def draw_triangles(self, vao: moderngl.VertexArray) -> None:
        """Draw all triangles of ``vao`` (finished by the read-back that follows)."""
        vao.render(moderngl.TRIANGLES)

    def read_rgba(self, framebuffer: moderngl.Framebuffer, attachment: int,
                  out: np.ndarray) -> None:
        """As :meth:`GilFreeGL.read_rgba`, through ``Framebuffer.read_into``."""
        framebuffer.read_into(out, components=4, attachment=attachment,
                              dtype="f4" if out.dtype == np.float32 else "f1")
