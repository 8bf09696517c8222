import numpy as np
import pytest
import yaml

from storelens.config import ConfigError
from storelens.datasets.sim.appearance import ProductTextures, sample_person_looks
from storelens.datasets.sim.scenario import PRESETS, Range, load_scenario


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_load(preset):
    scenario = load_scenario(preset)
    assert scenario.name == preset and scenario.duration_s > 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"crowd": {"parties": -1}},
            r"crowd\.parties: Input should be greater than or equal to 0 \(got -1\)",
        ),
        (
            {"checkout": {"unscanned_rate": 1.5}},
            r"checkout\.unscanned_rate: .*less than or equal to 1 \(got 1\.5\)",
        ),
        ({"shopping": {"dwell_s": [3, 1]}}, r"shopping\.dwell_s: \[3.0, 1.0\]: high is below low"),
        ({"imaging": {"blurr": 1}}, r"imaging\.blurr: Extra inputs are not permitted"),
        ({"start_time": "2026-11-25 10:00"}, r"start_time: .*no time zone"),
    ],
)
def test_bad_scenarios_name_field_and_value(tmp_path, data, message):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=message):
        load_scenario(path)


def test_unknown_scenario_name():
    with pytest.raises(ConfigError, match="neither a preset"):
        load_scenario("rush-hour")


def test_person_looks_vary_and_staff_share_a_uniform():
    looks = sample_person_looks(np.random.default_rng(0), 12, Range(low=1.5, high=2.0), staff=2)
    shoppers, staff = looks[:10], looks[10:]
    assert len({tuple(lk.shirt) for lk in shoppers}) >= 8
    assert len({lk.pattern for lk in shoppers}) >= 2
    assert all(lk.staff for lk in staff) and tuple(staff[0].shirt) == tuple(staff[1].shirt)
    assert 1.5 <= min(lk.height_m for lk in looks) and max(lk.height_m for lk in looks) <= 2.0
    tex = shoppers[0].shirt_texture(16)
    assert tex.shape == (16, 16, 3) and tex.dtype == np.uint8


def test_products_wear_real_photos_when_the_data_is_there(demo_layout, shared_data):
    textures = ProductTextures(demo_layout)
    assert textures.source == "grocery-store photos"
    images = textures.bank["SKU-028"]
    assert len(images) >= 2  # the catalogue image and in-store photos
    assert images[0].shape == (64, 48, 3) and images[0].std() > 10


def test_without_the_data_products_are_generated_and_it_says_so(
    demo_layout, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("STORELENS_SHARED_DATA", str(tmp_path / "absent"))
    textures = ProductTextures(demo_layout)
    assert textures.source == "generated"
    assert "generated packaging" in caplog.text
    a, b = textures.for_unit("SKU-028", 0), textures.for_unit("SKU-029", 0)
    assert a.shape == b.shape and not np.array_equal(a, b)
