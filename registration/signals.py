"""The correspondence signals a data set ships for free, checked per scan before use.

- ``landmarks``: the scan's 68 landmarks (FaceScape's ``landmark_indices.npz`` on the TU
  mesh, Ava256's 3D keypoints); refused when they fit the model's landmark layout badly
  (a file for another topology picks unrelated vertices).
- ``flame_ply``: NPHM's per-scan FLAME fit (``flame.ply``, in the model's topology; read by
  :mod:`scans.nphm` as ``init_verts_m``), a correspondence prior, not the answer: refused
  when its vertex count is not the model's, or its face lies far from the scan (a fit of
  another subject, another frame).
- ``topology_map``: a :class:`registration.topology_map.TopologyMap` of the data set's
  shared topology; refused for a scan whose vertex count or triangles differ.

A refused signal is dropped with its reason and the scan registers without it (the path of
the registration before these signals, when none is left); so is a prior whose registration
fails (a diverged or implausible fit): the scan is registered again without it.
:func:`register_with_signals` returns the registration and a record of the path, the signals
used and those refused.
"""

from __future__ import annotations

import numpy as np

from registration.errors import RegistrationError
from registration.register import CorrespondencePrior, PreparedModel, Registration, register_scan
from registration.rigid import umeyama
from registration.scan_surface import ScanSurface
from registration.settings import RegistrationSettings
from registration.topology_map import TopologyMap, topology_signature

SIGNALS = ("landmarks", "flame_ply", "topology_map")


def check_landmarks(landmarks_m: np.ndarray, prepared: PreparedModel,
                    settings: RegistrationSettings) -> str | None:
    """Why the landmarks (L, 3) cannot be used, or None."""
    template = prepared.template_landmarks_m
    if template is None:
        return "the model has no landmark embedding"
    if landmarks_m.shape != template.shape:
        return f"{len(landmarks_m)} landmarks, the model has {len(template)}"
    aligned = umeyama(template, landmarks_m).apply(template)
    rms = float(np.sqrt(((aligned - landmarks_m) ** 2).sum(axis=1).mean()))
    if rms > settings.max_landmark_rms_m:
        return (f"the landmarks do not fit the model's layout ({rms * 1000:.1f} mm RMS after "
                f"a similarity, limit {settings.max_landmark_rms_m * 1000:.0f} mm): a file for "
                "another topology or order?")
    return None


def check_flame_fit(fit_verts_m: np.ndarray, prepared: PreparedModel, surface: ScanSurface,
                    settings: RegistrationSettings) -> str | None:
    """Why a shipped FLAME fit (V, 3) cannot be a prior for this scan, or None."""
    n_model = prepared.model.n_vertices
    if fit_verts_m.shape != (n_model, 3):
        return f"it has {len(fit_verts_m)} vertices, the model {n_model}"
    if not np.isfinite(fit_verts_m).all():
        return "it holds NaN or infinite coordinates"
    cap = 5 * settings.prior_max_distance_m
    dist = np.minimum(surface.nearest(fit_verts_m[prepared.face_ids], cap)[0], cap)
    mean = float(dist.mean())
    if mean > settings.prior_max_distance_m:
        return (f"its face lies {mean * 1000:.1f} mm (mean) from the scan (limit "
                f"{settings.prior_max_distance_m * 1000:.1f} mm): another subject or frame?")
    return None


def check_topology(verts_m: np.ndarray, faces: np.ndarray | None,
                   topology_map: TopologyMap) -> str | None:
    """Why the map does not apply to this scan's mesh, or None."""
    if faces is None:
        return "the scan is a point cloud, the map is for a mesh topology"
    if topology_signature(len(verts_m), faces) != topology_map.signature:
        return (f"the scan's mesh ({len(verts_m)} vertices, {len(faces)} triangles) is not "
                "the data set's shared topology (vertex count or triangles differ)")
    return None


def register_with_signals(prepared: PreparedModel, verts_m: np.ndarray,
                          faces: np.ndarray | None, settings: RegistrationSettings,
                          landmarks_m: np.ndarray | None = None,
                          flame_fit_m: np.ndarray | None = None,
                          topology_map: TopologyMap | None = None,
                          use: tuple[str, ...] = SIGNALS) -> tuple[Registration, dict]:
    """Register a scan with every signal it has that passes its check.

    Parameters
    ----------
    landmarks_m : (68, 3) scan landmarks or None; flame_fit_m : (V, 3) a shipped FLAME fit in
        the scan's frame or None; topology_map : the data set's shared-topology map or None
    use : the signals allowed (the others are ignored, as if absent)

    Returns
    -------
    the registration, and ``{"path", "signals", "refused"}``: path "geometry" or
    "geometry+<signal>+..."; signals used; refused: signal -> reason
    """
    refused: dict[str, str] = {}
    used: list[str] = []
    if landmarks_m is not None and "landmarks" in use:
        reason = check_landmarks(np.asarray(landmarks_m, float), prepared, settings)
        if reason:
            refused["landmarks"] = reason
            landmarks_m = None
        else:
            used.append("landmarks")
    else:
        landmarks_m = None
    prior = None
    if topology_map is not None and "topology_map" in use:
        reason = check_topology(verts_m, faces, topology_map)
        if reason:
            refused["topology_map"] = reason
        else:
            prior = CorrespondencePrior("topology_map", topology_map.vertex_ids,
                                        topology_map.apply(np.asarray(verts_m, float), faces))
            used.append("topology_map")
    if prior is None and flame_fit_m is not None and "flame_ply" in use:
        fit = np.asarray(flame_fit_m, float)
        reason = check_flame_fit(fit, prepared, ScanSurface(np.asarray(verts_m, float)),
                                 settings)
        if reason:
            refused["flame_ply"] = reason
        else:
            prior = CorrespondencePrior("flame_ply", np.arange(len(fit)), fit)
            used.append("flame_ply")
    try:
        registration = register_scan(prepared, verts_m, faces, landmarks_m, settings, prior)
    except RegistrationError as exc:
        if prior is None:
            raise
        refused[prior.name] = f"the registration with it failed ({exc}); registered without"
        used.remove(prior.name)
        registration = register_scan(prepared, verts_m, faces, landmarks_m, settings)
    record = {"path": "+".join(["geometry", *used]), "signals": used, "refused": refused}
    registration.metrics["signals"] = record
    return registration, record


def signal_summary(statuses: list[dict]) -> dict:
    """Per data set: scans per registration path, per signal used, per signal refused (with
    the scan ids and reasons of the refusals)."""
    paths: dict[str, int] = {}
    used: dict[str, int] = {}
    refused: dict[str, list[dict]] = {}
    for status in statuses:
        record = status.get("signals", {})
        path = record.get("path", "geometry")
        paths[path] = paths.get(path, 0) + 1
        for name in record.get("signals", []):
            used[name] = used.get(name, 0) + 1
        for name, reason in record.get("refused", {}).items():
            refused.setdefault(name, []).append({"scan_id": status.get("scan_id"),
                                                 "reason": reason})
    return {"paths": paths, "used": used, "refused": refused}


__all__ = ["SIGNALS", "RegistrationError", "check_flame_fit", "check_landmarks",
           "check_topology", "register_with_signals", "signal_summary"]
