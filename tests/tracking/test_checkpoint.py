"""Tracker checkpoints: a tracker stopped, saved to a file, loaded into a fresh tracker and
resumed gives exactly the tracks of an uninterrupted run; the file holds nothing biometric; the
checkpoint format round-trips nested dicts exactly and refuses what it cannot read."""

from __future__ import annotations

import json
import struct
import zipfile
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from storelens import Detections
from storelens.tracking.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from storelens.tracking.config import TrackerConfig
from storelens.tracking.tracker import LOST, TENTATIVE, IdCounter, StoreTracker, TrackTable

FPS = 10.0
STORE_LIKE = {
    "default": TrackerConfig(),
    # OC-SORT's direction term, the motion gate, growing lost boxes: every state column matters
    "mot15-like": TrackerConfig(
        high_score=0.25,
        low_score=0.05,
        new_track_score=0.3,
        lost_track_buffer_s=1.0,
        direction_weight=0.2,
        freeze_size_when_lost=False,
        motion_gate=True,
        tentative_match_cost=0.7,
        position_noise=0.25,
        velocity_noise=0.8,
        measurement_noise=0.05,
    ),
    "detection-boxes": TrackerConfig(output_box="detection", min_hits=3, fuse_score=False),
}
APPEARANCE = TrackerConfig(
    appearance_weight=0.9, appearance_gate=0.6, appearance_proximity=1.0, match_cost=1.0
)


def store_stream(
    n_cams: int = 4, people: int = 7, frames: int = 90, seed: int = 0, emb_dim: int | None = None
) -> list[tuple[Detections, float | None]]:
    """(detections, now) per step: walkers on several cameras, pairs crossing head-on, people
    hidden for up to 1.7 s (longer than the lost buffer), 5% misses, clutter, a camera that
    drops every 4th frame, one that stops, two classes, jittered clocks, and empty steps."""
    rng = np.random.default_rng(seed)
    start = rng.uniform([50, 50], [900, 500], (n_cams, people, 2))
    vel = rng.uniform(-50, 50, (n_cams, people, 2))
    start[:, 1] = start[:, 0] + [600, 5]  # persons 0 and 1 walk towards each other and cross
    vel[:, 0, 0] = abs(vel[:, 0, 0]) + 40
    vel[:, 1] = -vel[:, 0]
    size = rng.uniform([30, 80], [60, 160], (n_cams, people, 2))
    cls = (rng.random((n_cams, people)) < 0.2).astype(int)
    hidden = np.zeros((frames, n_cams, people), bool)
    for c in range(n_cams):
        for p in range(people):
            for _ in range(2):
                s = rng.integers(0, frames)
                hidden[s : s + rng.integers(2, 18), c, p] = True
    identity = rng.normal(size=(n_cams, people, emb_dim or 1)).astype(np.float32)
    out: list[tuple[Detections, float | None]] = []
    for k in range(frames):
        t = k / FPS + rng.normal(0, 0.004)
        if k % 23 == 22:  # nobody detected anywhere: only the time moves on
            out.append((Detections.empty(emb_dim), t))
            continue
        parts = []
        for c in range(n_cams):
            if c == n_cams - 1 and k % 4 == 3:
                continue  # a camera that drops frames
            walked = min(k, 50) if c == 0 else k  # camera 0's people stop at 5 s
            xy = start[c] + vel[c] * walked / FPS + rng.normal(0, 2.0, (people, 2))
            seen = ~hidden[k, c] & (rng.random(people) > 0.05)
            boxes = np.concatenate([xy[seen], xy[seen] + size[c, seen]], axis=1)
            conf = rng.uniform(0.15, 1.0, int(seen.sum()))
            ids = cls[c, seen]
            emb = identity[c, seen] + rng.normal(0, 0.1, (int(seen.sum()), identity.shape[-1]))
            if rng.random() < 0.3:  # clutter
                fp = rng.uniform(0, 900, 2)
                boxes = np.vstack([boxes, [*fp, *(fp + [40, 90])]])
                conf = np.append(conf, rng.uniform(0.1, 0.7))
                ids = np.append(ids, 0)
                emb = np.vstack([emb, rng.normal(size=(1, identity.shape[-1]))])
            parts.append(
                Detections(
                    xyxy=boxes,
                    confidence=conf,
                    class_id=ids,
                    camera_id=f"cam-{c}",
                    timestamp=t + 0.01 * c,
                    embedding=None if emb_dim is None else emb.astype(np.float32),
                )
            )
        out.append((Detections.concatenate(parts), None))
    return out


