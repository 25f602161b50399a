"""Loss curves: rows of (step, learning rate, losses) as CSV and as a PNG plot."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from atomicfile import write_atomic  # noqa: E402

CURVE_COLUMNS = ("step", "lr_head", "loss", "loss_normal", "loss_uv", "val_loss")


def write_curves_csv(path: Path, rows: list[dict[str, float | None]]) -> None:
    """Write ``rows`` (dicts with CURVE_COLUMNS; val_loss may be None) as CSV atomically."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=CURVE_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({name: "" if row.get(name) is None else row[name]
                         for name in CURVE_COLUMNS})
    write_atomic(path, lambda tmp: tmp.write_text(text.getvalue()))


def plot_curves(path: Path, rows: list[dict[str, float | None]]) -> None:
    """Draw training loss (and held-out loss where measured) against step, log scale."""
    figure, axis = plt.subplots(figsize=(6, 3.5), dpi=100)
    steps = [row["step"] for row in rows]
    axis.plot(steps, [row["loss"] for row in rows], label="train loss", linewidth=1)
    val = [(row["step"], row["val_loss"]) for row in rows if row.get("val_loss") is not None]
    if val:
        axis.plot(*zip(*val, strict=True), "o-", label="held-out loss", markersize=3)
    axis.set_xlabel("step")
    axis.set_ylabel("0.1 L1(normal) + 10 L1(uv)")
    axis.set_yscale("log")
    axis.grid(True, alpha=0.3)
    axis.legend()
    figure.tight_layout()
    write_atomic(path, lambda tmp: figure.savefig(tmp, format="png"))
    plt.close(figure)
