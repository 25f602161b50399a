"""One training sample, start to end: pick a camera, pick a light, render the maps.

The function a test and a Dask task both call (Kubric-style: the recipe reads top to bottom).
"""

from __future__ import annotations

import numpy as np

from rendering.camera import Camera, ViewSampling, sample_view_camera
from rendering.geometry import Surface, UVMesh
from rendering.lighting import LightSampling, sample_light
from rendering.maps import render_training_maps
from rendering.renderer import GpuCornerMesh, GpuSurface, Renderer


def render_sample(renderer: Renderer, scan_surface: Surface | GpuSurface,
                  registered: UVMesh | GpuCornerMesh, rng: np.random.Generator,
                  target_m: np.ndarray, camera: Camera | None = None,
                  views: ViewSampling | None = None, lights: LightSampling | None = None,
                  **map_kwargs) -> dict[str, np.ndarray]:
    """Render one sample's maps and camera.

    Parameters
    ----------
    renderer : sized like the views
    scan_surface, registered : see :func:`rendering.maps.render_training_maps`
    rng : the sample's generator (e.g. ``shards.sample_rng(seed, dataset, scan_id, view)``);
        draws the camera (when ``camera`` is None) and then the light
    target_m : (3,) look-at point of sampled views, model frame metres (e.g. head centre)
    camera : a calibrated camera to use instead of a sampled one
    views : ranges of sampled views (default :class:`ViewSampling` at the renderer's size)
    lights : ranges of sampled lights (default :class:`LightSampling`)
    map_kwargs : ``face_vertex_mask``, ``registered_faces``, ``uv_depth_tol_m``

    Returns
    -------
    the maps of :func:`render_training_maps` plus ``K`` (3, 3) float32 and ``w2c`` (4, 4)
    float32.
    """
    if camera is None:
        if views is None:
            views = ViewSampling(width=renderer.width, height=renderer.height)
        camera = sample_view_camera(rng, views, target_m)
    light = sample_light(rng, camera, lights or LightSampling())
    maps = render_training_maps(renderer, scan_surface, registered, camera, light, **map_kwargs)
    maps["K"] = camera.K.astype(np.float32)
    maps["w2c"] = camera.w2c.astype(np.float32)
    return maps
