"""Rendering of supervision maps (rgb, normal, uv, mask, depth) with moderngl on EGL.

Public API: :class:`Camera`, :func:`project`, :class:`ViewSampling`, :func:`sample_view_camera`,
:class:`Surface`, :class:`UVMesh`, :class:`Light`, :func:`sample_light`, :class:`Renderer`,
:func:`render_training_maps`, :func:`render_maps_for_photo`, :func:`render_sample`.
"""

from rendering.camera import Camera, ViewSampling, look_at_w2c, project, sample_view_camera
from rendering.geometry import Light, Surface, UVMesh
from rendering.lighting import LightSampling, sample_light
from rendering.maps import (
    MASK_FACE,
    MASK_NORMAL,
    MASK_UV,
    render_maps_for_photo,
    render_training_maps,
)
from rendering.renderer import Renderer
from rendering.sample import render_sample

__all__ = [
    "MASK_FACE", "MASK_NORMAL", "MASK_UV", "Camera", "Light", "LightSampling", "Renderer",
    "Surface", "UVMesh", "ViewSampling", "look_at_w2c", "project", "render_maps_for_photo",
    "render_sample", "render_training_maps", "sample_light", "sample_view_camera",
]
