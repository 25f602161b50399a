"""The FLAME-format stand-in: loads through the real loader; frame, units, landmarks, parts."""

from __future__ import annotations

import numpy as np

from flame.ict import load_ict, standin_vertex_ids


def test_standin_has_flame_columns_and_counts(standin_model):
    assert standin_model.shapedirs.shape[2] == 300 and standin_model.exprdirs.shape[2] == 100
    assert standin_model.shape_used == 50 and 0 < standin_model.expr_used <= 100
    assert standin_model.n_joints == 5 and list(standin_model.parents) == [-1, 0, 1, 1, 1]
    assert standin_model.posedirs.shape == (standin_model.n_vertices, 3, 36)
    assert standin_model.vt.min() >= 0 and standin_model.vt.max() <= 1
    np.testing.assert_allclose(standin_model.weights.sum(axis=1), 1.0, atol=1e-12)


def test_landmarks_match_ict_landmark_vertices(standin_model):
    ict = load_ict()
    ids = standin_vertex_ids(ict)
    corners = standin_model.v_template[standin_model.faces[standin_model.lmk_faces]]
    landmarks = np.einsum("lkc,lk->lc", corners, standin_model.lmk_bary)
    np.testing.assert_allclose(landmarks, ict.vertices[ict.landmarks68], atol=1e-9)
    np.testing.assert_allclose(standin_model.v_template, ict.vertices[ids], atol=1e-12)


def test_frame_and_units(standin_model):
    v = standin_model.v_template
    face = v[standin_model.masks["face"]]
    nose_tip = face[np.argmax(face[:, 2])]
    assert abs(nose_tip[0]) < 0.005 and np.argmax(face[:, 2]) == np.argmax(face[:, 2])
    lmk = np.einsum("lkc,lk->lc", v[standin_model.faces[standin_model.lmk_faces]],
                    standin_model.lmk_bary)
    np.testing.assert_allclose(nose_tip, lmk[30], atol=0.01)  # nose tip landmark is forward-most
    height = v[:, 1].max() - v[:, 1].min()
    assert 0.15 < height < 0.45  # metres: head and neck
    head_height = v[:, 1].max() - lmk[8, 1]  # crown to chin
    assert 0.17 < head_height < 0.26
    # x points to the subject's left: the left eye (landmarks 42-47) has larger x.
    assert lmk[42:48, 0].mean() > 0 > lmk[36:42, 0].mean()
    left_eye = v[standin_model.masks["left_eyeball"]].mean(axis=0)
    assert left_eye[0] > 0


def test_jaw_weights_fall_off_over_the_chin_and_eyes_are_rigid(standin_model):
    w = standin_model.weights
    lmk_vertex = standin_model.faces[standin_model.lmk_faces, np.argmax(standin_model.lmk_bary, 1)]
    assert w[lmk_vertex[8], 2] > 0.95  # chin follows the jaw
    assert w[lmk_vertex[30], 2] < 1e-6  # nose tip does not
    assert w[lmk_vertex[51], 2] < 0.05  # upper lip stays
    jaw = w[:, 2]
    assert ((jaw > 0.05) & (jaw < 0.95)).sum() > 100  # a smooth falloff, not a hard cut
    for name, joint in (("left_eyeball", 3), ("right_eyeball", 4)):
        np.testing.assert_array_equal(w[standin_model.masks[name], joint], 1.0)


def test_vertex_uv_is_one_of_each_vertex_corner_uvs(standin_model):
    uv = standin_model.vertex_uv()
    assert uv.shape == (standin_model.n_vertices, 2)
    f, c = 123, 1
    vertex, corner_uvs = standin_model.faces[f, c], []
    rows, cols = np.nonzero(standin_model.faces == vertex)
    corner_uvs = standin_model.vt[standin_model.ft[rows, cols]]
    assert np.any(np.all(np.isclose(corner_uvs, uv[vertex]), axis=1))
