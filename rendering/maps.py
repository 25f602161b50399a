"""Training maps of one view: rgb and normals from the scan, uv from the registered mesh.

Mask bits (``mask`` uint8):

- ``MASK_NORMAL`` (1): the scan surface is seen; ``normal`` and ``depth`` are valid.
- ``MASK_UV`` (2): a front face of the registered mesh is seen there too (back faces are
  culled, occluded faces depth-tested away) and its depth agrees with the scan's within
  ``uv_depth_tol_m``, so hair or other occluders in front of the skin get no uv.
- ``MASK_FACE`` (4): a ``MASK_UV`` pixel on a registered face whose three vertices are all in
  the FLAME ``face`` region (``face_vertex_mask``).
"""

from __future__ import annotations

import numpy as np

from rendering.camera import Camera
from rendering.geometry import Light, Surface, UVMesh
from rendering.renderer import GpuCornerMesh, GpuSurface, Renderer, channels

MASK_NORMAL = 1
MASK_UV = 2
MASK_FACE = 4

UV_DEPTH_TOL_M = 0.006
"""Default largest |registered depth - scan depth| (metres) where uv is kept."""


def face_region_faces(faces: np.ndarray, face_vertex_mask: np.ndarray) -> np.ndarray:
    """(F,) bool: faces whose three vertices are in ``face_vertex_mask`` (V,) bool."""
    mask = np.asarray(face_vertex_mask, dtype=bool)
    return mask[np.asarray(faces)].all(axis=1)


def render_training_maps(renderer: Renderer, scan_surface: Surface | GpuSurface,
                         registered_mesh: UVMesh | GpuCornerMesh, camera: Camera,
                         light: Light | None, face_vertex_mask: np.ndarray | None = None,
                         registered_faces: np.ndarray | None = None,
                         uv_depth_tol_m: float = UV_DEPTH_TOL_M) -> dict[str, np.ndarray]:
    """Render the supervision maps of one view.

    Parameters
    ----------
    renderer : sized like ``camera``
    scan_surface : the scan (or its upload); ``rgb`` is its texture sampled per pixel where
        it has one, else its vertex colours, else grey (albedo 0.75)
    registered_mesh : the FLAME-topology mesh with uv (or its upload)
    camera : OpenCV camera
    light : shading light (None: a headlight)
    face_vertex_mask : (V,) bool, FLAME ``face`` region vertices; None: no ``MASK_FACE`` bits
    registered_faces : (F, 3) faces of the registered mesh, needed with ``face_vertex_mask``
        when ``registered_mesh`` is an upload
    uv_depth_tol_m : see module docstring

    Returns
    -------
    dict: ``rgb`` (H, W, 3) uint8; ``normal`` (H, W, 3) float32 unit, model frame, 0 where
    invalid; ``uv`` (H, W, 2) float32 in [0, 1], 0 where invalid; ``mask`` (H, W) uint8 bits;
    ``depth`` (H, W) float32 scan camera z in metres, 0 where invalid.
    """
    owned = []
    if isinstance(scan_surface, Surface):
        scan_gpu = renderer.upload_surface(scan_surface)
        owned.append(scan_gpu)
    else:
        scan_gpu = scan_surface
    if isinstance(registered_mesh, UVMesh):
        registered_faces = registered_mesh.faces
        reg_gpu = renderer.upload_uv_mesh(registered_mesh)
        owned.append(reg_gpu)
    else:
        reg_gpu = registered_mesh
    if face_vertex_mask is not None and registered_faces is None:
        raise ValueError("render_training_maps: face_vertex_mask needs registered_faces "
                         "when registered_mesh is an upload")
    try:
        return _render(renderer, scan_gpu, reg_gpu, camera, light, face_vertex_mask,
                       registered_faces, uv_depth_tol_m)
    finally:
        for gpu in owned:
            gpu.release()


def _uv_mask_bits(n_faces: int, face_vertex_mask: np.ndarray | None,
                  registered_faces: np.ndarray | None) -> np.ndarray:
    """(n_faces + 1,) uint8 mask bits of a pixel showing registered face ``id`` at index
    ``id + 1``, before the depth check: 0 for background (index 0), else ``MASK_UV``, plus
    ``MASK_FACE`` on faces of the face region."""
    bits = np.full(n_faces + 1, MASK_UV, dtype=np.uint8)
    bits[0] = 0
    if face_vertex_mask is not None:
        bits[1:][face_region_faces(registered_faces, face_vertex_mask)] |= MASK_FACE
    return bits


def _render(renderer: Renderer, scan_gpu: GpuSurface, reg_gpu: GpuCornerMesh, camera: Camera,
            light: Light | None, face_vertex_mask: np.ndarray | None,
            registered_faces: np.ndarray | None, uv_depth_tol_m: float) -> dict[str, np.ndarray]:
    scan = renderer.draw_surface(scan_gpu, camera, light)
    buf = renderer.draw_corners(reg_gpu, camera, cull_back_faces=True)
    # Pixels where the scan is seen and the registered depth agrees with it; where the
    # registered mesh is background its uv is 0 and its bits (index 0) are 0.
    agrees = np.subtract(buf[..., 3], scan["depth"])
    agrees = np.abs(agrees, out=agrees) <= uv_depth_tol_m
    agrees &= scan["mask"]
    bits = _uv_mask_bits(reg_gpu.n_faces, face_vertex_mask, registered_faces)
    mask = bits.take(buf[..., 2].astype(np.int32))  # 30% faster than boolean mask algebra
    mask *= agrees
    mask |= scan["mask"]  # True is 1 == MASK_NORMAL
    uv = channels(buf, 2)
    uv *= agrees[..., None]  # 20x faster than uv[~agrees] = 0 (boolean scatter)
    return {"rgb": scan["rgb"], "normal": scan["normal"], "uv": uv, "mask": mask,
            "depth": scan["depth"]}


def render_maps_for_photo(renderer: Renderer, scan_surface: Surface | GpuSurface,
                          registered_mesh: UVMesh | GpuCornerMesh, camera: Camera,
                          photo_rgb: np.ndarray, **kwargs) -> dict[str, np.ndarray]:
    """Maps for a data set's calibrated photo: rendered from its camera, ``rgb`` is the photo.

    ``photo_rgb`` (H, W, 3) uint8 must match the camera's size; other keyword arguments as in
    :func:`render_training_maps`.
    """
    photo = np.asarray(photo_rgb)
    if photo.shape != (camera.height, camera.width, 3) or photo.dtype != np.uint8:
        raise ValueError(f"render_maps_for_photo: photo must be ({camera.height}, "
                         f"{camera.width}, 3) uint8, got {photo.shape} {photo.dtype}")
    maps = render_training_maps(renderer, scan_surface, registered_mesh, camera, None, **kwargs)
    maps["rgb"] = photo.copy()
    return maps
