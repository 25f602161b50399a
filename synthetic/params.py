"""Random identities, expressions, poses and cameras for synthetic scans."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from flame.ict import IctModel

FACESCAPE_MIXES: dict[str, dict[str, float]] = {
    "neutral": {},
    "smile": {"mouthSmile": 0.8, "cheekSquint": 0.4},
    "mouth_stretch": {"jawOpen": 0.7, "mouthStretch": 0.5},
    "anger": {"browDown": 0.8, "noseSneer": 0.4, "mouthPress": 0.4, "eyeSquint": 0.3},
    "jaw_left": {"jawLeft": 0.8},
    "jaw_right": {"jawRight": 0.8},
    "jaw_forward": {"jawForward": 0.8},
    "mouth_left": {"mouthLeft": 0.8},
    "mouth_right": {"mouthRight": 0.8},
    "dimpler": {"mouthDimple": 0.8},
    "chin_raiser": {"mouthShrugLower": 0.8, "mouthShrugUpper": 0.3},
    "lip_puckerer": {"mouthPucker": 0.9},
    "lip_funneler": {"mouthFunnel": 0.9},
    "sadness": {"mouthFrown": 0.7, "browInnerUp": 0.6},
    "lip_roll": {"mouthRollLower": 0.8, "mouthRollUpper": 0.8},
    "grin": {"mouthSmile": 0.9, "mouthUpperUp": 0.5, "mouthLowerDown": 0.5, "jawOpen": 0.15},
    "cheek_blowing": {"cheekPuff": 0.9},
    "eye_closed": {"eyeBlink": 1.0},
    "brow_raiser": {"browInnerUp": 0.8, "browOuterUp": 0.8},
    "brow_lower": {"browDown": 0.8},
}
"""FaceScape's 20 expressions as ICT blendshape mixes (a name without _L/_R sets both sides)."""


def mix_weights(ict: IctModel, mix: dict[str, float]) -> np.ndarray:
    """Blendshape weights (53,) of a named mix."""
    names = [str(n) for n in ict.expression_names]
    weights = np.zeros(len(names))
    for key, value in mix.items():
        hits = [i for i, n in enumerate(names) if n == key or n in (f"{key}_L", f"{key}_R")]
        if not hits:
            raise KeyError(f"no ICT blendshape named {key!r}")
        weights[hits] = value
    return weights


def random_identity(rng: np.random.Generator, modes: int = 100, scale: float = 0.8) -> np.ndarray:
    """Identity coefficients (modes,) ~ N(0, scale^2), all ICT modes."""
    return rng.normal(0.0, scale, modes)


def random_expression(ict: IctModel, rng: np.random.Generator) -> np.ndarray:
    """A sparse mix (53,) of 2-4 blendshapes, weights 0.3-0.9, symmetric pairs kept together."""
    names = [str(n) for n in ict.expression_names]
    bases = sorted({n.removesuffix("_L").removesuffix("_R") for n in names
                    if not n.startswith("eyeLook")})
    chosen = rng.choice(bases, rng.integers(2, 5), replace=False)
    return mix_weights(ict, {str(b): float(rng.uniform(0.3, 0.9)) for b in chosen})


def random_pose(rng: np.random.Generator, degrees: float, translation_m: float) -> np.ndarray:
    """(4, 4) rigid transform: rotation up to ``degrees`` about a random axis, translation
    uniform in +-``translation_m``."""
    out = np.eye(4)
    axis = rng.normal(size=3)
    angle = np.deg2rad(rng.uniform(-degrees, degrees))
    out[:3, :3] = Rotation.from_rotvec(axis / np.linalg.norm(axis) * angle).as_matrix()
    out[:3, 3] = rng.uniform(-translation_m, translation_m, 3)
    return out


def look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """OpenCV world-to-camera (4, 4) of a camera at ``eye`` looking at ``target``."""
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    w2c = np.eye(4)
    w2c[:3, :3] = np.stack([x, y, z])
    w2c[:3, 3] = -w2c[:3, :3] @ eye
    return w2c


def orbit_cameras(target: np.ndarray, views: int, width: int, height: int,
                  rng: np.random.Generator, distance_m: float = 0.8,
                  field_m: float = 0.42) -> list[dict]:
    """Cameras spread over +-50 degrees of yaw in front of ``target`` (FLAME frame: face +z).

    Returns dicts with K (3, 3), w2c (4, 4), dist (5,) and image size; ``field_m`` is the
    height of the scene the image spans at the target.
    """
    cams = []
    for yaw in np.linspace(-50, 50, views) + rng.uniform(-5, 5, views):
        pitch = np.deg2rad(rng.uniform(-10, 10))
        yaw = np.deg2rad(yaw)
        eye = target + distance_m * np.array([np.sin(yaw) * np.cos(pitch), np.sin(pitch),
                                              np.cos(yaw) * np.cos(pitch)])
        focal = distance_m * height / field_m * rng.uniform(0.95, 1.05)
        K = np.array([[focal, 0, (width - 1) / 2 + rng.uniform(-4, 4)],
                      [0, focal, (height - 1) / 2 + rng.uniform(-4, 4)], [0, 0, 1]])
        dist = np.array([rng.uniform(-0.15, 0.05), rng.uniform(-0.05, 0.1),
                         rng.uniform(-1e-3, 1e-3), rng.uniform(-1e-3, 1e-3), 0.0])
        cams.append({"K": K, "w2c": look_at(eye, target), "dist": dist,
                     "width": width, "height": height})
    return cams
