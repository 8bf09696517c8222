"""The demo store is valid and believable; bad store files fail naming the field and the value."""

import copy

import numpy as np
import pytest
import yaml

from storelens.config import ConfigError
from storelens.layout import StoreLayout


def test_demo_store_is_the_store_the_issue_describes(demo_layout):
    assert demo_layout.store_id == "demo-store"
    assert (demo_layout.floor.width_m, demo_layout.floor.depth_m) == (12.0, 8.0)
    kinds = [c.kind for c in demo_layout.cameras]
    assert kinds.count("ceiling") == 4 and kinds.count("shelf") == 2
    assert len(demo_layout.shelves) == 6
    assert 36 <= len(demo_layout.planogram_skus) <= 48
    assert len(demo_layout.checkout_lanes) == 2 and len(demo_layout.rfid_gates) == 1
    assert any(p.rfid_tagged for p in demo_layout.catalogue)


def test_demo_ceiling_cameras_overlap(demo_layout):
    """Every floor point in the open aisles is seen by at least two ceiling cameras."""
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(1, 11, 400), rng.uniform(1, 7, 400)])
    seen = np.zeros(len(points), int)
    from storelens.geometry import points_in_polygon

    for cam in demo_layout.cameras:
        if cam.kind == "ceiling":
            seen += points_in_polygon(points, cam.geometry().footprint(demo_layout.floor.rect))
    assert (seen >= 2).mean() > 0.95


def test_shelf_cameras_see_their_shelves(demo_layout):
    for cam_id, shelf_id in [("shelf-back", "shelf-dairy"), ("shelf-fruit", "shelf-fruit")]:
        geom = demo_layout.camera(cam_id).geometry()
        shelf = next(s for s in demo_layout.shelves if s.shelf_id == shelf_id)
        centres = np.array([shelf.facing_centre(f.level, f.slot) for f in shelf.planogram])
        px, depth = geom.project(centres)
        inside = (
            (depth > 0) & (px[:, 0] >= 0) & (px[:, 0] < 640) & (px[:, 1] >= 0) & (px[:, 1] < 480)
        )
        assert inside.mean() > 0.5, cam_id


def test_facing_centres_lie_on_the_front_edge(demo_layout):
    shelf = demo_layout.shelves[0]
    a, b = shelf.front_segment()
    c = shelf.facing_centre(level=0, slot=0)
    assert shelf.levels[0] < c[2] < shelf.levels[1]
    # collinear with the front edge
    edge, offset = b - a, c[:2] - a
    assert abs(edge[0] * offset[1] - edge[1] * offset[0]) < 1e-9


def _mutated(demo_store_path, mutate):
    data = yaml.safe_load(demo_store_path.read_text())
    data = copy.deepcopy(data)
    mutate(data)
    return data


def _set(path, value):
    def mutate(data):
        node = data
        for key in path[:-1]:
            node = node[key]
        if value is _DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return mutate


_DELETE = object()

