"""Config validation without a build: every shipped .cfg is valid; typos and wrong types are
named with file, section and key."""

from __future__ import annotations

from pathlib import Path

import luigi.configuration
import pytest
from luigi.configuration.cfg_parser import LuigiConfigParser

from pipeline.config import ConfigError, validate

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
