"""The build report: one self-contained page and its figures as JSON, from stage outputs."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from reporting.page import image, table, write_report
from reporting.sections import (
    console_summary,
    quarantine_list,
    registration_signals,
    registration_table,
    rows_table,
)


def test_table_escapes_text_and_formats_numbers():
    html = table(["name", "value"], [["<b>x</b>", 1234567], ["y", 0.123456], ["z", None]])
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>" not in html
    assert "1,234,567" in html and "0.123" in html and ">-<" in html


def test_image_is_inlined_and_a_missing_one_is_named(tmp_path):
    png = tmp_path / "a.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(png)
    assert "data:image/png;base64," in image(png, "caption")
    assert "missing picture" in image(tmp_path / "gone.png") and "gone.png" in image(
        tmp_path / "gone.png")


def test_write_report_writes_a_page_with_no_external_files_and_the_summary(tmp_path):
    png = tmp_path / "pic.png"
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(png)
    summary = {"datasets": {"nphm": {"registration": {"scans": 3, "registered": 2},
                                     "quarantined": 1, "samples": 10, "shards": 1}},
               "timings_s": {"register": 60.0, "render": 30.0, "skipped": None}}
    index = write_report(tmp_path / "report", "Build", [
        ("Quarantined", quarantine_list({"nphm": [{"scan_id": "s1", "reason": "NaN vertices"}]})),
        ("Picture", image(png, "pic")),
        ("Rows", rows_table({"nphm": {"error": {"mean": 0.5}}}))], summary)
    page = index.read_text()
    assert "NaN vertices" in page and "error.mean" in page
    assert 'src="data:image/png;base64,' in page and 'src="pic.png"' not in page
    assert json.loads((tmp_path / "report" / "summary.json").read_text()) == summary
    text = console_summary(summary, index)
    assert "nphm" in text and "quarantined   1" in text and "1.5 min" in text


def test_quarantine_and_registration_tables_handle_empty_and_missing_figures():
    assert "None" in quarantine_list({"nphm": []})
    html = registration_table({"facescape": {"truth_error_mm": {"registered": {"mean": 0.4}}}})
    assert "facescape" in html and "0.4" in html


def test_registration_signals_lists_paths_used_and_every_refusal():
    html = registration_signals({
        "nphm": {"signals": {"paths": {"geometry+flame_fit": 3, "geometry": 1},
                             "used": {"flame_fit": 3},
                             "refused": {"flame_fit": [{"scan_id": "s4",
                                                        "reason": "5 mm from the scan"}]}}},
        "ava256": {}})
    assert "geometry+flame_fit 3" in html and "flame_fit 3" in html
    assert "s4" in html and "5 mm from the scan" in html and "ava256" in html
