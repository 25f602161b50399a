"""The build's settings as Luigi config sections, so each comes from a config file or the CLI.

Section ``[build]`` sets class ``build`` below, and so on; the same key can be given on the
command line as ``--build-out-dir DIR`` (Luigi's ``--<section>-<key>``). ``configs/default.cfg``
is read unless ``LUIGI_CONFIG_PATH`` names another file (``configs/full.cfg``).
:func:`validate` stops a build before any work on an unknown section or key, or a value of
the wrong type, naming the file, section and key.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import inspect
import json
from pathlib import Path

import luigi
import luigi.configuration

from fitting.settings import EvalSettings, FitSettings
from network.config import ModelConfig, TrainConfig
from registration.scan_budget import ScanBudget
from registration.settings import RegistrationSettings
from rendering.camera import ViewSampling
from rendering.level_of_detail import DetailSettings
from synthetic import write_synthetic

DATASETS = ("nphm", "facescape", "ava256")


def stage_default(owner: type | object, name: str) -> object:
    """The default a stage package gives a setting: a dataclass field's, or a function
    parameter's. Every setting that mirrors a stage's takes its default from there, so it is
    written once; a ``.cfg`` file holds only what it changes."""
    if dataclasses.is_dataclass(owner):
        value = {f.name: f for f in dataclasses.fields(owner)}[name].default
    else:
        value = inspect.signature(owner).parameters[name].default
    if value is dataclasses.MISSING or value is inspect.Parameter.empty:
        raise ValueError(f"{owner.__name__}.{name} has no default")
    return value


class build(luigi.Config):  # noqa: N801  (section name)
    out_dir = luigi.Parameter(default="build", description="output directory of the build")
    datasets = luigi.ListParameter(default=list(DATASETS), description="data sets to build")
    seed = luigi.IntParameter(default=0, description="global seed of every random choice")
    dask_scheduler = luigi.Parameter(
        default="", description="tcp://host:port of a Dask scheduler; empty: a LocalCluster")
    local_workers = luigi.IntParameter(default=2, description="LocalCluster worker processes")
    gpu_render_workers = luigi.BoolParameter(
        default=False, description="render tasks ask for the Dask resource GPU=1: only workers "
        "started with --resources GPU=1 (one per GPU) take them")


class model(luigi.Config):  # noqa: N801
    flame_path = luigi.Parameter(
        default="", description="a FLAME model pickle (generic_model.pkl / flame2023.pkl) with "
        "head_template.obj, landmark_embedding.npy, FLAME_masks.pkl beside it; empty: stand-in")
    ict_path = luigi.Parameter(default="", description="ict_facekit_light.npz for the stand-in")


class data(luigi.Config):  # noqa: N801
    nphm_root = luigi.Parameter(default="", description="NPHM root; empty: synthetic")
    facescape_root = luigi.Parameter(default="", description="FaceScape TU models root")
    facescape_mv_root = luigi.Parameter(default="", description="FaceScape multi-view root")
    facescape_landmarks = luigi.Parameter(
        default="", description="FaceScape toolkit landmark_indices.npz")
    facescape_rt_scale = luigi.Parameter(
        default="", description="FaceScape toolkit Rt_scale_dict.json")
    facescape_toolkit = luigi.Parameter(
        default="", description="FaceScape toolkit (a clone of zhuhao-nju/facescape or its "
        "toolkit/ folder): predef/ is searched for the two files above when they are empty")
    ava256_root = luigi.Parameter(default="", description="Ava256 root; empty: synthetic")
    ava256_face_topology = luigi.Parameter(default="", description="Ava256 face_topology.obj")
    ava256_frames_per_segment = luigi.IntParameter(default=1)
    synthetic_subjects = luigi.IntParameter(default=stage_default(write_synthetic, "subjects"))
    synthetic_expressions = luigi.IntParameter(
        default=stage_default(write_synthetic, "expressions"))
    synthetic_scan_vertices = luigi.IntParameter(
        default=stage_default(write_synthetic, "scan_vertices"))
    synthetic_texture_tile = luigi.IntParameter(
        default=256, description="synthetic NPHM and FaceScape texture height in pixels (the "
        "atlas is 5 tiles wide; 1832: a 4K texture's pixel count, as FaceScape's TU models)")
    synthetic_photo_width = luigi.IntParameter(
        default=stage_default(write_synthetic, "photo_size")[0],
        description="synthetic FaceScape photo width (4344 as released)")
    synthetic_photo_height = luigi.IntParameter(
        default=stage_default(write_synthetic, "photo_size")[1],
        description="synthetic FaceScape photo height (2896 as released)")
    nphm_scan_faces = luigi.IntParameter(
        default=stage_default(write_synthetic, "nphm_scan_faces"),
        description="synthetic NPHM scans subdivided to at least this many faces "
        "(release density: 3500000, as NPHM's ~3.5M); 0: as synthetic_scan_vertices gives")


class registration(luigi.Config):  # noqa: N801
    fit_points = luigi.IntParameter(default=stage_default(RegistrationSettings, "fit_points"),
                                    description="model vertices the fit matches")
    icp_points = luigi.IntParameter(default=stage_default(RegistrationSettings, "icp_points"),
                                    description="vertices of the rigid start")
    laplacian_weight = luigi.FloatParameter(
        default=stage_default(RegistrationSettings, "laplacian_weight"),
        description="smoothness of the non-rigid refinement")
    scan_max_points = luigi.IntParameter(
        default=stage_default(ScanBudget, "max_points"), description="scans with more vertices "
        "are registered on a random triangle sample of about this many "
        "(registration/scan_budget.py); 0: never")
    scan_max_file_mb = luigi.FloatParameter(
        default=stage_default(ScanBudget, "max_file_mb"), description="scans whose mesh file "
        "is larger are quarantined unread (the worker's memory budget); 0: no limit")


class render(luigi.Config):  # noqa: N801
    resolution = luigi.IntParameter(default=stage_default(ViewSampling, "width"),
                                    description="rendered images are resolution x resolution")
    views_per_scan = luigi.IntParameter(default=8)
    photo_views_per_scan = luigi.IntParameter(
        default=2, description="calibrated photos used per scan where the data set has them")
    samples_per_shard = luigi.IntParameter(default=64)
    yaw_deg = luigi.FloatParameter(default=stage_default(ViewSampling, "yaw_deg")[1],
                                   description="sampled yaw in +-yaw_deg")
    pitch_deg = luigi.FloatParameter(default=stage_default(ViewSampling, "pitch_deg")[1],
                                     description="sampled pitch in +-pitch_deg")
    roll_deg = luigi.FloatParameter(default=stage_default(ViewSampling, "roll_deg")[1],
                                    description="sampled roll in +-roll_deg")
    scan_pixels_per_edge = luigi.FloatParameter(
        default=stage_default(DetailSettings, "pixels_per_edge"), description="scan pass level "
        "of detail: dense scans decimated to about one triangle edge per this many pixels at "
        "the closest views (rendering/level_of_detail.py); 0: always the full scan")
    scan_min_faces = luigi.IntParameter(
        default=stage_default(DetailSettings, "min_faces"), description="scans are never "
        "decimated below this many faces (those with fewer than twice as many are drawn as "
        "they are, unread by the level-of-detail stage)")


class train(luigi.Config):  # noqa: N801
    backbone = luigi.Parameter(default=stage_default(ModelConfig, "backbone"),
                               description="tiny | vits14 | vitb14")
    dino_checkpoint = luigi.Parameter(
        default="", description="local Dinov2Model folder; empty: random init (said loudly)")
    resolution = luigi.IntParameter(default=stage_default(ModelConfig, "resolution"),
                                    description="network input size in pixels")
    batch_size = luigi.IntParameter(default=stage_default(TrainConfig, "batch_size"))
    steps = luigi.IntParameter(default=stage_default(TrainConfig, "steps"))
    device = luigi.Parameter(default="cpu", description="cpu | cuda")
    holdout_fraction = luigi.FloatParameter(
        default=stage_default(TrainConfig, "val_fraction"),
        description="fraction of subjects held out for the evaluation")


class fit(luigi.Config):  # noqa: N801
    images = luigi.IntParameter(default=stage_default(EvalSettings, "max_images"),
                                description="held-out test images to reconstruct")
    iterations = luigi.IntParameter(default=stage_default(FitSettings, "full_steps"),
                                    description="optimiser steps of the full fit stage")


SECTIONS: dict[str, type[luigi.Config]] = {
    cls.__name__: cls for cls in (build, model, data, registration, render, train, fit)
}
LUIGI_SECTIONS = {"core", "worker", "scheduler", "retcode", "email", "smtp", "logging",
                  "resources", "task_history", "execution_summary", "batch_notifier", "hdfs",
                  "DEFAULT"}


class ConfigError(ValueError):
    """An unknown section or key, or a value of the wrong type, in the build's config."""


