"""Light sampling for rendered RGB images.

Model: one directional light plus ambient, Lambertian (see :class:`rendering.geometry.Light`).
The direction is drawn uniformly on the spherical cap of half-angle ``cone_deg`` around a
direction tilted ``elevation_deg`` above the camera's viewing axis (lights come mostly from
the front and above, as in portraits); ambient, diffuse and a per-channel tint are uniform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rendering.camera import Camera
from rendering.geometry import Light


@dataclass(frozen=True)
class LightSampling:
    """Ranges of sampled lights (uniform in each)."""

    cone_deg: float = 60.0
    elevation_deg: float = 20.0
    ambient: tuple[float, float] = (0.25, 0.5)
    diffuse: tuple[float, float] = (0.5, 0.9)
    tint: tuple[float, float] = (0.9, 1.1)


def sample_light(rng: np.random.Generator, camera: Camera,
                 settings: LightSampling | None = None) -> Light:
    """Draw a light for a view: cap direction (2 draws), ambient, diffuse, tint (3 draws)."""
    settings = settings or LightSampling()
    cos_max = np.cos(np.deg2rad(settings.cone_deg))
    cos_theta = rng.uniform(cos_max, 1.0)
    phi = rng.uniform(0.0, 2 * np.pi)
    sin_theta = np.sqrt(1.0 - cos_theta**2)
    elevation = np.deg2rad(settings.elevation_deg)
    # Cap axis in camera axes (x right, y down, z forward): towards the camera, tilted up.
    axis = np.array([0.0, -np.sin(elevation), -np.cos(elevation)])
    helper = np.array([1.0, 0.0, 0.0])
    e1 = np.cross(axis, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(axis, e1)
    direction_camera = cos_theta * axis + sin_theta * (np.cos(phi) * e1 + np.sin(phi) * e2)
    direction_model = camera.rotation.T @ direction_camera
    ambient = rng.uniform(*settings.ambient)
    diffuse = rng.uniform(*settings.diffuse)
    tint = rng.uniform(*settings.tint, size=3)
    return Light(direction_model=direction_model, ambient=float(ambient),
                 diffuse=float(diffuse), color=tuple(float(t) for t in tint))
