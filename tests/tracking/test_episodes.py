"""Hand episodes: facing volumes from the planogram, and hands entering and leaving them —
synthetic reaches first, then every true wrist of a simulated store against its true events."""

import numpy as np
import pytest

from storelens.facings import facing_volumes
from storelens.tracking.episodes import EpisodeDetector

FPS = 10


@pytest.fixture(scope="module")
def volumes(demo_layout):
    return facing_volumes(demo_layout)


def _in_front(volumes, f, outside_m):
    """A point in front of facing f's middle, `outside_m` out of its front plane."""
    c = volumes.centres()[f]
    return np.array([*(c[:2] - volumes.inward[f] * outside_m), c[2]])


def test_every_planogram_facing_has_a_volume_and_points_find_theirs(volumes, demo_layout):
    assert len(volumes) == sum(len(s.planogram) for s in demo_layout.shelves)
    assert (volumes.containing(volumes.centres()) == np.arange(len(volumes))).all()
    far = np.array([[-50.0, -50.0, 1.0]])
    assert volumes.containing(far).tolist() == [-1]
    f = 3
    assert volumes.containing(_in_front(volumes, f, 0.05)[None]).tolist() == [f]
    assert volumes.containing(_in_front(volumes, f, 0.3)[None]).tolist() == [-1]


def _run(detector, hands_per_instant):
    done = []
    for k, hands in enumerate(hands_per_instant):
        if hands:
            person, side, xyz = (np.array(v) for v in zip(*hands, strict=True))
        else:
            person, side, xyz = np.zeros(0), np.zeros(0), np.zeros((0, 3))
        done += detector.update(k / FPS, person, side, xyz)
    return done + detector.finish()


def test_a_reach_is_one_episode_from_entering_to_leaving(volumes):
    f = 5
    aisle, shelf = _in_front(volumes, f, 0.5), _in_front(volumes, f, 0.0)
    path = [aisle] * 3 + [shelf] * 4 + [aisle] * 5
    episodes = _run(EpisodeDetector(volumes), [[(7, 1, p)] for p in path])
    assert len(episodes) == 1
    e = episodes[0]
    assert (e.person_id, e.side, e.facing, e.instants) == (7, 1, f, 4)
    assert (e.shelf_id, e.level, e.slot, e.sku) == (
        volumes.shelf_id[f],
        volumes.level[f],
        volumes.slot[f],
        volumes.sku[f],
    )
    assert e.t_start == pytest.approx(0.3) and e.t_end == pytest.approx(0.6)


def test_a_short_dropout_continues_and_a_long_one_splits(volumes):
    f = 5
    shelf = _in_front(volumes, f, 0.0)
    short = [[(1, 0, shelf)]] * 3 + [[]] * 2 + [[(1, 0, shelf)]] * 3  # 0.2 s unseen
    assert len(_run(EpisodeDetector(volumes, gap_s=0.3), short)) == 1
    long = [[(1, 0, shelf)]] * 3 + [[]] * 6 + [[(1, 0, shelf)]] * 3  # 0.6 s unseen
    split = _run(EpisodeDetector(volumes, gap_s=0.3), long)
    assert len(split) == 2 and split[0].t_end < split[1].t_start


def test_moving_to_the_next_facing_and_two_people_at_one_shelf(volumes):
    same_level = np.flatnonzero(
        (volumes.shelf_id == volumes.shelf_id[0]) & (volumes.level == volumes.level[0])
    )
    a, b = same_level[:2]
    pa, pb = _in_front(volumes, a, 0.0), _in_front(volumes, b, 0.0)
    moves = [[(2, 0, pa)]] * 3 + [[(2, 0, pb)]] * 3
    episodes = _run(EpisodeDetector(volumes), moves)
    assert [e.facing for e in episodes] == [a, b]
    both = [[(3, 1, pa), (-4, 0, pb)]] * 4  # a person seen by one camera only has a negative id
    episodes = sorted(_run(EpisodeDetector(volumes), both), key=lambda e: e.person_id)
    assert [(e.person_id, e.side, e.facing) for e in episodes] == [(-4, 0, b), (3, 1, a)]
    with pytest.raises(ValueError, match="gap_s: -1"):
        EpisodeDetector(volumes, gap_s=-1)


def test_every_true_pick_and_put_back_has_its_hands_episode(store_run):
    from storelens.datasets.sim.keypoints import read_wrists
    from storelens.datasets.sim.truth import read_truth

    run = store_run.run_dir
    wrists = read_wrists(run / "wrists_3d.csv")
    detector = EpisodeDetector(facing_volumes(store_run.layout))
    k = wrists[:, 0].astype(int)
    bounds = np.searchsorted(k, np.arange(k.max() + 2))
    episodes = []
    for i in range(len(bounds) - 1):  # the store's instants, every hand of each at once
        rows = wrists[bounds[i] : bounds[i + 1]]
        if len(rows):
            episodes += detector.update(rows[0, 1], rows[:, 2], rows[:, 3], rows[:, 4:7])
    episodes += detector.finish()
    events = read_truth(run)["events.jsonl"]
    assert len(events) > 50
    person = np.array([e.person_id for e in episodes])
    side = np.array([e.side for e in episodes])
    start, end = np.array([e.t_start for e in episodes]), np.array([e.t_end for e in episodes])
    found = 0
    for e in events:  # scoring, not the hot path
        mine = (
            (person == int(e.shopper_id.lstrip("p")))
            & (side == (0 if e.hand == "left" else 1))
            & (start <= e.t_end + 0.15)
            & (end >= e.t_start - 0.15)
        )
        found += any(
            (episodes[j].shelf_id, episodes[j].level, episodes[j].slot)
            == (e.shelf_id, e.level, e.slot)
            for j in np.flatnonzero(mine)
        )
    assert found / len(events) >= 0.98, (found, len(events))
