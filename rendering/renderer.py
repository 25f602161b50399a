"""Headless OpenGL rasteriser (moderngl, EGL) with float32 render targets.

One :class:`Renderer` holds one EGL context, its shader programs and framebuffers; create it
once and render many views. Meshes can be uploaded once (:meth:`Renderer.upload_surface`,
:meth:`Renderer.upload_uv_mesh`) and drawn from many cameras.

No face culling: scans are open surfaces, so the depth test alone decides visibility.
Where a scan shows its back side (e.g. looking into an open neck), the normal of the surface
*seen* is the flipped vertex normal, so back-facing fragments (``gl_FrontFacing`` false; faces
are counter-clockwise seen from outside) get ``-n``. Closed surfaces never show back faces.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import moderngl
import numpy as np

from geometry import vertex_normals
from rendering.camera import Camera, gl_projection
from rendering.egl_device import worker_device
from rendering.geometry import Light, Surface, UVMesh, check_mesh
from rendering.gl_calls import GilFreeGL

log = logging.getLogger(__name__)
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "lavapipe")

MAX_FACES = 1 << 24
"""Face ids travel through a float32 channel, exact below 2**24."""

_SURFACE_VS = """
#version 330
uniform mat4 mvp;
uniform vec4 depth_row;
in vec3 in_pos;
in vec3 in_normal;
in vec3 in_color;
out vec3 v_normal;
out vec3 v_color;
out float v_depth;
void main() {
    gl_Position = mvp * vec4(in_pos, 1.0);
    v_normal = in_normal;
    v_color = in_color;
    v_depth = dot(depth_row, vec4(in_pos, 1.0));
}
"""

_SURFACE_FS = """
#version 330
uniform vec3 light_dir;
uniform vec3 light_color;
uniform float ambient;
uniform float diffuse;
ALBEDO_IN
in vec3 v_normal;
in float v_depth;
layout(location = 0) out vec4 out_normal_depth;
layout(location = 1) out vec4 out_rgb;
void main() {
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) n = -n;
    out_normal_depth = vec4(n, v_depth);
    float shade = ambient + diffuse * max(dot(n, light_dir), 0.0);
    out_rgb = vec4(clamp(ALBEDO * light_color * shade, 0.0, 1.0), 1.0);
}
"""
_COLOR_FS = _SURFACE_FS.replace("ALBEDO_IN", "in vec3 v_color;").replace("ALBEDO", "v_color")
_TEXTURED_FS = _SURFACE_FS.replace("ALBEDO_IN", "uniform sampler2D albedo;\nin vec2 v_uv;") \
    .replace("ALBEDO", "texture(albedo, v_uv).rgb")
_TEXTURED_VS = _SURFACE_VS.replace("in vec3 in_color;", "in vec2 in_uv;") \
    .replace("out vec3 v_color;", "out vec2 v_uv;").replace("v_color = in_color;", "v_uv = in_uv;")

TEXELS_PER_VERTEX_MIN = 16
"""A surface whose texture holds at least this many texels per vertex is drawn with the
texture sampled per pixel (trilinear, mipmapped; corners unrolled); a denser surface, with
its per-vertex colours, which then keep what the texture holds. As released: Ava256 143
(1024^2 texels, 7,306 vertices), FaceScape TU 637 (4096^2, 26,317); NPHM scans, millions of
vertices, stay per vertex (see docs/rendering.md)."""

_CORNER_VS = """
#version 330
uniform mat4 mvp;
uniform vec4 depth_row;
in vec3 in_pos;
in vec2 in_attr;
out vec2 v_attr;
out float v_depth;
void main() {
    gl_Position = mvp * vec4(in_pos, 1.0);
    v_attr = in_attr;
    v_depth = dot(depth_row, vec4(in_pos, 1.0));
}
"""

_CORNER_FS = """
#version 330
in vec2 v_attr;
in float v_depth;
layout(location = 0) out vec4 out_attr_id_depth;
void main() {
    out_attr_id_depth = vec4(v_attr, float(gl_PrimitiveID + 1), v_depth);
}
"""

_CORNER_BARY = np.array([[1, 0], [0, 1], [0, 0]], dtype=np.float32)


@dataclass
class GpuSurface:
    """A :class:`Surface` uploaded to a renderer (smooth vertex normals; indexed with
    per-vertex colour, or corners unrolled with uv and ``texture``)."""

    vao: moderngl.VertexArray
    buffers: tuple[moderngl.Buffer, ...]
    texture: moderngl.Texture | None = None

    def release(self) -> None:
        """Free the GPU buffers and texture."""
        self.vao.release()
        for buffer in self.buffers:
            buffer.release()
        if self.texture is not None:
            self.texture.release()


@dataclass
class GpuCornerMesh:
    """Triangles unrolled to corners with a 2-vector per corner (uv or barycentrics)."""

    vao: moderngl.VertexArray
    buffers: tuple[moderngl.Buffer, ...]
    n_faces: int

    def release(self) -> None:
        """Free the GPU buffers."""
        self.vao.release()
        for buffer in self.buffers:
            buffer.release()


class Renderer:
    """Offscreen rasteriser for images of ``width`` x ``height`` pixels.

    Parameters
    ----------
    width, height : image size in pixels; every camera drawn must have this size
    near_m, far_m : clipping range of camera depth, metres
    cull_back_faces : drop back faces of surfaces (:meth:`draw_surface`) before rasterising.
        About twice as fast on llvmpipe, whose triangle setup dominates, but an open scan's
        inner side (e.g. inside an open neck) then shows as background instead of its
        flipped normal. Closed surfaces render identically either way.
    egl_device : index of the EGL device to draw on (:mod:`rendering.egl_device`); None: the
        default EGL display (Mesa)

    Attributes
    ----------
    gl_renderer : the OpenGL renderer string (e.g. ``llvmpipe (LLVM 15.0.6, 256 bits)`` or
        ``NVIDIA H100 80GB HBM3/PCIe/SSE2``); ``software`` is True for a CPU rasteriser
    """

    def __init__(self, width: int = 512, height: int = 512, near_m: float = 0.01,
                 far_m: float = 100.0, cull_back_faces: bool = False,
                 egl_device: int | None = None) -> None:
        self.width, self.height = int(width), int(height)
        self.near_m, self.far_m = near_m, far_m
        self.cull_back_faces = cull_back_faces
        device = {} if egl_device is None else {"device_index": int(egl_device)}
        self.ctx = moderngl.create_standalone_context(backend="egl", **device)
        self._gl = GilFreeGL()  # draws and read-backs that let other threads run
        self.gl_renderer = str(self.ctx.info["GL_RENDERER"])
        self.software = any(name in self.gl_renderer.lower() for name in SOFTWARE_RENDERERS)
        self.ctx.enable(moderngl.DEPTH_TEST)
        self.ctx.front_face = "cw"  # see rendering.camera.gl_projection
        size = (self.width, self.height)
        self._surface_prog = self.ctx.program(vertex_shader=_SURFACE_VS,
                                              fragment_shader=_COLOR_FS)
        self._textured_prog = self.ctx.program(vertex_shader=_TEXTURED_VS,
                                               fragment_shader=_TEXTURED_FS)
        self._corner_prog = self.ctx.program(vertex_shader=_CORNER_VS,
                                             fragment_shader=_CORNER_FS)
        self._surface_fbo = self.ctx.framebuffer(
            color_attachments=[self.ctx.renderbuffer(size, 4, dtype="f4"),
                               self.ctx.renderbuffer(size, 4, dtype="f1")],
            depth_attachment=self.ctx.depth_renderbuffer(size))
        self._corner_fbo = self.ctx.framebuffer(
            color_attachments=[self.ctx.renderbuffer(size, 4, dtype="f4")],
            depth_attachment=self.ctx.depth_renderbuffer(size))
        self._f4 = np.empty((self.height, self.width, 4), dtype=np.float32)
        self._u1 = np.empty((self.height, self.width, 4), dtype=np.uint8)

    def release(self) -> None:
        """Free the context and everything in it."""
        self.ctx.release()

    # ---- uploads -------------------------------------------------------------------------

    def upload_surface(self, surface: Surface) -> GpuSurface:
        """Upload a scan surface once to draw it from many cameras.

        A surface with a texture of at least :data:`TEXELS_PER_VERTEX_MIN` texels per vertex
        is coloured by sampling the texture at each pixel's interpolated uv; otherwise by its
        vertex colours (albedo 0.75 without)."""
        if surface.texture is not None:
            texels = np.asarray(surface.texture).shape[0] * np.asarray(surface.texture).shape[1]
            if texels >= TEXELS_PER_VERTEX_MIN * len(surface.verts_m):
                return self._upload_textured(surface)
        verts = np.ascontiguousarray(surface.verts_m, dtype=np.float32)
        normals = vertex_normals(surface.verts_m, surface.faces)
        if surface.vertex_colors is None:
            colors = np.full_like(verts, 0.75)
        else:
            colors = np.asarray(surface.vertex_colors, dtype=np.float32) / 255.0
        buffers = tuple(self.ctx.buffer(np.ascontiguousarray(a, dtype=np.float32))
                        for a in (verts, normals, colors))
        index = self.ctx.buffer(np.ascontiguousarray(surface.faces, dtype=np.uint32))
        vao = self.ctx.vertex_array(
            self._surface_prog,
            [(buffers[0], "3f", "in_pos"), (buffers[1], "3f", "in_normal"),
             (buffers[2], "3f", "in_color")],
            index_buffer=index, index_element_size=4)
        return GpuSurface(vao=vao, buffers=(*buffers, index))

    def _upload_textured(self, surface: Surface) -> GpuSurface:
        """Corners unrolled (uv seams stay sharp) with position, smooth normal and uv; the
        texture uploaded bottom row first, so GL's t is the OBJ-style v (v up), with texel
        centres at ``(i + 0.5) / size`` and trilinear mipmapped filtering."""
        faces = np.asarray(surface.faces).ravel()
        pos = np.asarray(surface.verts_m, dtype=np.float32)[faces]
        normals = vertex_normals(surface.verts_m, surface.faces)[faces]
        uv = np.asarray(surface.uv_corners, dtype=np.float32).reshape(-1, 2)
        buffers = tuple(self.ctx.buffer(np.ascontiguousarray(a, dtype=np.float32))
                        for a in (pos, normals, uv))
        image = np.ascontiguousarray(np.asarray(surface.texture)[::-1])
        texture = self.ctx.texture((image.shape[1], image.shape[0]), 3, image.tobytes(),
                                   alignment=1)
        texture.repeat_x = texture.repeat_y = False
        texture.build_mipmaps()
        texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)  # no anisotropy:
        # on llvmpipe it doubled a draw for 1 level of colour error (bench/ava_texture_colour.py)
        vao = self.ctx.vertex_array(
            self._textured_prog,
            [(buffers[0], "3f", "in_pos"), (buffers[1], "3f", "in_normal"),
             (buffers[2], "2f", "in_uv")])
        return GpuSurface(vao=vao, buffers=buffers, texture=texture)

    def _upload_corners(self, corner_pos: np.ndarray, corner_attr: np.ndarray) -> GpuCornerMesh:
        n_faces = len(corner_pos) // 3
        if n_faces >= MAX_FACES:
            raise ValueError(f"mesh has {n_faces} faces; the renderer supports < {MAX_FACES}")
        pos = self.ctx.buffer(np.ascontiguousarray(corner_pos, dtype=np.float32))
        attr = self.ctx.buffer(np.ascontiguousarray(corner_attr, dtype=np.float32))
        vao = self.ctx.vertex_array(self._corner_prog,
                                    [(pos, "3f", "in_pos"), (attr, "2f", "in_attr")])
        return GpuCornerMesh(vao=vao, buffers=(pos, attr), n_faces=n_faces)

    def upload_uv_mesh(self, mesh: UVMesh) -> GpuCornerMesh:
        """Upload a uv mesh (corners unrolled so uv seams stay sharp)."""
        faces, ft = np.asarray(mesh.faces), np.asarray(mesh.ft)
        corner_pos = np.asarray(mesh.verts_m, dtype=np.float32)[faces.ravel()]
        corner_uv = np.asarray(mesh.vt, dtype=np.float32)[ft.ravel()]
        return self._upload_corners(corner_pos, corner_uv)

    # ---- drawing -------------------------------------------------------------------------

    def _set_camera(self, program: moderngl.Program, camera: Camera) -> None:
        if (camera.width, camera.height) != (self.width, self.height):
            raise ValueError(f"camera is {camera.width}x{camera.height} but the renderer "
                             f"draws {self.width}x{self.height}")
        mvp = gl_projection(camera, self.near_m, self.far_m) @ camera.w2c
        program["mvp"].write(mvp.T.astype(np.float32).tobytes())
        program["depth_row"].value = tuple(camera.w2c[2])

    def draw_surface(self, gpu: GpuSurface, camera: Camera,
                     light: Light | None = None) -> dict[str, np.ndarray]:
        """Draw an uploaded surface; see :meth:`render_surface` for the result (``rgb`` is
        always there: the texture's or vertex colours, albedo 0.75 without either)."""
        if light is None:
            light = headlight(camera)
        prog = self._surface_prog if gpu.texture is None else self._textured_prog
        if gpu.texture is not None:
            gpu.texture.use(location=0)
            prog["albedo"].value = 0
        self._set_camera(prog, camera)
        direction = np.asarray(light.direction_model, dtype=np.float64)
        prog["light_dir"].value = tuple(direction / np.linalg.norm(direction))
        prog["light_color"].value = tuple(float(c) for c in light.color)
        prog["ambient"].value = float(light.ambient)
        prog["diffuse"].value = float(light.diffuse)
        self._surface_fbo.use()
        self._surface_fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        if self.cull_back_faces:
            self.ctx.enable(moderngl.CULL_FACE)
        self._gl.draw_triangles(gpu.vao)
        self.ctx.disable(moderngl.CULL_FACE)
        self._gl.read_rgba(self._surface_fbo, 0, self._f4)
        depth = self._f4[..., 3].copy()
        self._gl.read_rgba(self._surface_fbo, 1, self._u1)
        return {"normal": channels(self._f4, 3), "depth": depth, "mask": depth > 0,
                "rgb": channels(self._u1, 3)}

    def draw_corners(self, gpu: GpuCornerMesh, camera: Camera,
                     cull_back_faces: bool = False) -> np.ndarray:
        """Draw an uploaded corner mesh; (H, W, 4) float32 view of (attr0, attr1, face_id + 1,
        depth), zero on background. The view is overwritten by the next draw."""
        self._set_camera(self._corner_prog, camera)
        self._corner_fbo.use()
        self._corner_fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        if cull_back_faces:
            self.ctx.enable(moderngl.CULL_FACE)
        self._gl.draw_triangles(gpu.vao)
        self.ctx.disable(moderngl.CULL_FACE)
        self._gl.read_rgba(self._corner_fbo, 0, self._f4)
        return self._f4

    # ---- one-shot conveniences -----------------------------------------------------------

    def render_surface(self, verts: np.ndarray, faces: np.ndarray, camera: Camera,
                       vertex_colors: np.ndarray | None = None,
                       light: Light | None = None, texture: np.ndarray | None = None,
                       uv_corners: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Render a surface with smooth vertex normals.

        Parameters
        ----------
        verts : (N, 3) metres, model frame; faces : (M, 3) int, counter-clockwise outside
        camera : size must match the renderer
        vertex_colors : (N, 3) uint8 or None
        light : shading light; default :func:`headlight`
        texture : (H, W, 3) uint8 or None, sampled at ``uv_corners`` (M, 3, 2), v up

        Returns
        -------
        dict with ``normal`` (H, W, 3) float32 unit model-frame normals of the surface seen
        (0 on background), ``depth`` (H, W) float32 camera z in metres (0 on background),
        ``mask`` (H, W) bool foreground, and, when colours or a texture are given, ``rgb``
        (H, W, 3) uint8.
        """
        gpu = self.upload_surface(Surface(verts, faces, vertex_colors, texture, uv_corners))
        try:
            out = self.draw_surface(gpu, camera, light)
        finally:
            gpu.release()
        if vertex_colors is None and texture is None:
            del out["rgb"]
        return out

    def render_uv(self, verts: np.ndarray, faces: np.ndarray, vt: np.ndarray, ft: np.ndarray,
                  camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Render texture coordinates of the visible front faces.

        Back faces are culled: the uv of a surface seen from behind (inside an open FLAME mesh)
        is not the uv of what a photo shows there. The depth test hides occluded faces.

        Returns
        -------
        uv : (H, W, 2) float32, 0 where not valid
        valid : (H, W) bool, the mesh is visible (depth-tested, no culling)
        face_id : (H, W) int32, visible face, -1 on background
        """
        gpu = self.upload_uv_mesh(UVMesh(verts, faces, vt, ft))
        try:
            buf = self.draw_corners(gpu, camera, cull_back_faces=True)
        finally:
            gpu.release()
        face_id = buf[..., 2].astype(np.int32) - 1
        return channels(buf, 2), face_id >= 0, face_id

    def rasterize(self, verts: np.ndarray, faces: np.ndarray,
                  camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Visibility pass: which face each pixel sees, where on it, and how far.

        No culling: the nearest face wins, whichever side of it is seen.

        Returns
        -------
        face_id : (H, W) int32, -1 on background
        bary : (H, W, 3) float32, perspective-correct barycentric coordinates of the pixel
            centre's ray hit in that face (0 on background)
        depth : (H, W) float32, camera z in metres (0 on background)
        """
        verts, faces = check_mesh(verts, faces, "rasterize")
        corner_pos = np.asarray(verts, dtype=np.float32)[np.asarray(faces).ravel()]
        corner_bary = np.tile(_CORNER_BARY, (len(faces), 1))
        gpu = self._upload_corners(corner_pos, corner_bary)
        try:
            buf = self.draw_corners(gpu, camera)
        finally:
            gpu.release()
        face_id = buf[..., 2].astype(np.int32) - 1
        bary = np.empty((self.height, self.width, 3), dtype=np.float32)
        bary[..., :2] = buf[..., :2]
        bary[..., 2] = np.where(face_id >= 0, 1.0 - buf[..., 0] - buf[..., 1], 0.0)
        return face_id, bary, buf[..., 3].copy()


def worker_renderer(width: int, height: int, environ: dict[str, str] | None = None
                    ) -> Renderer:
    """A render worker's :class:`Renderer` on the device :mod:`rendering.egl_device` picks,
    with one log line naming the OpenGL renderer in use (a warning when a GPU was asked for,
    through ``CUDA_VISIBLE_DEVICES`` or ``FACEFACTORY_EGL_DEVICE``, and none is drawn on)."""
    environ = dict(os.environ if environ is None else environ)
    device = worker_device(environ)
    renderer = Renderer(width, height, egl_device=None if device is None else device.index)
    where = "default EGL display" if device is None else device.describe()
    kind = "software, CPU" if renderer.software else "GPU"
    message = (f"render worker pid {os.getpid()}: OpenGL renderer {renderer.gl_renderer!r} "
               f"({kind}) on the {where}")
    asked_gpu = bool(environ.get("CUDA_VISIBLE_DEVICES", "").strip()
                     or environ.get("FACEFACTORY_EGL_DEVICE", "").strip())
    if renderer.software and asked_gpu:
        log.warning("%s, although a GPU was asked for (no NVIDIA EGL device found)", message)
    elif renderer.software:
        log.warning("%s: no NVIDIA EGL device, rendering on the CPU", message)
    else:
        log.info(message)
    return renderer


def channels(image: np.ndarray, count: int) -> np.ndarray:
    """Copy of the first ``count`` channels of an (H, W, C) image (per-channel copies: numpy's
    copy of a ``[..., :3]`` view of a 4-channel image is ten times slower)."""
    out = np.empty((*image.shape[:2], count), dtype=image.dtype)
    for channel in range(count):
        out[..., channel] = image[..., channel]
    return out


def headlight(camera: Camera) -> Light:
    """Light from the camera's direction (model frame), default intensities."""
    return Light(direction_model=-camera.rotation[2])