def busy_frame(k: int = 0) -> Detections:
    """A step of `store_stream` where every camera sees people."""
    dets = store_stream()[5 + k][0]
    assert len(np.unique(dets.camera_id)) == 4 and len(dets) >= 12
    return dets


def assert_same_output(a: Detections, b: Detections, where: str) -> None:
    assert len(a) == len(b), where
    for name in ("tracker_id", "xyxy", "confidence", "class_id", "timestamp", "camera_id"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), f"{where}: {name} differs"
    np.testing.assert_array_equal(a.data["detection_index"], b.data["detection_index"], where)


def assert_same_state(a: object, b: object, where: str = "state") -> None:
    """Nested dicts/lists equal, arrays equal bit for bit with the same dtype and shape."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_same_state(a[k], b[k], f"{where}/{k}")  # type: ignore[index]
    elif isinstance(a, list):
        assert len(a) == len(b), where  # type: ignore[arg-type]
        for i, (x, y) in enumerate(zip(a, b, strict=True)):  # type: ignore[call-overload]
            assert_same_state(x, y, f"{where}/{i}")
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape}"  # type: ignore[union-attr]
        assert a.tobytes() == b.tobytes(), f"{where}: values differ"  # type: ignore[union-attr]
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where  # type: ignore[arg-type]
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


# ------------------------------------------------------------------ resume
@pytest.mark.parametrize("name", list(STORE_LIKE))
def test_a_resumed_tracker_gives_exactly_the_uninterrupted_tracks(name, tmp_path):
    config = STORE_LIKE[name]
    stream = store_stream(seed=3)
    uninterrupted = StoreTracker(config)
    reference = [uninterrupted.update(d, now=now) for d, now in stream]
    assert sum(len(o) for o in reference) > 500  # a busy stream, not an empty one

    # the same run, stopping at every step to checkpoint (which must not disturb it)
    tracker = StoreTracker(config)
    saved: dict[int, Path] = {}
    lost_at, tentative_at = [], []
    for k, (dets, now) in enumerate(stream):
        assert_same_output(tracker.update(dets, now=now), reference[k], f"step {k}")
        state = tracker.state_dict()
        if (state["tracks"]["state"] == LOST).any():
            lost_at.append(k)
        if (state["tracks"]["state"] == TENTATIVE).any():
            tentative_at.append(k)
        saved[k] = save_checkpoint(tmp_path / f"step-{k}.npz", {"tracker": state, "step": k})
    final_state = tracker.state_dict()
    assert lost_at and tentative_at
    empty_steps = [k for k, (d, _) in enumerate(stream) if len(d) == 0]
    stops = sorted(
        {0, 1, lost_at[0], lost_at[len(lost_at) // 2], tentative_at[-1], empty_steps[0], 60, 88}
    )

    for k in stops:
        ckpt = load_checkpoint(saved[k])
        assert ckpt["step"] == k
        resumed = StoreTracker(config, id_counter=IdCounter())
        resumed.load_state_dict(ckpt["tracker"])
        for j in range(k + 1, len(stream)):
            dets, now = stream[j]
            assert_same_output(resumed.update(dets, now=now), reference[j], f"stop {k}, step {j}")
        assert_same_state(resumed.state_dict(), final_state, f"stop {k}: final state")


def test_the_state_holds_every_track_column_but_the_embedding():
    tracker = StoreTracker()
    tracker.update(busy_frame(0))
    state = tracker.state_dict()
    assert set(state) == {
        "format",
        "version",
        "config",
        "config_sha256",
        "tracks",
        "cameras",
        "id_counter",
    }
    assert set(state["tracks"]) == {f.name for f in fields(TrackTable)} - {"embedding"}
    assert state["cameras"]["names"] == tracker.camera_names
    assert state["id_counter"] == {"next_id": tracker.next_ids.next_id}
    # a copy, not a view: the tracker moving on does not change a state already taken
    before = state["tracks"]["mean"].copy()
    tracker.update(busy_frame(1))
    np.testing.assert_array_equal(state["tracks"]["mean"], before)


# -------------------------------------------------------------- appearance
def _fed_embeddings(stream, k: int) -> np.ndarray:
    parts = [d.embedding for d, _ in stream[: k + 1] if d.embedding is not None and len(d)]
    return np.concatenate(parts)


def test_the_checkpoint_holds_no_embedding_and_appearance_is_rebuilt(tmp_path):
    dim = 48
    stream = store_stream(seed=5, emb_dim=dim)
    k = 40
    tracker = StoreTracker(APPEARANCE)
    for dets, now in stream[: k + 1]:
        tracker.update(dets, now=now)
    in_memory = tracker.tracks.embedding
    assert in_memory.shape == (len(tracker.tracks), dim) and (in_memory != 0).any(axis=1).all()
    path = save_checkpoint(tmp_path / "ckpt.npz", {"tracker": tracker.state_dict()})

    # no array has the embedding dimension as its trailing axis (and no count happens to be it)
    assert dim not in (len(tracker.tracks), len(tracker.camera_names))
    with np.load(path, allow_pickle=False) as npz:
        members = {name: npz[name] for name in npz.files}
    assert all(a.ndim == 0 or a.shape[-1] != dim for a in members.values())
    # no stored number is an embedding value, as fed or as the tracks held it
    values = np.unique(
        np.concatenate([_fed_embeddings(stream, k).ravel(), in_memory.ravel()]).astype(np.float64)
    )
    for name, a in members.items():
        if a.dtype.kind == "f":
            assert not np.isin(a.astype(np.float64), values).any(), name
            assert not np.isin(a.astype(np.float32).astype(np.float64), values).any(), name
    raw = path.read_bytes()
    for row in in_memory:
        assert row[:2].tobytes() not in raw  # two neighbouring float32 values, as a table stores
        assert not any(struct.pack("<d", v) in raw for v in row.astype(np.float64))
    # no key names an embedding (the config's `embedding_momentum` is a setting, not data)
    manifest = json.loads(members["manifest"].tobytes())
    tree = manifest["tree"]["dict"]["tracker"]["dict"]
    keys = [n for n in members if n != "manifest"] + [
        k for part, node in tree.items() if part != "config" for k in _keys(node)
    ]
    assert keys and not [key for key in keys if "emb" in key.lower()]

    # resumed: tracks have no embedding until a detection gives them one, then work on
    resumed = StoreTracker(APPEARANCE)
    resumed.load_state_dict(load_checkpoint(path)["tracker"])
    assert resumed.tracks.embedding.shape == (len(tracker.tracks), 0)
    dets, now = stream[k + 1]
    out = resumed.update(dets, now=now)
    assert len(out) and resumed.tracks.embedding.shape[1] == dim
    rows = np.flatnonzero(np.isin(resumed.tracks.track_id, out.tracker_id))
    by_id = dict(zip(out.tracker_id.tolist(), out.data["detection_index"].tolist(), strict=True))
    for r in rows:  # the first match sets the embedding: not blended with the zero vector
        det = dets.embedding[by_id[int(resumed.tracks.track_id[r])]]
        expected = (det / np.linalg.norm(det)).astype(np.float32)
        np.testing.assert_allclose(resumed.tracks.embedding[r], expected, rtol=1e-6)
    for dets, now in stream[k + 2 :]:
        out = resumed.update(dets, now=now)
    assert len(out) and (np.linalg.norm(resumed.tracks.embedding, axis=1) > 0.5).mean() > 0.8


def _keys(node: dict) -> list[str]:
    ((kind, body),) = node.items()
    if kind == "dict":
        return [k for key, child in body.items() for k in [key, *_keys(child)]]
    if kind == "list":
        return [k for child in body for k in _keys(child)]
    return []


def _walkers(t: float, xs=(100.0, 300.0, 500.0)) -> Detections:
    emb = np.eye(3, 8, dtype=np.float32)
    boxes = [[x + 20 * t, 200, x + 20 * t + 40, 300] for x in xs]
    return Detections(xyxy=boxes, confidence=[0.9] * 3, embedding=emb, camera_id="c", timestamp=t)


def test_a_zero_embedding_neither_attracts_nor_repels_a_match(tmp_path):
    """With an appearance gate of 1, a zero vector's cosine distance (1) would pass the gate and
    push every resumed track's cost above `match_cost`: nobody would keep their id."""
    cfg = TrackerConfig(
        appearance_weight=0.9,
        appearance_gate=1.0,
        appearance_proximity=1.0,
        observation_recovery=False,  # the recovery stage would re-find them by IoU alone
    )
    tracker = StoreTracker(cfg)
    for k in range(5):
        before = tracker.update(_walkers(k / FPS))
    resumed = StoreTracker(cfg)
    resumed.load_state_dict(load_checkpoint(save_checkpoint(tmp_path / "c", tracker.state_dict())))
    for k in range(5, 8):
        after = resumed.update(_walkers(k / FPS))
        assert sorted(after.tracker_id.tolist()) == sorted(before.tracker_id.tolist())
    # each first match set its track's embedding; blending with zeros would have shrunk it
    np.testing.assert_allclose(resumed.tracks.embedding, np.eye(3, 8), rtol=1e-6)


