"""Synthetic test images of the FLAME model itself, with known parameters and exact maps.

For the fit's tests and benchmark: the model's own mesh is rendered, so a perfect fit exists
and the ground-truth maps give the oracle's accuracy without any model-span error.
"""

from __future__ import annotations

import numpy as np
import torch

from fitting.evaluate import MASK_NORMAL, MASK_UV, TruthMesh
from flame import FLAME, FlameModel
from rendering import Camera, Renderer, look_at_w2c

SKIN_RGB = (200, 160, 140)


def synthetic_sample(model: FlameModel, rng: np.random.Generator, renderer: Renderer,
                     yaw_deg_range: float = 30.0, distance_m: float = 0.6,
                     head_fill: float = 0.6, subject: str = "s000",
                     view: int = 0) -> tuple[dict, TruthMesh]:
    """Render one image of a random head of ``model`` and return its sample and truth.

    Draws identity ~ N(0, 1) (the model's non-zero identity columns), expression ~ N(0, 0.7),
    jaw opening in [0, 0.2] rad, neck rotations within 0.1 rad, a camera yaw within
    ``yaw_deg_range`` and pitch within 10 degrees, at ``distance_m`` with a focal length
    so that a 0.25 m head spans ``head_fill`` of the image height.

    Returns
    -------
    sample : dict with the fields of a shard sample (``shards.write_shard``): ``rgb``
        (H, W, 3) uint8, ``normal`` (H, W, 3) model frame, ``uv`` (H, W, 2), ``mask`` (H, W)
        uint8 bits, ``depth`` (H, W), ``K``, ``w2c``, ``shape``, ``expr``, ``pose`` (J*3,),
        ``transl``, ``scale``, ids (dataset "synthetic", ``subject``, ``view``), and
        ``sample_id``
    truth : posed and neutral meshes (V, 3), model (= world) frame
    """
    flame = FLAME(model, dtype=torch.float64)
    shape = rng.normal(0.0, 1.0, max(model.shape_used, 1))
    expr = rng.normal(0.0, 0.7, max(model.expr_used, 1))
    pose = np.zeros((model.n_joints, 3))
    pose[1] = rng.uniform(-0.1, 0.1, 3)
    pose[2, 0] = rng.uniform(0.0, 0.2)
    with torch.no_grad():
        posed = flame(shape=torch.as_tensor(shape)[None], expr=torch.as_tensor(expr)[None],
                      pose=torch.as_tensor(pose)[None]).vertices[0].numpy()
        neutral = flame(shape=torch.as_tensor(shape)[None]).vertices[0].numpy()
    yaw = np.deg2rad(rng.uniform(-yaw_deg_range, yaw_deg_range))
    pitch = np.deg2rad(rng.uniform(-10.0, 10.0))
    target = posed[model.masks["face"]].mean(axis=0) if "face" in model.masks else posed.mean(0)
    direction = np.array([np.cos(pitch) * np.sin(yaw), np.sin(pitch), np.cos(pitch) * np.cos(yaw)])
    w2c = look_at_w2c(target + distance_m * direction, target)
    width, height = renderer.width, renderer.height
    focal = head_fill * height * distance_m / 0.25
    K = np.array([[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2], [0, 0, 1]])
    camera = Camera(K=K, w2c=w2c, width=width, height=height)
    colours = np.tile(np.array(SKIN_RGB, dtype=np.uint8), (model.n_vertices, 1))
    surface = renderer.render_surface(posed, model.faces, camera, vertex_colors=colours)
    uv, uv_valid, _ = renderer.render_uv(posed, model.faces, model.vt, model.ft, camera)
    mask = (surface["mask"] * MASK_NORMAL + uv_valid * MASK_UV).astype(np.uint8)
    scan = f"{subject}-e0"
    sample = {"rgb": surface["rgb"], "normal": surface["normal"], "uv": uv, "mask": mask,
              "depth": surface["depth"], "K": K, "w2c": w2c, "shape": shape, "expr": expr,
              "pose": pose.ravel(), "transl": np.zeros(3), "scale": np.float64(1.0),
              "dataset": "synthetic", "subject": subject, "expression": "e0", "scan": scan,
              "view": view, "sample_id": f"synthetic/{scan}/{view}"}
    return sample, TruthMesh(posed_m=posed, neutral_m=neutral)
