"""FLAME evaluated on a vertex subset in numpy, with its Jacobians, for Gauss-Newton fitting.

For a fixed pose, FLAME's posed vertices are affine in the identity/expression coefficients
(joints are a linear regression of the shaped rest mesh, and skinning is linear in both), so
the coefficient Jacobian is exact and cheap: per vertex the blended rotation times the
blendshapes, plus the joints' translation change carried through the kinematic chain.
The pose Jacobian is taken by central differences. ``flame.FLAME`` stays the reference:
the tests check that :meth:`LinearisedFlame.vertices` matches it.
"""

from __future__ import annotations

import numpy as np

from flame import FlameModel
from geometry import axis_angle_to_matrix


class LinearisedFlame:
    """FLAME's forward pass restricted to chosen vertices, with Jacobians.

    Parameters
    ----------
    model : FlameModel
    n_shape, n_expr : int
        Number of identity / expression coefficients fitted (the leading columns).
    """

    def __init__(self, model: FlameModel, n_shape: int, n_expr: int) -> None:
        self.model = model
        self.n_shape, self.n_expr = n_shape, n_expr
        self.basis = np.concatenate(
            [model.shapedirs[:, :, :n_shape], model.exprdirs[:, :, :n_expr]], axis=2
        )  # (V, 3, K)
        self.joint_rest = model.j_regressor @ model.v_template  # (J, 3)
        self.joint_basis = np.einsum("jv,vck->jck", model.j_regressor, self.basis)  # (J, 3, K)
        self.parents = model.parents
        self.has_posedirs = bool(np.any(model.posedirs))

    @property
    def n_coeffs(self) -> int:
        return self.n_shape + self.n_expr

    def _chain(self, pose: np.ndarray) -> np.ndarray:
        """World rotations (J, 3, 3) of the joints for pose (J, 3) axis-angle."""
        local = axis_angle_to_matrix(pose)
        world = np.empty_like(local)
        for j, parent in enumerate(self.parents):
            world[j] = local[j] if parent < 0 else world[parent] @ local[j]
        return world

    def _translations(self, world: np.ndarray, joints: np.ndarray) -> np.ndarray:
        """Skinning translations (J, 3, ...) for rest joints (J, 3, ...); linear in ``joints``."""
        posed = np.empty_like(joints)
        for j, parent in enumerate(self.parents):
            if parent < 0:
                posed[j] = joints[j]
            else:
                posed[j] = posed[parent] + np.tensordot(world[parent],
                                                        joints[j] - joints[parent], axes=1)
        return posed - np.einsum("jrc,jc...->jr...", world, joints)

    def vertices(self, coeffs: np.ndarray, pose: np.ndarray,
                 idx: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Posed vertices (n, 3) metres, model frame, for coeffs (K,) and pose (J, 3)."""
        shaped = self.model.v_template[idx] + self.basis[idx] @ coeffs
        joints = self.joint_rest + self.joint_basis @ coeffs
        return self._pose_shaped(shaped, joints, pose, idx)

    def _pose_shaped(self, shaped: np.ndarray, joints: np.ndarray, pose: np.ndarray,
                     idx: np.ndarray | slice) -> np.ndarray:
        """Pose corrective plus skinning of shaped rest vertices (n, 3) with rest joints (J, 3)."""
        if self.has_posedirs:
            feature = (axis_angle_to_matrix(pose[1:]) - np.eye(3)).reshape(-1)
            shaped = shaped + self.model.posedirs[idx] @ feature
        world = self._chain(pose)
        trans = self._translations(world, joints)
        weights = self.model.weights[idx]
        blended = np.einsum("vj,jrc->vrc", weights, world)
        return np.matmul(blended, shaped[:, :, None])[:, :, 0] + weights @ trans

    def coeff_jacobian(self, pose: np.ndarray, idx: np.ndarray | slice) -> np.ndarray:
        """d vertices / d coeffs: (n, 3, K), exact (vertices are affine in coeffs)."""
        world = self._chain(pose)
        weights = self.model.weights[idx]
        blended = np.einsum("vj,jrc->vrc", weights, world)
        jac = np.matmul(blended, self.basis[idx])
        trans = self._translations(world, self.joint_basis)  # (J, 3, K)
        return jac + np.einsum("vj,jrk->vrk", weights, trans)

    def pose_jacobian(self, coeffs: np.ndarray, pose: np.ndarray, joints: list[int],
                      idx: np.ndarray | slice, step: float = 1e-4) -> np.ndarray:
        """d vertices / d pose of the listed joints: (n, 3, 3 * len(joints)), by central
        differences."""
        shaped = self.model.v_template[idx] + self.basis[idx] @ coeffs
        rest_joints = self.joint_rest + self.joint_basis @ coeffs
        columns = []
        for j in joints:
            for axis in range(3):
                plus, minus = pose.copy(), pose.copy()
                plus[j, axis] += step
                minus[j, axis] -= step
                columns.append((self._pose_shaped(shaped, rest_joints, plus, idx)
                                - self._pose_shaped(shaped, rest_joints, minus, idx))
                               / (2 * step))
        return np.stack(columns, axis=-1)
