"""Registration of face scans to FLAME topology: rigid placement, model fit, non-rigid
refinement, quality figures. A library: the pipeline calls :func:`register_scan` per scan.

    prepared = prepare_model(load_model(path))
    reg = register_scan(prepared, scan.verts_m, scan.faces, scan.landmarks_m)
    write_registration(out / scan_id, reg, model.faces,
                       vertex_distances_mm(reg.verts_m, scan.verts_m))

The free correspondence signals (landmarks, NPHM's ``flame.ply``, a shared-topology map)
are checked and used per scan by :func:`registration.signals.register_with_signals`.
"""

from registration.errors import RegistrationError
from registration.metrics import scan_distances, truth_error, truth_surface_error
from registration.outputs import (
    summarise,
    vertex_distances_mm,
    write_dataset_summary,
    write_registration,
)
from registration.register import PreparedModel, Registration, prepare_model, register_scan
from registration.settings import FitStage, RegistrationSettings

__all__ = [
    "FitStage",
    "PreparedModel",
    "Registration",
    "RegistrationError",
    "RegistrationSettings",
    "prepare_model",
    "register_scan",
    "scan_distances",
    "summarise",
    "truth_error",
    "truth_surface_error",
    "vertex_distances_mm",
    "write_dataset_summary",
    "write_registration",
]
