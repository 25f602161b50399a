"""Pinhole cameras in the OpenCV convention, their OpenGL projection, and view sampling.

Conventions: ``K`` (3, 3) in pixels with pixel centres at integer coordinates (pixel ``(0, 0)``
covers ``[-0.5, 0.5]^2``); ``w2c`` (4, 4) maps model (world) points, metres, to the camera
frame x right, y down, z forward. The model frame is FLAME's: x to the subject's left, y up,
z out of the face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import geometry


@dataclass(frozen=True)
class Camera:
    """A calibrated pinhole camera.

    Attributes
    ----------
    K : (3, 3) float64, intrinsics in pixels (OpenCV; may have skew ``K[0, 1]``)
    w2c : (4, 4) float64, world(model)-to-camera rigid transform, metres
    width, height : image size in pixels
    """

    K: np.ndarray
    w2c: np.ndarray
    width: int
    height: int

    def __post_init__(self) -> None:
        K = np.asarray(self.K, dtype=np.float64)
        w2c = np.asarray(self.w2c, dtype=np.float64)
        if K.shape != (3, 3) or w2c.shape != (4, 4):
            raise ValueError(f"Camera: K must be (3, 3) and w2c (4, 4), got {K.shape}, {w2c.shape}")
        if not (np.all(np.isfinite(K)) and np.all(np.isfinite(w2c))):
            raise ValueError("Camera: K and w2c must be finite")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"Camera: image size must be positive, got {self.width}x{self.height}")
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "w2c", w2c)

    @property
    def rotation(self) -> np.ndarray:
        """(3, 3) world-to-camera rotation; ``normals_camera = normals_model @ rotation.T``."""
        return self.w2c[:3, :3]

    @property
    def centre_world(self) -> np.ndarray:
        """(3,) camera centre in the world frame, metres."""
        return -self.w2c[:3, :3].T @ self.w2c[:3, 3]


def project(points_world: np.ndarray, camera: Camera) -> np.ndarray:
    """Project points (N, 3) world metres to (N, 2) pixel coordinates (OpenCV, centres at ints).

    Points behind the camera (z <= 0) give NaN.
    """
    return geometry.project(points_world, camera.K, camera.w2c)


def gl_projection(camera: Camera, near_m: float = 0.01, far_m: float = 100.0) -> np.ndarray:
    """(4, 4) float64 matrix mapping camera-frame points (OpenCV axes) to OpenGL clip space.

    Window x equals ``u + 0.5`` and window y equals ``v + 0.5`` (so the framebuffer row ``j``
    read back by ``glReadPixels`` is image row ``j``, no flip), and a pixel centre samples
    exactly the ray that :func:`project` sends to that integer pixel. Camera depth
    ``z`` in ``[near_m, far_m]`` maps to NDC z in ``[-1, 1]``.

    Triangles that face the camera (outward normal towards it, counter-clockwise seen from
    outside) are clockwise in these window coordinates: use ``front_face = 'cw'``.
    """
    K, W, H = camera.K, camera.width, camera.height
    proj = np.zeros((4, 4))
    proj[0, :3] = [2 * K[0, 0] / W, 2 * K[0, 1] / W, 2 * (K[0, 2] + 0.5) / W - 1]
    proj[1, :3] = [0.0, 2 * K[1, 1] / H, 2 * (K[1, 2] + 0.5) / H - 1]
    proj[2, 2:] = [(far_m + near_m) / (far_m - near_m), -2 * far_m * near_m / (far_m - near_m)]
    proj[3, 2] = 1.0
    return proj


def look_at_w2c(centre_world: np.ndarray, target_world: np.ndarray, roll_rad: float = 0.0,
                up_world: np.ndarray = (0.0, 1.0, 0.0)) -> np.ndarray:
    """(4, 4) w2c for a camera at ``centre_world`` looking at ``target_world`` (OpenCV axes).

    Image up follows ``up_world``; ``roll_rad`` then turns the camera's x and y axes about
    its viewing axis by that angle.
    """
    centre = np.asarray(centre_world, dtype=np.float64)
    forward = np.asarray(target_world, dtype=np.float64) - centre
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up_world, dtype=np.float64))
    if np.linalg.norm(right) < 1e-9:
        raise ValueError("look_at_w2c: viewing direction is parallel to up_world")
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    c, s = np.cos(roll_rad), np.sin(roll_rad)
    x_axis = c * right + s * down
    y_axis = -s * right + c * down
    w2c = np.eye(4)
    w2c[:3, :3] = np.stack([x_axis, y_axis, forward])
    w2c[:3, 3] = -w2c[:3, :3] @ centre
    return w2c


@dataclass(frozen=True)
class ViewSampling:
    """Ranges of sampled views, like in-the-wild portrait photos (uniform in each range).

    Angles in degrees: yaw turns the camera about the model's y axis (0 = frontal),
    pitch raises it (positive: camera above the face looking down), roll about the viewing
    axis. ``head_fill`` is the fraction of the image height spanned by ``head_extent_m``
    (a head's chin-to-crown height), which sets the focal length for each sampled distance.
    ``target_jitter_m`` moves the look-at point uniformly in a cube of that half-size.
    """

    width: int = 512
    height: int = 512
    yaw_deg: tuple[float, float] = (-60.0, 60.0)
    pitch_deg: tuple[float, float] = (-25.0, 25.0)
    roll_deg: tuple[float, float] = (-10.0, 10.0)
    distance_m: tuple[float, float] = (0.45, 1.2)
    head_fill: tuple[float, float] = (0.4, 0.7)
    head_extent_m: float = 0.25
    target_jitter_m: float = 0.02


def sample_view_camera(rng: np.random.Generator, settings: ViewSampling,
                       target: np.ndarray) -> Camera:
    """Draw one camera looking at ``target`` (3,) world metres from ranges in ``settings``.

    Draws, in this order: yaw, pitch, roll, distance, head fill, target jitter (3).
    The principal point is the image centre; square pixels, no skew.
    """
    s = settings
    yaw, pitch, roll = (np.deg2rad(rng.uniform(*r)) for r in (s.yaw_deg, s.pitch_deg, s.roll_deg))
    distance = rng.uniform(*s.distance_m)
    fill = rng.uniform(*s.head_fill)
    jitter = rng.uniform(-s.target_jitter_m, s.target_jitter_m, size=3)
    look_at = np.asarray(target, dtype=np.float64) + jitter
    direction = np.array([np.cos(pitch) * np.sin(yaw), np.sin(pitch), np.cos(pitch) * np.cos(yaw)])
    w2c = look_at_w2c(look_at + distance * direction, look_at, roll)
    focal = fill * s.height * distance / s.head_extent_m
    K = np.array([[focal, 0.0, (s.width - 1) / 2], [0.0, focal, (s.height - 1) / 2], [0, 0, 1]])
    return Camera(K=K, w2c=w2c, width=s.width, height=s.height)
