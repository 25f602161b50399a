"""Stage keys cover every effective setting: a default changed in code is a new key."""

from __future__ import annotations

from dataclasses import dataclass

import registration.worker
from pipeline import tasks_register, tasks_render
from registration.settings import RegistrationSettings
from rendering.camera import ViewSampling


def test_registration_key_hashes_the_full_effective_settings(monkeypatch):
    before = tasks_register.effective_settings()
    configured = ("fit_points", "icp_points", "laplacian_weight")
    budget = before.pop("scan_budget")
    assert before == RegistrationSettings(**{k: before[k] for k in configured}).to_json()
    assert budget == {"max_points": 250_000, "max_file_mb": 400.0, "seed": 0}
    before["scan_budget"] = budget
    assert before == tasks_register.effective_settings()  # stable: unchanged scans keep keys

    @dataclass(frozen=True)
    class Changed(RegistrationSettings):
        refine_max_normal_angle_deg: float = 30.0  # a default not in the config

    monkeypatch.setattr(registration.worker, "RegistrationSettings", Changed)
    after = tasks_register.effective_settings()
    assert after["refine_max_normal_angle_deg"] == 30.0
    assert after != before


def test_render_key_hashes_the_view_sampling_defaults(monkeypatch):
    before = tasks_render.render_settings()
    assert tuple(before["view_sampling"]["distance_m"]) == ViewSampling().distance_m
    assert before == tasks_render.render_settings()

    @dataclass(frozen=True)
    class Changed(ViewSampling):
        distance_m: tuple[float, float] = (0.5, 1.0)

    monkeypatch.setattr(tasks_render, "ViewSampling", Changed)
    after = tasks_render.render_settings()
    assert tuple(after["view_sampling"]["distance_m"]) == (0.5, 1.0)
    assert after != before