def test_a_step_without_embeddings_between_steps_with_them():
    tracker = StoreTracker(APPEARANCE)
    tracker.update(_walkers(0.0))
    plain = _walkers(0.1, xs=(100.0, 300.0, 500.0, 700.0)[:3])
    plain.embedding = None
    newcomer = Detections(
        xyxy=[[800, 50, 840, 150]], confidence=[0.9], camera_id="c", timestamp=0.1
    )
    tracker.update(Detections.concatenate([plain, newcomer]))  # a new track, no embedding
    assert tracker.tracks.embedding.shape == (4, 8)
    assert (tracker.tracks.embedding[tracker.tracks.cam == 0] != 0).any(axis=1).sum() == 3
    with pytest.raises(ValueError, match="embeddings changed dimension mid-stream"):
        tracker.update(
            Detections(xyxy=[[1, 1, 5, 9]], embedding=np.ones((1, 5)), camera_id="c", timestamp=1)
        )


# ---------------------------------------------------------------- refusals
def test_loading_into_a_tracker_with_another_config_is_refused(tmp_path):
    tracker = StoreTracker()
    tracker.update(busy_frame(1))
    state = load_checkpoint(save_checkpoint(tmp_path / "c.npz", tracker.state_dict()))
    other = StoreTracker(TrackerConfig(lost_track_buffer_s=2.0))
    with pytest.raises(ValueError, match=r"another config \(lost_track_buffer_s: saved 1.2"):
        other.load_state_dict(state)
    assert len(other.tracks) == 0 and other.camera_names == []  # left as it was
    StoreTracker(TrackerConfig()).load_state_dict(state)  # the same config loads
    state["config_sha256"] = "0" * 64
    with pytest.raises(ValueError, match="config hash differs"):
        StoreTracker().load_state_dict(state)


