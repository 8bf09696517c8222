"""One config path: `load_config` (with `base:` inheritance) for every YAML, `override` for every
change to a loaded config, and `Settings` for every environment variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from storelens.config import ConfigError, load_config, override, resolve_yaml
from storelens.datasets.sim.scenario import Scenario, load_scenario
from storelens.layout import StoreLayout
from storelens.settings import (
    Settings,
    boxmot_python,
    runs_dir,
    settings,
    shared_data_dir,
    worker_env,
)
from storelens.tracking.config import TrackerConfig
from storelens.training.config import TrainDetectorConfig, TrainProductsConfig
from storelens.training.tune import TuneConfig


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: int = 0
    b: int = 0
    tags: list[str] = []


class Top(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "default"
    epochs: int = 1
    section: Section = Section()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- base inheritance -------------------------------------------------------------------------


def test_a_base_chain_merges_section_by_section_and_the_file_wins(tmp_path):
    # grand ← sub/mid ← top: each base is named relative to the file that names it
    _write(tmp_path / "grand.yaml", "name: grand\nepochs: 5\nsection: {a: 1, b: 2, tags: [x, y]}\n")
    _write(tmp_path / "sub" / "mid.yaml", "base: ../grand.yaml\nsection: {b: 20}\n")
    top = _write(tmp_path / "top.yaml", "base: sub/mid.yaml\nname: top\nsection: {tags: [z]}\n")

    config = load_config(top, Top)
    assert config.name == "top"  # the file's own key wins
    assert config.epochs == 5  # inherited from two levels up
    assert config.section == Section(a=1, b=20, tags=["z"])  # merged key by key; lists replaced
    assert resolve_yaml(top) == {
        "name": "top",
        "epochs": 5,
        "section": {"a": 1, "b": 20, "tags": ["z"]},
    }


def test_the_real_training_chain_merges_over_base_yaml(repo_root):
    tiny = load_config(repo_root / "configs/train/tiny.yaml", TrainDetectorConfig)
    base = load_config(repo_root / "configs/train/base.yaml", TrainDetectorConfig)
    assert tiny.epochs == 2 and tiny.imgsz == base.imgsz
    assert tiny.sim.cameras == ["ceil-sw", "shelf-fruit"] and tiny.sim.class_set == "coarse"


def test_a_base_loop_is_refused(tmp_path):
    a = _write(tmp_path / "a.yaml", "base: b.yaml\nepochs: 1\n")
    _write(tmp_path / "b.yaml", "base: a.yaml\nepochs: 2\n")
    with pytest.raises(
        ConfigError, match=r"loops back to itself: .*a\.yaml → .*b\.yaml → .*a\.yaml"
    ):
        load_config(a, Top)
    me = _write(tmp_path / "me.yaml", "base: me.yaml\n")
    with pytest.raises(ConfigError, match="loops back"):
        load_config(me, Top)


def test_a_missing_base_names_the_file_and_where_it_looked(tmp_path):
    child = _write(tmp_path / "child.yaml", "base: parents/nope.yaml\nepochs: 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(child, Top)
    message = str(info.value)
    assert str(child) in message and "'parents/nope.yaml' does not exist" in message
    assert f"looked for {tmp_path / 'parents' / 'nope.yaml'}" in message


def test_a_base_that_is_not_a_path_is_refused(tmp_path):
    bad = _write(tmp_path / "bad.yaml", "base: [a.yaml, b.yaml]\n")
    with pytest.raises(
        ConfigError, match=r"base: expected a file path \(got \['a.yaml', 'b.yaml'\]"
    ):
        load_config(bad, Top)


def test_a_bad_value_over_a_base_names_the_file_field_and_value(tmp_path):
    _write(tmp_path / "base.yaml", "section: {a: 1}\n")
    child = _write(tmp_path / "child.yaml", "base: base.yaml\nsection: {b: many}\n")
    with pytest.raises(ConfigError, match=r"section\.b: Input should be a valid integer.*'many'"):
        load_config(child, Top)
    with pytest.raises(ConfigError, match=str(child)):
        load_config(child, Top)
    extra = _write(tmp_path / "extra.yaml", "base: base.yaml\nsection: {c: 1}\n")
    with pytest.raises(ConfigError, match=r"section\.c: Extra inputs are not permitted"):
        load_config(extra, Top)


def test_an_empty_file_is_refused_unless_it_may_mean_the_defaults(tmp_path):
    empty = _write(tmp_path / "empty.yaml", "# nothing changed\n")
    with pytest.raises(ConfigError, match="the file is empty"):
        load_config(empty, Top)
    assert load_config(empty, Top, allow_empty=True) == Top()


# --- every shipped config loads through load_config -------------------------------------------


def _train_model(path: Path) -> type[BaseModel]:
    if path.stem.startswith("tune"):
        return TuneConfig
    if path.stem.startswith("products"):
        return TrainProductsConfig
    return TrainDetectorConfig


@pytest.mark.parametrize(
    ("folder", "model"),
    [
        ("train", None),
        ("scenarios", Scenario),
        ("stores", StoreLayout),
        ("tracking", TrackerConfig),
    ],
)
def test_every_shipped_config_loads(repo_root, folder, model):
    paths = sorted((repo_root / "configs" / folder).glob("*.yaml"))
    assert paths, f"no configs/{folder}/*.yaml"
    for path in paths:
        config = load_config(path, model or _train_model(path))
        assert isinstance(config, BaseModel), path


# --- validated overrides ----------------------------------------------------------------------


def test_an_override_merges_nested_sections_and_validates_again():
    easy = load_scenario("easy")
    changed = override(easy, {"crowd": {"parties": 8}}, duration_s=10)
    assert changed.crowd.parties == 8 and changed.duration_s == 10
    assert changed.crowd.staff == easy.crowd.staff  # the rest of the section is kept
    assert changed.crowd.walk_speed_mps == easy.crowd.walk_speed_mps
    assert easy == load_scenario("easy")  # the original is untouched
    assert isinstance(changed, Scenario)
    # the method is the same function
    assert easy.with_overrides(crowd={"parties": 8}, duration_s=10) == changed
    assert easy.with_overrides({"crowd": {"parties": 8}}, duration_s=10) == changed
    # a Range section accepts the YAML form
    wider = easy.with_overrides(shopping={"dwell_s": [0.5, 4.0]})
    assert (wider.shopping.dwell_s.low, wider.shopping.dwell_s.high) == (0.5, 4.0)


def test_a_bad_override_names_the_field_path_and_value():
    easy = load_scenario("easy")
    with pytest.raises(
        ConfigError, match=r"crowd\.parties: .*greater than or equal to 0 \(got -1\)"
    ):
        override(easy, {"crowd": {"parties": -1}})
    with pytest.raises(ConfigError, match=r"crowd\.parties: .*valid integer.*\(got 'eight'\)"):
        easy.with_overrides(crowd={"parties": "eight"})
    with pytest.raises(ConfigError, match=r"shopping\.dwell_s: \[3.0, 1.0\]: high is below low"):
        easy.with_overrides(shopping={"dwell_s": [3, 1]})


def test_an_override_with_an_unknown_key_is_refused():
    easy = load_scenario("easy")
    with pytest.raises(ConfigError, match=r"crowd\.partys: not a field of Crowd \(fields: parties"):
        override(easy, {"crowd": {"partys": 8}})
    with pytest.raises(ConfigError, match=r"duration: not a field of Scenario"):
        easy.with_overrides(duration=10)
    # Range does not forbid extras itself; the override still refuses a misspelt bound
    with pytest.raises(ConfigError, match=r"crowd\.walk_speed_mps\.lo: not a field of Range"):
        override(easy, {"crowd": {"walk_speed_mps": {"lo": 1.0}}})


def test_an_override_of_a_frozen_training_config():
    config = TrainDetectorConfig()
    smaller = override(config, {"sim": {"duration_s": 5}}, epochs=1, register_as=None)
    assert smaller.sim.duration_s == 5 and smaller.sim.scenario == config.sim.scenario
    assert smaller.epochs == 1 and smaller.register_as is None
    with pytest.raises(ConfigError, match=r"epochs: .*greater than or equal to 1 \(got 0\)"):
        override(config, epochs=0)


# --- environment settings ---------------------------------------------------------------------

ALL_VARS = (
    "STORELENS_SHARED_DATA",
    "STORELENS_RUNS_DIR",
    "STORELENS_BOXMOT_PYTHON",
    "MLFLOW_TRACKING_URI",
    "STORELENS_ULTRALYTICS_DIR",
    "YOLO_CONFIG_DIR",
    "XDG_CACHE_HOME",
)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_settings_defaults(clean_env, tmp_path):
    s = settings()
    assert s.runs_dir == Path("runs") and runs_dir() == Path("runs")
    assert s.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"  # the cwd's SQLite
    assert s.shared_data is None and s.boxmot_python is None
    assert s.default_ultralytics_dir == Path.home() / ".cache" / "storelens" / "ultralytics"
    assert s.ultralytics_config_dir == s.default_ultralytics_dir


def test_settings_are_read_from_the_environment_each_time(clean_env, tmp_path):
    clean_env.setenv("STORELENS_RUNS_DIR", str(tmp_path / "elsewhere"))
    clean_env.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert runs_dir() == tmp_path / "elsewhere"
    assert settings().mlflow_tracking_uri == "http://mlflow:5000"
    clean_env.setenv("STORELENS_RUNS_DIR", "~/runs-x")
    assert runs_dir() == Path.home() / "runs-x"
    clean_env.setenv("STORELENS_RUNS_DIR", "")  # empty counts as unset
    assert runs_dir() == Path("runs")

    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert settings().ultralytics_config_dir == tmp_path / "cache" / "storelens" / "ultralytics"
    clean_env.setenv("STORELENS_ULTRALYTICS_DIR", str(tmp_path / "ul"))
    assert settings().ultralytics_config_dir == tmp_path / "ul"
    clean_env.setenv("YOLO_CONFIG_DIR", str(tmp_path / "yolo"))
    s = settings()
    assert s.ultralytics_config_dir == tmp_path / "yolo"
    assert s.default_ultralytics_dir == tmp_path / "ul"
    assert worker_env()["YOLO_CONFIG_DIR"] == str(tmp_path / "yolo")
    assert "STORELENS_RUNS_DIR" not in worker_env()


def test_shared_data_and_boxmot_keep_their_fallbacks(clean_env, tmp_path):
    clean_env.setenv("STORELENS_SHARED_DATA", str(tmp_path / "data"))
    assert shared_data_dir() is None  # named but absent: no shared data, not an error
    (tmp_path / "data").mkdir()
    assert shared_data_dir() == tmp_path / "data"

    python = _write(tmp_path / "boxmot" / "python", "")
    clean_env.setenv("STORELENS_BOXMOT_PYTHON", str(python))
    assert boxmot_python() == python


def test_a_bad_environment_value_names_the_variable_and_value(clean_env, tmp_path):
    afile = _write(tmp_path / "runs-file", "not a folder")
    clean_env.setenv("STORELENS_RUNS_DIR", str(afile))
    with pytest.raises(ConfigError) as info:
        runs_dir()
    assert f"STORELENS_RUNS_DIR={str(afile)!r}: {afile} is a file, not a folder" in str(info.value)
    clean_env.delenv("STORELENS_RUNS_DIR")
    clean_env.setenv("STORELENS_ULTRALYTICS_DIR", str(afile))
    with pytest.raises(ConfigError, match="STORELENS_ULTRALYTICS_DIR="):
        settings()


def test_settings_ignore_unrelated_variables_and_can_be_built_by_field_name(clean_env):
    clean_env.setenv("STORELENS_SOMETHING_ELSE", "1")
    assert settings().runs_dir == Path("runs")
    assert Settings(runs_dir=Path("/x")).runs_dir == Path("/x")
