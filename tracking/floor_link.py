"""A first cross-camera person link for hands: each camera's track joins the person another
camera sees at the same floor spot when it is first seen, and keeps that person.

    linker = FloorLinker(geometries)
    person_of = linker.update(tracks)     # camera → (track ids, person ids) for `locate_hands`

A track's floor point is its box's foot point through the camera's calibration. A track not
yet linked joins the nearest person (within `max_distance_m`) that tracks of *other* cameras
place there now; otherwise it starts a person of its own. The link is kept for the track's
life, so one person's hands from several cameras share an id (and are triangulated), and
its reaches from several views are one. This is a stand-in until the shoppers stage's
floor-plan tracker gives global identities; it never revises a link.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from storelens.detections import PERSON, Detections
from storelens.tracking.shoppers import STRIDE
from storelens.tracking.standing import floor_points

if TYPE_CHECKING:
    from storelens.geometry import CameraGeometry


class FloorLinker:
    """Camera tracks → persons by where they stand (see the module docstring)."""

    def __init__(self, geometries: dict[str, CameraGeometry], max_distance_m: float = 0.6) -> None:
        self.geometries = geometries
        self.max_distance_m = max_distance_m
        self.cameras = sorted(geometries)
        self._index = {c: i for i, c in enumerate(self.cameras)}
        self._keys = np.zeros(0, np.int64)  # camera index * STRIDE + track, sorted
        self._persons = np.zeros(0, np.int64)
        self._next = 0

    def name_of(self, person: int) -> tuple[str, int] | None:
        """The first camera track linked to `person` (camera id, track id)."""
        rows = np.flatnonzero(self._persons == person)
        if not len(rows):
            return None
        key = int(self._keys[rows].min())
        return self.cameras[key // STRIDE], key % STRIDE

    def update(self, tracks: Detections) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        persons = tracks.class_id == PERSON
        cams = tracks.camera_id[persons]
        ids = tracks.tracker_id[persons].astype(np.int64)
        names, which = np.unique(cams, return_inverse=True)
        floor = floor_points(self.geometries, cams, tracks.xyxy[persons])
        index = np.array([self._index.get(c, len(self.cameras)) for c in names], np.int64)
        key = index[which.ravel()] * STRIDE + ids
        pos = np.minimum(np.searchsorted(self._keys, key), max(len(self._keys) - 1, 0))
        found = (self._keys[pos] == key) if len(self._keys) else np.zeros(len(key), bool)
        known = np.where(found, self._persons[pos] if len(self._keys) else -1, -1)
        new = np.flatnonzero(known < 0)
        for i in new:  # tracks seen for the first time only: a few per second
            others = (known >= 0) & (cams != cams[i]) & np.isfinite(floor[:, 0])
            person = -1
            if others.any() and np.isfinite(floor[i, 0]):
                gap = np.linalg.norm(floor[others] - floor[i], axis=1)
                if gap.min() <= self.max_distance_m:
                    person = int(known[others][np.argmin(gap)])
            if person < 0:
                person, self._next = self._next, self._next + 1
            known[i] = person
        if len(new):
            keys = np.concatenate([self._keys, key[new]])
            order = np.argsort(keys, kind="stable")
            self._keys, self._persons = (
                keys[order],
                np.concatenate([self._persons, known[new]])[order],
            )
        return {camera: (ids[cams == camera], known[cams == camera]) for camera in names.tolist()}
