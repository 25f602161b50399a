"""FLAME's forward pass in plain numpy, one sample at a time: an implementation independent of
the torch layer (:class:`flame.FLAME`), which the tests check the layer against and
``bench/flame_forward.py`` times it against."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from flame.model import FlameModel


def forward_numpy(model: FlameModel, shape: np.ndarray, expr: np.ndarray, pose: np.ndarray,
                  transl: np.ndarray | None = None) -> np.ndarray:
    """Vertices (V, 3) metres of one sample: ``shape`` (s,) and ``expr`` (e,) leading
    coefficients, ``pose`` (J, 3) axis-angle radians per joint, ``transl`` (3,) metres."""
    v = model.v_template + model.shapedirs[:, :, : len(shape)] @ shape
    v = v + model.exprdirs[:, :, : len(expr)] @ expr
    joints = model.j_regressor @ v
    rot = Rotation.from_rotvec(pose).as_matrix()
    feature = np.concatenate([(r - np.eye(3)).ravel() for r in rot[1:]])
    v = v + model.posedirs @ feature
    world = []
    for j, parent in enumerate(model.parents):
        local = np.eye(4)
        local[:3, :3] = rot[j]
        local[:3, 3] = joints[j] - (joints[parent] if parent >= 0 else 0)
        world.append(local if parent < 0 else world[parent] @ local)
    skinning = np.stack(world)
    skinning[:, :3, 3] -= np.einsum("jab,jb->ja", skinning[:, :3, :3], joints)
    blended = np.einsum("vj,jab->vab", model.weights, skinning)
    out = np.einsum("vab,vb->va", blended[:, :3, :3], v) + blended[:, :3, 3]
    return out if transl is None else out + transl
