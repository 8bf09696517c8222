import numpy as np
import pytest
import yaml

from storelens.config import ConfigError
from storelens.datasets.sim.appearance import ProductTextures, sample_person_looks
from storelens.datasets.sim.product_atlas import (
    PHOTOS_PER_CLASS,
    class_entries,
    class_tiles,
    load_atlas,
)
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


def test_products_wear_the_shipped_photos_without_any_shared_data(
    demo_layout, tmp_path, monkeypatch
):
    """A fresh machine renders the store the project's machines render: the atlas ships in
    the package."""
    monkeypatch.setenv("STORELENS_SHARED_DATA", str(tmp_path / "absent"))
    textures = ProductTextures(demo_layout)
    assert textures.source == "grocery-store photos (package atlas)"
    images = textures.bank["SKU-028"]
    assert len(images) == 1 + PHOTOS_PER_CLASS  # the catalogue image and in-store photos
    assert images[0].shape == (64, 48, 3) and images[0].std() > 10
    assert len({t.tobytes() for t in textures.bank.values() for t in t}) > 3 * len(textures.bank)


def test_atlas_tiles_are_the_data_sets_images(demo_layout, shared_data):
    """Rebuilding from GroceryStoreDataset gives tile for tile the atlas in the package."""
    root = shared_data / "grocery-store" / "dataset"
    entries = class_entries(root)
    atlas = load_atlas()
    for product in demo_layout.catalogue[:5]:
        rebuilt = class_tiles(root, entries[product.grocery_class])
        assert [t.tobytes() for t in rebuilt] == [t.tobytes() for t in atlas[product.grocery_class]]


def test_atlas_refuses_a_png_that_does_not_match_its_index(tmp_path, monkeypatch):
    import storelens.datasets.sim.product_atlas as pa

    (tmp_path / pa.ATLAS_INDEX.name).write_text(pa.ATLAS_INDEX.read_text())
    (tmp_path / pa.ATLAS_PNG.name).write_bytes(pa.ATLAS_PNG.read_bytes()[:-10])
    monkeypatch.setattr(pa, "ATLAS_PNG", tmp_path / pa.ATLAS_PNG.name)
    monkeypatch.setattr(pa, "ATLAS_INDEX", tmp_path / pa.ATLAS_INDEX.name)
    pa.load_atlas.cache_clear()
    try:
        with pytest.raises(pa.AtlasError, match="does not match the sha256"):
            pa.load_atlas()
    finally:
        pa.load_atlas.cache_clear()


def test_generated_and_mixed_packaging(demo_layout):
    generated = ProductTextures(demo_layout, "generated")
    assert generated.source == "generated"
    a, b = generated.for_unit("SKU-028", 0), generated.for_unit("SKU-029", 0)
    assert a.shape == b.shape and not np.array_equal(a, b)
    mixed = [ProductTextures(demo_layout, "mixed", seed) for seed in (0, 1)]
    assert all(m.source.startswith("mixed: ") for m in mixed)
    photo_skus = [{s for s, imgs in m.bank.items() if len(imgs) > 1} for m in mixed]
    assert photo_skus[0] != photo_skus[1] and 0 < len(photo_skus[0]) < len(demo_layout.catalogue)
    again = ProductTextures(demo_layout, "mixed", 0)
    assert all(np.array_equal(again.bank[s][0], mixed[0].bank[s][0]) for s in again.bank)
    with pytest.raises(ValueError, match="packaging must be one of"):
        ProductTextures(demo_layout, "shiny")
