"""error.png: per-vertex distance to the scan as a heat-map on a front and a side view."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.tri import Triangulation  # noqa: E402


def _view(ax: plt.Axes, verts_model: np.ndarray, faces: np.ndarray, values_mm: np.ndarray,
          axes: tuple[int, int], depth_axis: int, vmax: float, title: str):
    """Painter's-order flat-shaded triangles of one orthographic view; returns the artist."""
    depth = verts_model[faces, depth_axis].mean(axis=1)
    order = np.argsort(depth)
    tri = Triangulation(verts_model[:, axes[0]], verts_model[:, axes[1]], faces[order])
    cmap = plt.get_cmap("inferno").with_extremes(bad="lightgrey")
    artist = ax.tripcolor(tri, facecolors=values_mm[faces[order]].mean(axis=1), cmap=cmap,
                          vmin=0.0, vmax=vmax, edgecolors="none")
    ax.set_aspect("equal")
    ax.set_title(title)
    ax.axis("off")
    return artist


def write_error_png(path: str | Path, verts_model: np.ndarray, faces: np.ndarray,
                    distance_mm: np.ndarray, vmax_mm: float = 3.0) -> None:
    """Write the heat-map (PNG) of per-vertex distances.

    Parameters
    ----------
    path : output file (written as given; callers write to a temporary name and rename)
    verts_model : (V, 3) registered mesh in the model frame (x left, y up, z forward)
    faces : (F, 3) triangles to draw (e.g. without eyeballs)
    distance_mm : (V,) distance of each vertex to the scan, millimetres (NaN: no scan near,
        drawn grey)
    vmax_mm : top of the colour scale
    """
    values = np.asarray(distance_mm, dtype=np.float64)
    fig, (front, side) = plt.subplots(1, 2, figsize=(8, 4.6), dpi=80)
    _view(front, verts_model, faces, values, (0, 1), 2, vmax_mm, "front")
    artist = _view(side, verts_model * np.array([-1, 1, 1]), faces, values, (2, 1), 0,
                   vmax_mm, "side")
    bar = fig.colorbar(artist, ax=[front, side], shrink=0.8)
    bar.set_label("distance to scan (mm); grey: no scan within 10 mm")
    fig.savefig(path, format="png")
    plt.close(fig)