def test_states_that_are_not_tracker_states_are_refused():
    tracker = StoreTracker()
    tracker.update(busy_frame(1))
    with pytest.raises(ValueError, match="not a tracker state"):
        StoreTracker().load_state_dict({"pipeline": {}})
    bad = tracker.state_dict()
    bad["tracks"]["mean"] = bad["tracks"]["mean"][:, :4]
    fresh = StoreTracker()
    with pytest.raises(ValueError, match=r"tracks.mean: expected shape \(\d+, 8\)"):
        fresh.load_state_dict(bad)
    assert fresh.next_ids.next_id == 1  # nothing was half-loaded
    bad = tracker.state_dict()
    bad["tracks"]["cam"][:] = 7
    with pytest.raises(ValueError, match="camera index out of range"):
        StoreTracker().load_state_dict(bad)
    bad = tracker.state_dict()
    bad["tracks"]["hits"] = bad["tracks"]["hits"] + 0.5
    with pytest.raises(ValueError, match="invalid state"):
        StoreTracker().load_state_dict(bad)


def test_id_counters_that_cannot_be_saved_are_refused():
    def counter(n):
        return np.arange(n, dtype=np.int64) + 1000

    tracker = StoreTracker(id_counter=counter)
    tracker.update(busy_frame(0))
    with pytest.raises(TypeError, match="cannot be saved"):
        tracker.state_dict()
    state = StoreTracker().state_dict()
    with pytest.raises(TypeError, match="has no load_state_dict"):
        StoreTracker(id_counter=counter).load_state_dict(state)

    class Remote:  # any counter with both methods is saved through them
        def __init__(self):
            self.issued = 500

        def __call__(self, n):
            self.issued += n
            return np.arange(self.issued - n, self.issued, dtype=np.int64)

        def state_dict(self):
            return {"issued": self.issued}

        def load_state_dict(self, state):
            self.issued = state["issued"]

    tracker = StoreTracker(id_counter=Remote())
    tracker.update(busy_frame(0))
    resumed = StoreTracker(id_counter=Remote())
    resumed.load_state_dict(tracker.state_dict())
    assert resumed.next_ids.issued == tracker.next_ids.issued > 500