def config_files() -> list[str]:
    """The config files Luigi has read, in order."""
    parser = luigi.configuration.get_config()
    return [p for p in parser._config_paths if Path(p).is_file()]


def _where(section: str, key: str | None = None) -> str:
    files = ", ".join(config_files()) or "(no config file)"
    return f"[{section}]" + (f" {key}" if key else "") + f" in {files}"


def validate(task_names: set[str] | None = None) -> None:
    """Check every section and key of the loaded config; raise :class:`ConfigError` naming it."""
    parser = luigi.configuration.get_config()
    known_tasks = task_names or set()
    for section in parser.sections():
        if section in LUIGI_SECTIONS or (section in known_tasks and section not in SECTIONS):
            continue
        if section not in SECTIONS:
            close = difflib.get_close_matches(section, list(SECTIONS) + sorted(known_tasks), 1)
            hint = f"; did you mean [{close[0]}]?" if close else ""
            raise ConfigError(f"unknown section {_where(section)}{hint}")
        params = dict(SECTIONS[section].get_params())
        for key, raw in parser.items(section):
            name = key.replace("-", "_")
            if name not in params:
                close = difflib.get_close_matches(name, list(params), 1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise ConfigError(f"unknown key {_where(section, key)}{hint}")
            try:
                params[name].parse(raw)
            except (ValueError, TypeError, json.JSONDecodeError) as exc:
                raise ConfigError(
                    f"bad value {raw!r} for {_where(section, key)}: {exc}") from exc


def section_values(section: type[luigi.Config]) -> dict:
    """The resolved values of one section (file and command line), JSON-ready."""
    instance = section()
    return {name: _plain(getattr(instance, name)) for name, _ in section.get_params()}


def _plain(value: object) -> object:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def config_hash(*parts: object) -> str:
    """A short stable hash (16 hex) of JSON-able parts: the key of a keyed output."""
    payload = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()[:16]
