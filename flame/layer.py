"""FLAME as a differentiable torch layer: blendshapes, pose correctives, linear blend skinning."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from flame.model import FlameModel
from geometry.tensors import axis_angle_to_matrix


class FlameOutput(NamedTuple):
    """vertices (B, V, 3), landmarks (B, L, 3) (empty L when the model has none), joints (B, J, 3);
    metres, model frame."""

    vertices: torch.Tensor
    landmarks: torch.Tensor
    joints: torch.Tensor


class FLAME(nn.Module):
    """Batched FLAME forward pass.

    Parameters
    ----------
    model : FlameModel
        Any FLAME-format model (real FLAME 2020/2023 or the stand-in); sizes come from it.
    dtype : torch.dtype
        float32 or float64.
    """

    def __init__(self, model: FlameModel, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()

        def buf(name: str, array: np.ndarray, as_dtype: torch.dtype = dtype) -> None:
            self.register_buffer(name, torch.as_tensor(np.ascontiguousarray(array),
                                                       dtype=as_dtype), persistent=False)

        n_vertices = model.n_vertices
        buf("v_template", model.v_template)
        # Blendshapes as (K, V*3) rows, so a prefix of components is a contiguous slice.
        buf("shapedirs", model.shapedirs.reshape(n_vertices * 3, -1).T)
        buf("exprdirs", model.exprdirs.reshape(n_vertices * 3, -1).T)
        buf("posedirs", model.posedirs.reshape(n_vertices * 3, -1).T)  # (9*(J-1), V*3)
        buf("j_regressor", model.j_regressor)
        buf("lbs_weights", model.weights)
        buf("faces", model.faces, torch.int64)
        lmk_faces = model.lmk_faces if model.lmk_faces is not None else np.zeros(0, np.int64)
        lmk_bary = model.lmk_bary if model.lmk_bary is not None else np.zeros((0, 3))
        buf("lmk_faces", lmk_faces, torch.int64)
        buf("lmk_bary", lmk_bary)
        self.parents = [int(p) for p in model.parents]
        self.n_shape = int(model.shapedirs.shape[2])
        self.n_expr = int(model.exprdirs.shape[2])
        self.n_joints = model.n_joints

    def _coeffs(self, value: torch.Tensor | None, batch: int, size: int,
                name: str) -> torch.Tensor | None:
        if value is None:
            return None
        if value.shape[-1] > size:
            raise ValueError(f"{name} has {value.shape[-1]} coefficients; the model has {size}")
        return value.reshape(batch, -1)

    def forward(self, shape: torch.Tensor | None = None, expr: torch.Tensor | None = None,
                pose: torch.Tensor | None = None,
                transl: torch.Tensor | None = None) -> FlameOutput:
        """Posed vertices.

        Parameters
        ----------
        shape : (B, s) identity coefficients, s <= model's identity columns, or None
        expr : (B, e) expression coefficients, e <= model's expression columns, or None
        pose : (B, J, 3) axis-angle per joint in kintree order (FLAME: global, neck, jaw,
            left eye, right eye), radians, or None
        transl : (B, 3) metres, or None
        """
        dtype = self.v_template.dtype
        shape, expr, pose, transl = (None if t is None else t.to(dtype)
                                     for t in (shape, expr, pose, transl))
        given = [t for t in (shape, expr, pose, transl) if t is not None]
        batch = given[0].shape[0] if given else 1
        vertices = self.v_template.expand(batch, -1, -1)
        if shape is not None:
            shape = self._coeffs(shape, batch, self.n_shape, "shape")
            vertices = vertices + (shape @ self.shapedirs[: shape.shape[1]]).reshape(batch, -1, 3)
        if expr is not None:
            expr = self._coeffs(expr, batch, self.n_expr, "expr")
            vertices = vertices + (expr @ self.exprdirs[: expr.shape[1]]).reshape(batch, -1, 3)
        joints = torch.einsum("jv,bvc->bjc", self.j_regressor, vertices)
        if pose is None:
            pose = vertices.new_zeros(batch, self.n_joints, 3)
        pose = pose.reshape(batch, self.n_joints, 3)
        rotations = axis_angle_to_matrix(pose)  # (B, J, 3, 3)
        eye = torch.eye(3, dtype=vertices.dtype, device=vertices.device)
        pose_feature = (rotations[:, 1:] - eye).reshape(batch, -1)
        vertices = vertices + (pose_feature @ self.posedirs).reshape(batch, -1, 3)
        posed_joints, transforms = self._chain(rotations, joints)
        skin = (self.lbs_weights @ transforms.reshape(batch, -1, 12)).reshape(batch, -1, 3, 4)
        vertices = (skin[..., :3] @ vertices[..., None])[..., 0] + skin[..., 3]
        if transl is not None:
            vertices = vertices + transl.reshape(batch, 1, 3)
            posed_joints = posed_joints + transl.reshape(batch, 1, 3)
        return FlameOutput(vertices, self.landmarks(vertices), posed_joints)

    def _chain(self, rotations: torch.Tensor,
               joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward kinematics: posed joints (B, J, 3) and skinning transforms (B, J, 3, 4)."""
        world_rot = [rotations[:, 0]]
        world_pos = [joints[:, 0]]
        for j in range(1, self.n_joints):
            p = self.parents[j]
            offset = joints[:, j] - joints[:, p]
            world_pos.append(world_pos[p] + torch.einsum("brc,bc->br", world_rot[p], offset))
            world_rot.append(world_rot[p] @ rotations[:, j])
        rot = torch.stack(world_rot, dim=1)
        pos = torch.stack(world_pos, dim=1)
        # A rest-pose point x maps to rot @ (x - rest_joint) + posed_joint.
        trans = pos - torch.einsum("bjrc,bjc->bjr", rot, joints)
        return pos, torch.cat([rot, trans[..., None]], dim=-1)

    def landmarks(self, vertices: torch.Tensor) -> torch.Tensor:
        """Landmarks (B, L, 3) by barycentric interpolation of ``vertices`` (B, V, 3)."""
        corners = vertices[:, self.faces[self.lmk_faces]]  # (B, L, 3, 3)
        return torch.einsum("blkc,lk->blc", corners, self.lmk_bary)
