"""The releases as users download them: Ava256 capture folders in both name forms and its
per-frame uv textures (with their fallbacks), and FaceScape's toolkit files found where the
toolkit ships them; each data set's optional-files statement."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scans_support import tiny_set
from scipy import ndimage

from rendering import Camera, Renderer, Surface, look_at_w2c
from rendering.geometry import Light
from reporting.sections import optional_file_lines
from scans import ScanError, list_scans, load_scan
from scans.cli import check_records
from scans.datasets import optional_files

DOWNLOAD_FORM = re.compile(r"^\d+--\d+--[^-]+$")  # ava-256 MugsyCapture.folder_name()
GHS_FORM = re.compile(r"^m--\d+--\d+--[^-]+--GHS$")  # ava-256 DATASHEET.md


def _copy(raw: Path, options: dict, to: Path) -> tuple[Path, dict]:
    shutil.copytree(raw, to)
    return to, {k: (v.replace(str(raw), str(to)) if isinstance(v, str) else v)
                for k, v in options.items()}


def _captures(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and (root / p / "decoder").is_dir())


def _truth_texture(truth_root: Path, scan_id: str) -> np.ndarray:
    with np.load(truth_root / scan_id / "truth.npz") as truth:
        return truth["uv_texture"]


def _rewrite_zip(path: Path, drop: str | None = None, replace: dict | None = None) -> None:
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist() if n != drop}
    members.update(replace or {})
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


# ---- Ava256 capture folders --------------------------------------------------------------

def test_ava256_synthetic_default_is_the_download_py_form_and_both_forms_read_alike(
        tmp_path_factory):
    raw, _, options = tiny_set(tmp_path_factory, "ava256")
    ghs, _, ghs_options = tiny_set(tmp_path_factory, "ava256", ava256_folder_form="ghs")
    assert [DOWNLOAD_FORM.match(p.name) is not None for p in _captures(raw)] == [True]
    assert [GHS_FORM.match(p.name) is not None for p in _captures(ghs)] == [True]
    records = list_scans("ava256", raw, **options)
    ghs_records = list_scans("ava256", ghs, **ghs_options)
    assert len(records) == len(ghs_records) == 2
    for record, other in zip(records, ghs_records, strict=True):
        assert (record.subject, record.expression, record.options["frame"]) == \
            (other.subject, other.expression, other.options["frame"])
        assert record.scan_id.startswith(_captures(raw)[0].name)
        np.testing.assert_array_equal(load_scan(record).verts_m, load_scan(other).verts_m)


def test_ava256_tree_with_both_forms_loses_no_capture(tmp_path_factory, tmp_path):
    raw, _, options = tiny_set(tmp_path_factory, "ava256")
    ghs, _, _ = tiny_set(tmp_path_factory, "ava256", ava256_folder_form="ghs")
    root, options = _copy(raw, options, tmp_path / "mixed")
    # another capture (another date) of the same subject, in the DATASHEET form
    shutil.copytree(_captures(ghs)[0], root / "m--20240716--0930--SYN001--GHS")
    records = list_scans("ava256", root, **options)
    folders = sorted({r.scan_id.rsplit("--", 1)[0] for r in records})
    assert folders == sorted([_captures(raw)[0].name, "m--20240716--0930--SYN001--GHS"])
    assert len(records) == 4


def test_ava256_same_capture_in_both_forms_is_an_error_naming_both(tmp_path_factory,
                                                                     tmp_path):
    raw, _, options = tiny_set(tmp_path_factory, "ava256")
    root, options = _copy(raw, options, tmp_path / "twice")
    mcd, mct, sid = _captures(root)[0].name.split("--")
    shutil.copytree(_captures(root)[0], root / f"m--{mcd}--{mct}--{sid}--GHS")
    with pytest.raises(ScanError) as info:
        list_scans("ava256", root, **options)
    assert f"m--{mcd}--{mct}--{sid}--GHS" in str(info.value)
    assert f"{mcd}--{mct}--{sid}" in info.value.problem


def test_ava256_root_without_captures_names_the_layouts_it_looked_for(tmp_path):
    (tmp_path / "ava" / "captures_here").mkdir(parents=True)
    with pytest.raises(ScanError) as info:
        list_scans("ava256", tmp_path / "ava")
    assert "<mcd>--<mct>--<sid> (ava-256 download.py)" in info.value.problem
    assert "m--<mcd>--<mct>--<sid>--GHS (ava-256 DATASHEET.md)" in info.value.problem


# ---- Ava256 uv textures ------------------------------------------------------------------

def test_ava256_each_frame_reads_its_own_uv_texture_upright(tmp_path_factory):
    raw, truth_root, options = tiny_set(tmp_path_factory, "ava256")
    records = list_scans("ava256", raw, **options)
    truths = [_truth_texture(truth_root, r.scan_id).astype(np.float64) for r in records]
    for i, record in enumerate(records):
        scan = load_scan(record)
        assert record.options["texture"] == "frame" and scan.texture_reason == ""
        assert scan.texture_source.endswith(f"color.zip::color/{record.options['frame']:06d}.avif")
        own = np.abs(scan.texture - truths[i]).mean()
        other = np.abs(scan.texture - truths[1 - i]).mean()
        flipped = np.abs(scan.texture[::-1] - truths[i]).mean()
        assert own < 2.5, own  # AVIF coding only
        assert other > 2 * own and flipped > 5 * own, (own, other, flipped)


def _ambient_view(scan, renderer: Renderer) -> Camera:
    """A close view (texture magnified: the check is where colour lands, not filtering)."""
    target = scan.verts_m.mean(axis=0)
    K = np.array([[800.0, 0, 127.5], [0, 800.0, 127.5], [0, 0, 1]])
    return Camera(K, look_at_w2c(target + [0.05, 0.02, 0.6], target), renderer.width,
                  renderer.height)


def _colour_error(renderer: Renderer, scan, surface: Surface, texture_true: np.ndarray,
                  camera: Camera) -> float:
    """Mean |rendered rgb - true texture colour| (levels) inside the mesh, ambient light."""
    light = Light(direction_model=np.array([0.0, 0.0, 1.0]), ambient=1.0, diffuse=0.0)
    rgb = renderer.render_surface(surface.verts_m, surface.faces, camera, surface.vertex_colors,
                                  light, surface.texture, surface.uv_corners)["rgb"]
    face_id, bary, _ = renderer.rasterize(scan.verts_m, scan.faces, camera)
    inside = ndimage.binary_erosion(face_id >= 0, iterations=2)
    uv = np.einsum("nc,ncd->nd", bary[inside], scan.uv_corners[face_id[inside]])
    size = texture_true.shape[0]
    rows, cols = (1 - uv[:, 1]) * size - 0.5, uv[:, 0] * size - 0.5  # texel centres
    truth = np.stack([ndimage.map_coordinates(texture_true[..., c].astype(float), [rows, cols],
                                              order=1, mode="nearest") for c in range(3)], 1)
    return float(np.abs(rgb[inside] - truth).mean())


def test_ava256_sampled_view_is_coloured_by_the_texture_where_the_surface_is(
        tmp_path_factory):
    raw, truth_root, options = tiny_set(tmp_path_factory, "ava256")
    record = list_scans("ava256", raw, **options)[0]
    scan = load_scan(record)
    texture_true = _truth_texture(truth_root, record.scan_id)
    renderer = Renderer(256, 256)
    try:
        camera = _ambient_view(scan, renderer)
        textured = Surface(scan.verts_m, scan.faces, scan.vertex_colors, scan.texture,
                           scan.uv_corners)
        flipped_uv = scan.uv_corners * [1, -1] + [0, 1]
        wrong = Surface(scan.verts_m, scan.faces, None, scan.texture, flipped_uv)
        gpu = renderer.upload_surface(textured)
        assert gpu.texture is not None  # 512^2 texels over ~11k vertices: sampled per pixel
        gpu.release()
        error = _colour_error(renderer, scan, textured, texture_true, camera)
        wrong_error = _colour_error(renderer, scan, wrong, texture_true, camera)
        maps = {name: renderer.render_surface(s.verts_m, s.faces, camera, s.vertex_colors,
                                              None, s.texture, s.uv_corners)
                for name, s in (("textured", textured),
                                ("grey", Surface(scan.verts_m, scan.faces)))}
    finally:
        renderer.release()
    print(f"colour error {error:.2f}, with v flipped {wrong_error:.2f} levels")
    assert error < 3.0 and wrong_error > 5 * error, (error, wrong_error)
    # skin, not the 0.75 grey of a scan without colour; normals and depth exactly as before
    inside = maps["textured"]["mask"]
    assert np.ptp(maps["textured"]["rgb"][inside].mean(axis=0)) > 20
    for key in ("normal", "depth", "mask"):
        np.testing.assert_array_equal(maps["textured"][key], maps["grey"][key])
    assert maps["textured"]["normal"].dtype == np.float32


def test_ava256_texture_falls_back_to_the_mean_then_grey_with_reasons(tmp_path_factory,
                                                                      tmp_path):
    raw, _, options = tiny_set(tmp_path_factory, "ava256")
    root, options = _copy(raw, options, tmp_path / "ava256")
    decoder = _captures(root)[0] / "decoder"
    first, second = list_scans("ava256", root, **options)
    member = f"color/{first.options['frame']:06d}.avif"
    _rewrite_zip(decoder / "uv_image" / "color.zip", drop=member)
    first, second = list_scans("ava256", root, **options)
    assert (first.options["texture"], second.options["texture"]) == ("mean", "frame")
    assert member in first.options["texture_reason"]
    scan = load_scan(first)
    mean = np.asarray(Image.open(decoder / "uv_image" / "color_mean.png").convert("RGB"))
    np.testing.assert_array_equal(scan.texture, mean)
    assert scan.texture_source.endswith("color_mean.png") and member in scan.texture_reason
    statement = optional_files("ava256", root, [first, second], **options)
    textures = next(e for e in statement if "scans" in e)
    assert textures["scans"] == {"frame": 1, "mean": 1, "grey": 0}
    assert textures["reasons"] == [{"reason": "uv_image/color.zip has no color/<frame>.avif",
                                    "scans": 1}]
    assert "1 scan(s) coloured by the capture's mean" in textures["lost"]

    (decoder / "uv_image" / "color_mean.png").unlink()
    first = list_scans("ava256", root, **options)[0]
    assert first.options["texture"] == "grey" and "color_mean.png" in \
        first.options["texture_reason"]
    scan = load_scan(first)
    assert scan.texture is None and scan.vertex_colors is None and scan.texture_source == ""
    assert "color_mean.png" in scan.texture_reason


def test_ava256_texture_that_fails_to_decode_falls_back_naming_the_file(tmp_path_factory,
                                                                         tmp_path):
    raw, _, options = tiny_set(tmp_path_factory, "ava256")
    root, options = _copy(raw, options, tmp_path / "ava256")
    record = list_scans("ava256", root, **options)[0]
    member = f"color/{record.options['frame']:06d}.avif"
    zip_path = _captures(root)[0] / "decoder" / "uv_image" / "color.zip"
    _rewrite_zip(zip_path, replace={member: b"not an image"})
    records = list_scans("ava256", root, **options)
    scan = load_scan(records[0])
    assert scan.texture_source.endswith("color_mean.png")
    assert f"{zip_path}::{member}" in scan.texture_reason
    assert "unreadable image" in scan.texture_reason
    problems = check_records(records)
    assert [p[0] for p in problems] == [records[0].scan_id] and member in problems[0][1]


def test_ava256_without_face_topology_says_textures_cannot_be_placed(tmp_path_factory,
                                                                     tmp_path):
    raw, _, options = tiny_set(tmp_path_factory, "ava256")
    root, options = _copy(raw, options, tmp_path / "ava256")
    (root / "face_topology.obj").unlink()
    options.pop("face_topology_path")
    records = list_scans("ava256", root, **options)
    assert {r.options["texture"] for r in records} == {"grey"}
    statement = optional_files("ava256", root, records, **options)
    lines = optional_file_lines("ava256", statement)
    assert lines[0].startswith("ava256 face_topology.obj: MISSING")
    assert "point clouds" in lines[0] and "grey 2" in lines[1]
    assert "no face_topology.obj: the uv textures cannot be placed (2)" in lines[1]


# ---- FaceScape toolkit files -------------------------------------------------------------

def test_facescape_toolkit_files_are_found_in_the_toolkit_predef_folder(tmp_path_factory):
    raw, _, options = tiny_set(tmp_path_factory, "facescape")
    predef = Path(options["toolkit_path"]) / "predef"
    assert not (raw / "landmark_indices.npz").exists()
    assert not (Path(options["mv_root"]) / "Rt_scale_dict.json").exists()
    records = list_scans("facescape", raw, **options)
    assert {r.files["landmark_indices"] for r in records} == \
        {str(predef / "landmark_indices.npz")}
    assert {r.files["rt_scale"] for r in records} == {str(predef / "Rt_scale_dict.json")}
    scan = load_scan(records[0])
    assert scan.landmarks_m is not None and len(scan.photos) == 3
    statement = optional_files("facescape", raw, records, **options)
    assert [(e["file"], e["found"]) for e in statement] == [
        ("landmark_indices.npz", True), ("Rt_scale_dict.json", True),
        ("multi-view root (mv_root)", True)]


def test_facescape_toolkit_path_may_be_a_clone_of_the_repository(tmp_path_factory, tmp_path):
    raw, _, options = tiny_set(tmp_path_factory, "facescape")
    root, options = _copy(raw, options, tmp_path / "facescape")
    clone = tmp_path / "facescape-repo"
    shutil.move(Path(options["toolkit_path"]), clone / "toolkit")
    options["toolkit_path"] = str(clone)
    records = list_scans("facescape", root, **options)
    assert records[0].files["landmark_indices"] == \
        str(clone / "toolkit" / "predef" / "landmark_indices.npz")
    assert len(load_scan(records[0]).photos) == 3


def test_facescape_explicit_paths_win_over_the_toolkit(tmp_path_factory, tmp_path):
    raw, _, options = tiny_set(tmp_path_factory, "facescape")
    root, options = _copy(raw, options, tmp_path / "facescape")
    own = tmp_path / "mine.npz"
    shutil.copy(Path(options["toolkit_path"]) / "predef" / "landmark_indices.npz", own)
    records = list_scans("facescape", root, landmark_indices_path=str(own), **options)
    assert {r.files["landmark_indices"] for r in records} == {str(own)}


def test_facescape_missing_toolkit_files_are_stated_once_with_what_is_lost(tmp_path_factory,
                                                                          tmp_path):
    raw, _, options = tiny_set(tmp_path_factory, "facescape")
    root, options = _copy(raw, options, tmp_path / "facescape")
    shutil.rmtree(options["toolkit_path"])
    records = list_scans("facescape", root, **options)
    scan = load_scan(records[0])
    assert scan.landmarks_m is None and scan.photos == []
    assert "Rt_scale_dict.json" in scan.skipped_photos[0]["reason"]
    statement = optional_files("facescape", root, records, **options)
    assert [e["found"] for e in statement] == [False, False, True]
    predef = Path(options["toolkit_path"]) / "predef"
    assert str(predef / "landmark_indices.npz") in statement[0]["searched"]
    assert str(root / "landmark_indices.npz") in statement[0]["searched"]
    lines = optional_file_lines("facescape", statement)
    assert lines[0].startswith("facescape landmark_indices.npz: MISSING (looked at: ")
    assert "lost: the 68 landmarks of 2 scan(s)" in lines[0]
    assert "lost: every multi-view photo of 2 scan(s)" in lines[1]
    assert lines[2] == f"facescape multi-view root (mv_root): found: {options['mv_root']}"


def test_uv_texture_avif_members_decode(tmp_path_factory):
    """The release's texture format: AVIF inside color.zip decodes with this Pillow."""
    raw, _, _ = tiny_set(tmp_path_factory, "ava256")
    with zipfile.ZipFile(_captures(raw)[0] / "decoder" / "uv_image" / "color.zip") as archive:
        names = archive.namelist()
        image = Image.open(io.BytesIO(archive.read(names[0])))
        assert image.format == "AVIF" and image.size == (512, 512)  # TINY's size
    assert all(re.fullmatch(r"color/\d{6}\.avif", n) for n in names)
