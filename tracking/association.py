"""Per-camera assignment over padded blocks.

Tracks and detections of many cameras are laid out as padded (C, Kmax) index blocks, so every
cost (IoU, motion gate, direction, appearance) is computed for all cameras in one array
operation of shape (C, Tmax, Nmax); only the final linear assignment runs per camera, with
`lap.lapjv` on that camera's small matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import lap
import numpy as np

INFEASIBLE = 1e6


@dataclass(frozen=True)
class Blocks:
    """Padded layout: `index[c, k]` is a row of the original array, or -1 for padding."""

    cameras: np.ndarray  # (C,) camera index of each block
    index: np.ndarray  # (C, Kmax)

    @property
    def valid(self) -> np.ndarray:
        return self.index >= 0


def blocks(rows: np.ndarray, cams: np.ndarray, all_cams: np.ndarray) -> Blocks:
    """Group `rows` (indices) by their camera `cams` into padded blocks ordered like `all_cams`."""
    C = len(all_cams)
    if len(rows) == 0 or C == 0:
        return Blocks(all_cams, np.full((C, 0), -1, int))
    slot = np.searchsorted(all_cams, cams)
    order = np.lexsort((rows, slot))
    slot, rows = slot[order], rows[order]
    counts = np.bincount(slot, minlength=C)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(rows)) - start[slot]
    index = np.full((C, counts.max()), -1, int)
    index[slot, rank] = rows
    return Blocks(all_cams, index)


def gather(values: np.ndarray, index: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """values[index] with padding (-1) filled: (C,K) index → (C,K,...) values."""
    out = values[np.where(index >= 0, index, 0)]
    mask = index < 0
    if mask.any():
        out = out.copy()
        out[mask] = fill
    return out


def assign(
    cost: np.ndarray, tracks: Blocks, dets: Blocks, limit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost matching per camera; pairs costing more than `limit` are not made.

    Cameras where every track and every detection has at most one feasible partner are solved
    directly (the optimum is then to take every feasible pair); only the others go to
    `lap.lapjv`, one small matrix per camera.

    Returns matched (track rows, detection rows) as two aligned arrays.
    """
    feasible = (cost <= limit) & tracks.valid[:, :, None] & dets.valid[:, None, :]
    unambiguous = (feasible.sum(axis=2) <= 1).all(axis=1) & (feasible.sum(axis=1) <= 1).all(axis=1)
    c_idx, t_idx, d_idx = np.nonzero(feasible & unambiguous[:, None, None])
    t_rows, d_rows = [tracks.index[c_idx, t_idx]], [dets.index[c_idx, d_idx]]
    n_t = tracks.valid.sum(axis=1)
    n_d = dets.valid.sum(axis=1)
    cost = np.minimum(cost, INFEASIBLE)
    for c in np.flatnonzero(~unambiguous & feasible.any(axis=(1, 2))):
        _, x, _ = lap.lapjv(cost[c, : n_t[c], : n_d[c]], extend_cost=True, cost_limit=limit)
        matched = np.flatnonzero(x >= 0)
        t_rows.append(tracks.index[c, matched])
        d_rows.append(dets.index[c, x[matched]])
    return np.concatenate(t_rows).astype(int), np.concatenate(d_rows).astype(int)