BAD_FILES = [
    (_set(["cameras", 2, "resolution"], [640]), r"cameras\[2\]\.resolution.*\(got \[640\]\)"),
    (
        _set(["cameras", 0, "fps"], -5),
        r"cameras\[0\]\.fps: Input should be greater than 0 \(got -5\)",
    ),
    (_set(["cameras", 1, "kind"], "dome"), r"cameras\[1\]\.kind.*\(got 'dome'\)"),
    (_set(["cameras", 1, "pose"], _DELETE), r"cameras\[1\]: intrinsics and pose go together"),
    (
        _set(["cameras", 0, "pose", "look_at"], [0.4, 7.6, 3.2]),
        r"cameras\[0\]\.pose: .*equals position",
    ),
    (
        _set(["cameras", 0, "zoom"], 2),
        r"cameras\[0\]\.zoom: Extra inputs are not permitted \(got 2\)",
    ),
    (_set(["floor", "width_m"], "wide"), r"floor\.width_m: .*\(got 'wide'\)"),
    (
        _set(["store_id"], "demo store!"),
        r"store_id: String should match pattern.*\(got 'demo store!'\)",
    ),
    (_set(["timezone"], "Mars/Olympus"), r"timezone: unknown IANA time zone 'Mars/Olympus'"),
    (
        _set(["shelves", 0, "planogram", 0, "sku"], "SKU-999"),
        r"shelves\[0\]\.planogram\[0\]\.sku: 'SKU-999' is not in the catalogue",
    ),
    (
        _set(["shelves", 1, "levels"], [0.8, 0.3, 1.3]),
        r"shelves\[1\]: levels \[0.8, 0.3, 1.3\] must increase",
    ),
    (_set(["shelves", 2, "planogram", 0, "slot"], 9), r"shelves\[2\]: planogram\[0\]\.slot: 9"),
    (
        _set(["shelves", 3, "polygon"], [[2, 4], [15, 4], [15, 5]]),
        r"shelves\[3\]\.polygon: point \[15.0, 4.0\] lies outside the 12.0 x 8.0 m floor",
    ),
    (
        _set(["shelves", 0, "polygon"], [[1, 1], [2, 2]]),
        r"shelves\[0\]\.polygon: List should have at least 3",
    ),
    (
        _set(["checkout_lanes", 1, "pos_terminal_id"], "pos-1"),
        r"checkout_lanes\[\*\]\.pos_terminal_id: duplicate id\(s\) \['pos-1'\]",
    ),
    (_set(["cameras", 1, "camera_id"], "ceil-nw"), r"cameras: duplicate id\(s\) \['ceil-nw'\]"),
    (_set(["entrances"], []), r"entrances: List should have at least 1 item"),
    (
        _set(["catalogue", 0, "price"], -1),
        r"catalogue\[0\]\.price: .*greater than or equal to 0 \(got -1\)",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), BAD_FILES)
def test_bad_store_files_name_field_and_value(tmp_path, demo_store_path, mutate, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_mutated(demo_store_path, mutate)))
    with pytest.raises(ConfigError, match=message) as info:
        StoreLayout.from_yaml(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("store_id: [unclosed\n", r"line \d+, column \d+: not valid YAML"),
        ("", r"the file is empty"),
        ("- just\n- a list\n", r"Input should be a valid dictionary"),
    ],
)
def test_unreadable_store_files(tmp_path, text, message):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        StoreLayout.from_yaml(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        StoreLayout.from_yaml(tmp_path / "nope.yaml")


def test_homography_only_camera_and_rvec_pose_are_accepted(demo_store_path, tmp_path):
    data = yaml.safe_load(demo_store_path.read_text())
    cam0 = data["cameras"][0]
    layout = StoreLayout.model_validate(data)
    R, t = layout.cameras[0].pose.rotation_translation()
    import cv2

    rvec, _ = cv2.Rodrigues(R)
    cam0["pose"] = {"rvec": rvec.ravel().tolist(), "tvec": t.tolist()}
    data["cameras"][1] = {
        "camera_id": "legacy-cam",
        "kind": "ceiling",
        "stream_uri": "rtsp://127.0.0.1/x",
        "homography": layout.cameras[1].geometry().image_to_floor_homography().tolist(),
    }
    path = tmp_path / "store.yaml"
    path.write_text(yaml.safe_dump(data))
    again = StoreLayout.from_yaml(path)
    np.testing.assert_allclose(again.cameras[0].geometry().R, R, atol=1e-9)
    assert not again.camera("legacy-cam").geometry().has_pose


def test_lookups(demo_layout):
    assert demo_layout.camera("ceil-se").kind == "ceiling"
    assert demo_layout.product(demo_layout.catalogue[0].sku).name
    with pytest.raises(KeyError, match="no camera 'nope'"):
        demo_layout.camera("nope")
