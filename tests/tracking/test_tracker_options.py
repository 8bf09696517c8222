"""Tracker options that the default config leaves off, each on a constructed scene where it
visibly changes what the tracker does (motion gate, direction term, size freezing, which box is
reported), and the assignment's fast path checked against scipy's independent solver."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from storelens import Detections
from storelens.boxes import xywh_to_xyxy, xyxy_to_xywh
from storelens.tracking import association
from storelens.tracking.association import INFEASIBLE, assign, blocks
from storelens.tracking.config import TrackerConfig
from storelens.tracking.kalman import BoxKalman
from storelens.tracking.tracker import LOST, TENTATIVE, StoreTracker

FPS = 10.0


def person_box(x: float, y: float = 200.0, w: float = 40.0, h: float = 100.0) -> list[float]:
    return [x, y, x + w, y + h]


def frame(boxes, t: float, score: float = 0.9) -> Detections:
    n = len(boxes)
    return Detections(
        xyxy=np.array(boxes, float).reshape(n, 4),
        confidence=np.full(n, score),
        class_id=np.zeros(n, int),
        camera_id="cam-a",
        timestamp=t,
    )


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area


def tracks_state(tracker: StoreTracker) -> dict[str, np.ndarray]:
    return tracker.state_dict()["tracks"]


# ------------------------------------------------------------------------------- motion gate
@pytest.mark.parametrize("observation_recovery", [False, True])
def test_motion_gate_refuses_a_jump_that_iou_alone_accepts(observation_recovery):
    """A person stands still for 1.2 s (the filter is sure where they are); then a box appears
    25 px (over half a width) to the side. IoU alone accepts it as the same person; the motion
    gate refuses it (far outside the prediction's 99% bound), so the track is lost and the box
    starts a new, tentative track. The jump is also chosen outside the recovery stage's gate
    (IoU with the last box < 0.3): that stage does not apply the motion gate."""
    still, jumped = person_box(100), person_box(125)
    assert 1 - iou(still, jumped) <= TrackerConfig().match_cost  # IoU alone: a match
    assert 1 - iou(still, jumped) > TrackerConfig().recovery_match_cost  # not recoverable
    out = {}
    for gate in (False, True):
        cfg = TrackerConfig(motion_gate=gate, observation_recovery=observation_recovery)
        tracker = StoreTracker(cfg)
        seen = [tracker.update(frame([still], k / FPS, score=1.0)) for k in range(12)]
        (first_id,) = {int(i) for o in seen for i in o.tracker_id}
        out[gate] = (first_id, tracker.update(frame([jumped], 12 / FPS, score=1.0)), tracker)

    first_id, jump_out, tracker = out[False]
    assert jump_out.tracker_id.tolist() == [first_id]  # without the gate: the same person
    first_id, jump_out, tracker = out[True]
    assert len(jump_out) == 0  # with it: nothing confirmed matched the jump
    state = tracks_state(tracker)
    assert state["state"][state["track_id"] == first_id].tolist() == [LOST]
    assert sorted(state["state"].tolist()) == sorted([LOST, TENTATIVE])


def test_motion_gate_lets_ordinary_motion_through():
    """The gate is not a wall: a steady walk of 8 px per frame keeps one id with the gate on."""
    tracker = StoreTracker(TrackerConfig(motion_gate=True, observation_recovery=False))
    outs = [tracker.update(frame([person_box(100 + 8 * k)], k / FPS)) for k in range(20)]
    assert all(len(o) == 1 for o in outs)
    assert len({int(o.tracker_id[0]) for o in outs}) == 1


# --------------------------------------------------------------------------- direction term
def test_direction_term_picks_the_detection_along_the_walk():
    """A walker heads right at 40 px/s; at 1.2 s someone steps out just behind them. Two boxes
    lie around the walker's prediction: the newcomer's 6 px behind it (2 px behind where the
    walker last was: against the direction of motion) and the walker's own 7 px ahead. IoU
    prefers the newcomer's box (slightly more overlap); OC-SORT's direction term, which rewards
    boxes in the direction the track was moving, gives the walker their own box."""
    speed = 4.0  # px per frame
    matched = {}
    for weight in (0.0, 0.2):
        tracker = StoreTracker(TrackerConfig(direction_weight=weight))
        outs = [tracker.update(frame([person_box(100 + speed * k)], k / FPS)) for k in range(12)]
        (walker,) = {int(i) for o in outs for i in o.tracker_id}
        predicted = 100 + speed * 12
        behind, ahead = person_box(predicted - 6), person_box(predicted + 7)
        last_x = tracks_state(tracker)["last_obs"][0, 0]
        assert behind[0] < last_x < predicted < ahead[0]
        assert iou(behind, person_box(predicted)) > iou(ahead, person_box(predicted))
        out = tracker.update(frame([behind, ahead], 12 / FPS))
        assert out.tracker_id.tolist() == [walker]  # the newcomer is not confirmed yet
        matched[weight] = int(out.data["detection_index"][0])
    assert matched == {0.0: 0, 0.2: 1}  # IoU alone: the box behind; with direction: ahead


# ------------------------------------------------------------------------ size when lost
@pytest.mark.parametrize("size_rate", [50.0, -30.0], ids=["growing", "shrinking"])
def test_size_of_a_lost_box_follows_its_rate_only_when_not_frozen(size_rate):
    """A person walks sideways while their box grows (towards the camera) or shrinks (away) by
    `size_rate` px of height per second, then is hidden for 0.6 s. With
    `freeze_size_when_lost=False` the hidden box keeps growing or shrinking at the rate the filter
    learnt; with the default (ByteTrack's rule) it keeps moving but its size stops changing one
    step after it was lost (the first missed step predicts the track while still tracked)."""
    seen_until, hidden_until = 15, 21
    results = {}
    for freeze in (True, False):
        tracker = StoreTracker(TrackerConfig(freeze_size_when_lost=freeze))
        for k in range(seen_until):
            h = 150 + size_rate * k / FPS
            x = 200 + 20 * k / FPS
            tracker.update(frame([[x, 100, x + 0.4 * h, 100 + h]], k / FPS))
        rate = tracks_state(tracker)["mean"][0, 6:8].copy()
        means = []
        for k in range(seen_until, hidden_until):
            tracker.update(Detections.empty(), now=k / FPS)
            state = tracks_state(tracker)
            assert state["state"].tolist() == [LOST]
            means.append(state["mean"][0].copy())
        results[freeze] = rate, np.array(means)

    rate, means = results[False]
    assert rate[1] == pytest.approx(size_rate, rel=0.05)  # the filter learnt the height rate
    assert rate[0] == pytest.approx(0.4 * size_rate, rel=0.05)
    steps = np.diff(means[:, 2:4], axis=0)
    np.testing.assert_allclose(steps, np.broadcast_to(rate / FPS, steps.shape), rtol=1e-9)
    np.testing.assert_allclose(means[:, 6:8], np.broadcast_to(rate, (len(means), 2)))

    rate_frozen, frozen = results[True]
    np.testing.assert_allclose(rate_frozen, rate)  # same history, same filter until hidden
    np.testing.assert_allclose(frozen[0], means[0])  # the first missed step is not frozen yet
    np.testing.assert_array_equal(frozen[1:, 2:4], np.broadcast_to(frozen[0, 2:4], (5, 2)))
    np.testing.assert_array_equal(frozen[1:, 6:8], 0.0)
    assert np.all(np.diff(frozen[:, 0]) > 1.0)  # frozen size, but the box still moves along
    grown = means[-1, 3] - frozen[-1, 3]
    assert grown == pytest.approx(rate[1] * (hidden_until - seen_until - 1) / FPS, rel=1e-9)


# ------------------------------------------------------------------------------ output box
def test_output_box_detection_is_the_matched_box_and_filtered_the_kalman_posterior():
    """A steady walk seen through a jittery detector (4 px noise). `output_box="detection"`
    reports exactly each matched detection's box; `"filtered"` reports the Kalman posterior,
    here recomputed with `BoxKalman` alone (initiate on the first box, then predict 0.1 s and
    update with each box), which is smoother: nearer the true path than the raw boxes. The
    option changes only the reported boxes, never who is matched to what."""
    rng = np.random.default_rng(0)
    n = 30
    truth = np.array([person_box(100 + 8 * k) for k in range(n)])
    noisy = truth + rng.normal(0, 4, truth.shape)
    frames = [frame(noisy[k : k + 1], k / FPS) for k in range(n)]
    outs = {}
    for mode in ("detection", "filtered"):
        tracker = StoreTracker(TrackerConfig(output_box=mode))
        outs[mode] = [tracker.update(f) for f in frames]
    detection, filtered = outs["detection"], outs["filtered"]
    assert all(len(o) == 1 for o in detection + filtered)
    for d, f in zip(detection, filtered, strict=True):
        assert d.tracker_id.tolist() == f.tracker_id.tolist()
        assert d.data["detection_index"].tolist() == f.data["detection_index"].tolist() == [0]

    for f_in, d in zip(frames, detection, strict=True):
        np.testing.assert_array_equal(d.xyxy, f_in.xyxy[d.data["detection_index"]])

    cfg = TrackerConfig()
    kalman = BoxKalman(cfg.position_noise, cfg.velocity_noise, cfg.measurement_noise)
    z = xyxy_to_xywh(np.array([f_in.xyxy[0] for f_in in frames], np.float64))
    mean, cov = kalman.initiate(z[:1])
    posterior = [xywh_to_xyxy(mean[:, :4])[0]]
    for k in range(1, n):
        mean, cov = kalman.predict(mean, cov, np.array([1 / FPS]))
        mean, cov = kalman.update(mean, cov, z[k : k + 1])
        posterior.append(xywh_to_xyxy(mean[:, :4])[0])
    got = np.array([o.xyxy[0] for o in filtered], np.float64)
    np.testing.assert_allclose(got, np.array(posterior), atol=1e-3)

    raw = np.array([o.xyxy[0] for o in detection], np.float64)
    assert np.abs(got - raw)[1:].max() > 1.0  # visibly not the detections
    late = slice(10, None)  # once the filter has settled
    assert np.abs(got - truth)[late].mean() < 0.8 * np.abs(raw - truth)[late].mean()


# ---------------------------------------------------------------- assignment vs scipy
LIMITS = (0.5, 0.7, 0.8, 0.9)


def camera_costs(rng: np.random.Generator, n_t: int, n_d: int, limit: float, kind: str):
    """One camera's (n_t, n_d) cost matrix.

    "sparse": at most one feasible partner per track and per detection (assign's fast path);
    the rest is above the limit or infeasible. "dense": many feasible pairs, some above the
    limit, some infeasible, a few negative (the direction bonus can push costs below 0)."""
    if kind == "sparse":
        cost = np.where(
            rng.random((n_t, n_d)) < 0.5,
            rng.uniform(limit + 1e-3, limit + 0.5, (n_t, n_d)),
            INFEASIBLE,
        )
        k = min(n_t, n_d)
        pairs = rng.integers(0, k + 1)
        rows = rng.permutation(n_t)[:pairs]
        cols = rng.permutation(n_d)[:pairs]
        cost[rows, cols] = rng.uniform(-0.1, limit, pairs)
        return cost
    cost = rng.uniform(-0.15, limit + 0.3, (n_t, n_d))
    cost[rng.random((n_t, n_d)) < 0.2] = INFEASIBLE
    cost[rng.random((n_t, n_d)) < 0.05] = 2 * INFEASIBLE  # beyond INFEASIBLE: clipped by assign
    return cost


def make_problem(rng: np.random.Generator, shapes, kinds, limit: float):
    """Cameras with their own tracks and detections under shuffled global row numbers, laid out
    with `blocks` as the tracker does; padding is filled with cheap garbage that must be
    ignored. Returns (cost, track blocks, det blocks, per-camera (track rows, det rows, costs))."""
    n_cams = len(shapes)
    t_cam = np.concatenate([np.full(n_t, c) for c, (n_t, _) in enumerate(shapes)]).astype(int)
    d_cam = np.concatenate([np.full(n_d, c) for c, (_, n_d) in enumerate(shapes)]).astype(int)
    t_rows = rng.permutation(len(t_cam)) + 100  # rows in some larger table, in any order
    d_rows = rng.permutation(len(d_cam)) + 7
    all_cams = np.arange(n_cams)
    tb = blocks(t_rows, t_cam, all_cams)
    db = blocks(d_rows, d_cam, all_cams)
    cost = rng.uniform(-1.0, 0.0, (n_cams, tb.index.shape[1], db.index.shape[1]))
    cameras = []
    for c, ((n_t, n_d), kind) in enumerate(zip(shapes, kinds, strict=True)):
        sub = camera_costs(rng, n_t, n_d, limit, kind)
        cost[c, :n_t, :n_d] = sub
        assert (tb.index[c, :n_t] >= 0).all() and (tb.index[c, n_t:] < 0).all()
        cameras.append((tb.index[c, :n_t], db.index[c, :n_d], sub))
    return cost, tb, db, cameras


def best_matching(sub: np.ndarray, limit: float, banned=None) -> tuple[float, set]:
    """Independent optimum with scipy: minimise the sum of (cost - limit) over matched pairs,
    a pair being allowed only at cost <= limit (the lapjv `cost_limit` objective: leaving a
    track and a detection unmatched costs `limit`). Returns (objective, {(i, j)})."""
    gain = np.minimum(np.minimum(sub, INFEASIBLE) - limit, 0.0)
    if banned is not None:
        gain[banned] = 0.0
    if gain.size == 0:
        return 0.0, set()
    r, c = linear_sum_assignment(gain)
    keep = gain[r, c] < 0
    return float(gain[r, c][keep].sum()), set(zip(r[keep].tolist(), c[keep].tolist(), strict=True))


def unique_optimum(sub: np.ndarray, limit: float, tol: float = 1e-9) -> bool:
    """True when no other matching reaches the optimum: every optimal pair, banned, makes it
    strictly worse, and no two left-over partners could be paired at exactly the limit."""
    value, pairs = best_matching(sub, limit)
    for i, j in pairs:
        banned = np.zeros(sub.shape, bool)
        banned[i, j] = True
        if best_matching(sub, limit, banned)[0] <= value + tol:
            return False
    free_t = np.setdiff1d(np.arange(sub.shape[0]), [i for i, _ in pairs])
    free_d = np.setdiff1d(np.arange(sub.shape[1]), [j for _, j in pairs])
    return not np.any(np.abs(sub[np.ix_(free_t, free_d)] - limit) <= tol)


def check_against_scipy(cost, tb, db, cameras, limit: float) -> None:
    t_out, d_out = assign(cost.copy(), tb, db, limit)
    assert t_out.shape == d_out.shape
    assert len(set(t_out.tolist())) == len(t_out) and len(set(d_out.tolist())) == len(d_out)
    got = set(zip(t_out.tolist(), d_out.tolist(), strict=True))
    for t_rows, d_rows, sub in cameras:
        row_of_t = {int(r): i for i, r in enumerate(t_rows)}
        row_of_d = {int(r): j for j, r in enumerate(d_rows)}
        # a pair touching this camera lies wholly in it: never a track of one camera matched
        # to a detection of another
        touching = {(t, d) for t, d in got if t in row_of_t or d in row_of_d}
        assert all(t in row_of_t and d in row_of_d for t, d in touching), touching
        mine = {(row_of_t[t], row_of_d[d]) for t, d in touching}
        assert all(sub[i, j] <= limit for i, j in mine), "a pair above the limit was made"
        value = sum(sub[i, j] - limit for i, j in mine)
        best, pairs = best_matching(sub, limit)
        assert value == pytest.approx(best, abs=1e-9), (sub, mine, pairs)
        if unique_optimum(sub, limit):
            assert mine == pairs, (sub, mine, pairs)


def random_problem(seed: int):
    rng = np.random.default_rng(seed)
    n_cams = int(rng.integers(1, 6))
    shapes = [(int(rng.integers(0, 7)), int(rng.integers(0, 7))) for _ in range(n_cams)]
    kinds = [("sparse", "dense")[int(rng.integers(0, 2))] for _ in range(n_cams)]
    limit = LIMITS[int(rng.integers(0, len(LIMITS)))]
    return make_problem(rng, shapes, kinds, limit), limit


def test_assign_matches_scipy_and_uses_both_paths(monkeypatch):
    """300 random multi-camera problems: per camera the same optimum as scipy's solver, and
    the same pairs where the optimum is unique. Counting `lap.lapjv` calls shows that both the
    fast path (cameras with only unambiguous feasible pairs) and lapjv were exercised."""
    calls = []
    real = association.lap.lapjv

    def counting(*args, **kwargs):
        calls.append(args[0].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(association.lap, "lapjv", counting)
    with_feasible = unambiguous = 0
    for seed in range(300):
        (cost, tb, db, cameras), limit = random_problem(seed)
        check_against_scipy(cost, tb, db, cameras, limit)
        for _, _, sub in cameras:
            feasible = sub <= limit
            if feasible.any():
                with_feasible += 1
                unambiguous += bool(
                    (feasible.sum(axis=0) <= 1).all() and (feasible.sum(axis=1) <= 1).all()
                )
    assert len(calls) == with_feasible - unambiguous  # lapjv saw exactly the ambiguous ones
    assert unambiguous >= 100 and len(calls) >= 100, (unambiguous, len(calls))


@settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    shapes=st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8)), min_size=1, max_size=6),
    dense=st.lists(st.booleans(), min_size=6, max_size=6),
    limit=st.sampled_from(LIMITS),
)
def test_assign_matches_scipy_on_generated_problems(seed, shapes, dense, limit):
    kinds = [("sparse", "dense")[d] for d in dense[: len(shapes)]]
    problem = make_problem(np.random.default_rng(seed), shapes, kinds, limit)
    check_against_scipy(*problem, limit)


def test_assign_fast_path_on_a_hand_made_case():
    """Two cameras: one with only disjoint feasible pairs (solved without lapjv), one where
    greedy and optimal differ (lapjv must take the two 0.4 pairs, not the 0.1 one)."""
    all_cams = np.array([0, 1])
    tb = blocks(np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1]), all_cams)
    db = blocks(np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1]), all_cams)
    cost = np.array(
        [
            [[0.3, 0.95], [INFEASIBLE, 0.2]],  # camera 0: pairs (0,0) and (1,1), each alone
            [[0.1, 0.4], [0.4, INFEASIBLE]],  # camera 1: greedy 0.1 leaves the rest unmatched
        ]
    )
    t, d = assign(cost, tb, db, limit=0.8)
    assert set(zip(t.tolist(), d.tolist(), strict=True)) == {(0, 0), (1, 1), (2, 3), (3, 2)}


def test_observation_recovery_does_not_let_through_a_jump_the_motion_gate_refused():
    """Recovery matches by the last observed box; with the gate on it must respect the gate too,
    or the gate would only ever block jumps too large for recovery's IoU threshold."""

    def box(x: float, t: float) -> Detections:
        return Detections(
            xyxy=[[x, 200, x + 40, 300]], confidence=[0.9], class_id=[0], camera_id="a", timestamp=t
        )

    reported = {}
    for gate in (False, True):
        tracker = StoreTracker(TrackerConfig(motion_gate=gate, observation_recovery=True))
        for k in range(12):
            tracker.update(box(100, k / 10))
        reported[gate] = tracker.update(box(115, 1.2)).tracker_id.tolist()
    assert reported[False] == [1]  # without the gate the jump keeps the id
    assert reported[True] == []  # with it, the jump is refused in every stage