def test_id_counter_state():
    counter = IdCounter(start=10)
    counter(5)
    other = IdCounter()
    other.load_state_dict(counter.state_dict())
    np.testing.assert_array_equal(other(2), [15, 16])
    with pytest.raises(ValueError, match="next_id"):
        other.load_state_dict({"next_id": "15"})


# ------------------------------------------------------------- the file
def test_nested_dicts_round_trip_exactly(tmp_path):
    state = {
        "tracker": {
            "f64": np.linspace(0, 1, 7),
            "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
            "i8": np.array([-1, 0, 2], np.int8),
            "u16": np.array([65535], np.uint16),
            "bool": np.array([True, False]),
            "text": np.array(["cam-a", "ceil-sw"]),
            "empty": np.zeros((0, 8, 8)),
            "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
            "zero_d": np.array(3.5),
            "nan": np.array([np.nan, np.inf, -0.0]),
        },
        "pipeline": {
            "frame": 41,
            "big": 2**62 + 1,
            "time": 1712.000000001,
            "neg_zero": -0.0,
            "nan": float("nan"),
            "name": "store-1 / ünïcode",
            "flag": True,
            "none": None,
            "np_scalars": [np.float32(0.1), np.int64(7), np.bool_(True)],
            "cameras": ["a", "b"],
            "mixed": [1, [2.5, {"x": np.ones(2)}], "s"],
            "nested": {"empty": {}, "list": []},
        },
    }
    path = save_checkpoint(tmp_path / "sub" / "ckpt.npz", state)
    assert path == tmp_path / "sub" / "ckpt.npz"
    assert_same_state(load_checkpoint(path), state)
    assert sorted(p.name for p in path.parent.iterdir()) == ["ckpt.npz"]  # no temp file left
    assert "arrays/tracker/f32.npy" in zipfile.ZipFile(path).namelist()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": (1, 2)}, "a: cannot store a tuple"),
        ({1: 2}, "keys must be non-empty strings"),
        ({"a/b": 1}, "without '/'"),
        ({"a": np.array([object()])}, "dtype object"),
        ({"a": {"b": {1, 2}}}, "a/b: cannot store a set"),
        ({"a": np.float64(1), "b": Path("x")}, "b: cannot store a"),
    ],
)
def test_values_that_would_not_come_back_are_refused_and_nothing_is_written(
    tmp_path, value, message
):
    path = save_checkpoint(tmp_path / "c.npz", {"old": np.arange(3)})
    with pytest.raises(TypeError, match=message):
        save_checkpoint(path, value)
    assert_same_state(load_checkpoint(path), {"old": np.arange(3)})
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


def test_a_crash_while_writing_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "c.npz", {"step": 1})

    def crash(f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"step": 2})
    monkeypatch.undo()
    assert load_checkpoint(path) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


def test_files_that_are_not_checkpoints_give_a_clear_error(tmp_path):
    good = save_checkpoint(tmp_path / "good.npz", {"a": np.arange(1000.0)})
    cases = {
        "text.npz": b"step: 41\n",
        "empty.npz": b"",
        "truncated.npz": good.read_bytes()[: good.stat().st_size // 2],
        "pickle.npz": b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    np.savez(tmp_path / "foreign.npz", mean=np.zeros(3))
    np.save(tmp_path / "array.npy", np.zeros(3))
    np.savez(tmp_path / "objects.npz", manifest=np.array([{"a": 1}], dtype=object))
    np.savez(tmp_path / "other-json.npz", manifest=np.frombuffer(b'{"format": "x"}', np.uint8))
    flipped = bytearray(good.read_bytes())
    flipped[len(flipped) // 2] ^= 0xFF  # a damaged array payload fails the zip CRC
    (tmp_path / "flipped.npz").write_bytes(bytes(flipped))
    names = [*cases, "foreign.npz", "array.npy", "objects.npz", "other-json.npz", "flipped.npz"]
    for name in names:
        with pytest.raises(
            CheckpointError, match=rf"checkpoint {tmp_path / name}: not a storelens"
        ):
            load_checkpoint(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_checkpoint(tmp_path / "missing.npz")
