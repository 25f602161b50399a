"""Config validation without a build: every shipped .cfg is valid; typos and wrong types are
named with file, section and key."""

from __future__ import annotations

from pathlib import Path

import luigi.configuration
import pytest
from luigi.configuration.cfg_parser import LuigiConfigParser

from pipeline.config import SECTIONS, ConfigError, stage_default, validate

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").glob("*.cfg"))


@pytest.fixture
def use_config(monkeypatch):
    """Make Luigi read exactly one config file (a fresh parser; the global one is restored)."""

    def use(path: Path) -> LuigiConfigParser:
        parser = LuigiConfigParser()
        monkeypatch.setattr(LuigiConfigParser, "_config_paths", [str(path)])
        parser.read([str(path)])
        monkeypatch.setattr(luigi.configuration, "get_config", lambda *args, **kwargs: parser)
        return parser

    return use


def _task_names() -> set[str]:
    import pipeline  # noqa: F401  (registers the build's tasks)

    return set(luigi.task_register.Register.task_names())


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_is_valid(use_config, path):
    use_config(path)
    validate(_task_names())


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = (REPO / "configs" / "default.cfg").read_text()
    assert old in text
    path = tmp_path / "edited.cfg"
    path.write_text(text.replace(old, new, 1))
    return path


def test_unknown_key_is_named_with_a_suggestion(use_config, tmp_path):
    use_config(_edited(tmp_path, "[render]\n", "[render]\nresolutoin = 64\n"))
    with pytest.raises(ConfigError) as error:
        validate(_task_names())
    message = str(error.value)
    assert "unknown key [render] resolutoin" in message and "edited.cfg" in message
    assert "did you mean 'resolution'?" in message


def test_value_of_the_wrong_type_is_named(use_config, tmp_path):
    use_config(_edited(tmp_path, "resolution = 128\n", "resolution = big\n"))
    with pytest.raises(ConfigError, match=r"bad value 'big' for \[render\] resolution in .*edited"):
        validate(_task_names())


def test_unknown_section_is_named_with_a_suggestion(use_config, tmp_path):
    use_config(_edited(tmp_path, "[render]\n", "[rendr]\nviews = 1\n[render]\n"))
    with pytest.raises(ConfigError, match=r"unknown section \[rendr\].*did you mean \[render\]"):
        validate(_task_names())


def _plain(value):
    return list(value) if isinstance(value, list | tuple) else value


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_a_config_file_sets_only_what_it_changes(use_config, path):
    """No default is written twice: a key whose value is the code's default is left out."""
    parser = use_config(path)
    for section, owner in SECTIONS.items():
        if not parser.has_section(section):
            continue
        params = dict(owner.get_params())
        for key, raw in parser.items(section):
            default = _plain(params[key]._default)
            assert _plain(params[key].parse(raw)) != default, f"[{section}] {key} in {path.name}"


MIRRORED = [  # (section, key, stage owner, stage name, picks from a range)
    ("registration", "fit_points", "RegistrationSettings", "fit_points", None),
    ("registration", "icp_points", "RegistrationSettings", "icp_points", None),
    ("registration", "laplacian_weight", "RegistrationSettings", "laplacian_weight", None),
    ("render", "resolution", "ViewSampling", "width", None),
    ("render", "yaw_deg", "ViewSampling", "yaw_deg", 1),
    ("train", "steps", "TrainConfig", "steps", None),
    ("train", "resolution", "ModelConfig", "resolution", None),
    ("train", "holdout_fraction", "TrainConfig", "val_fraction", None),
    ("fit", "iterations", "FitSettings", "full_steps", None),
    ("data", "synthetic_subjects", "write_synthetic", "subjects", None),
]


@pytest.mark.parametrize(("section", "key", "owner", "name", "pick"), MIRRORED)
def test_a_setting_that_mirrors_a_stage_takes_the_stage_default(section, key, owner, name, pick):
    from fitting.settings import FitSettings
    from network.config import ModelConfig, TrainConfig
    from registration.settings import RegistrationSettings
    from rendering.camera import ViewSampling
    from synthetic import write_synthetic

    owners = {"RegistrationSettings": RegistrationSettings, "ViewSampling": ViewSampling,
              "TrainConfig": TrainConfig, "ModelConfig": ModelConfig,
              "FitSettings": FitSettings, "write_synthetic": write_synthetic}
    expected = stage_default(owners[owner], name)
    expected = expected[pick] if pick is not None else expected
    assert dict(SECTIONS[section].get_params())[key]._default == expected
