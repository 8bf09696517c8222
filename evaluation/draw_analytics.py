"""The store's analytics as a picture: pick-to-purchase conversion per shelf zone (bars of picks
and purchases, conversion written on each) beside a heat map of where shoppers stood when they
picked, over the floor plan's shelves, lanes and doors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from storelens.attribution.analytics import Funnel
from storelens.layout import StoreLayout

HEAT_CELL_M = 0.5


def draw_store_analytics(
    layout: StoreLayout,
    shelves: Sequence[Funnel],
    pick_xy: np.ndarray,
    out_path: str | Path,
    title: str = "",
) -> Path:
    """Write the two-panel PNG to `out_path`. `shelves` from `analytics.shelf_funnels`,
    `pick_xy` (N, 2) floor positions from `analytics.pick_positions`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon as PolygonPatch

    w, d = layout.floor.width_m, layout.floor.depth_m
    fig, (bars, floor) = plt.subplots(
        1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [1, 1.25]}
    )
    keys = [f.key for f in shelves]
    y = np.arange(len(keys))
    picks = np.array([f.picks for f in shelves], float)
    bought = np.array([f.purchased for f in shelves], float)
    bars.barh(y + 0.2, picks, 0.4, label="picks", color="#9ecae1")
    bars.barh(y - 0.2, bought, 0.4, label="purchased", color="#31a354")
    top = max(picks.max(initial=0), 1.0)
    for i, f in enumerate(shelves):
        conv = "no picks" if f.conversion is None else f"{f.conversion:.0%} bought"
        dwell = "" if f.dwell_s is None else f", dwell {f.dwell_s:.0f} s"
        bars.text(top * 1.02, i, conv + dwell, va="center", fontsize=8)
    bars.set_yticks(y, keys)
    bars.invert_yaxis()
    bars.set_xlim(0, top * 1.55)
    bars.set_xlabel("units")
    bars.set_title("pick-to-purchase conversion per shelf zone", fontsize=10)
    bars.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8)

    edges_x = np.arange(0, w + HEAT_CELL_M, HEAT_CELL_M)
    edges_y = np.arange(0, d + HEAT_CELL_M, HEAT_CELL_M)
    heat, _, _ = np.histogram2d(pick_xy[:, 0], pick_xy[:, 1], bins=[edges_x, edges_y])
    masked = np.ma.masked_equal(heat.T, 0)
    mesh = floor.pcolormesh(edges_x, edges_y, masked, cmap="inferno_r", shading="flat", zorder=1)
    fig.colorbar(mesh, ax=floor, label=f"picks per {HEAT_CELL_M:g} m cell", shrink=0.85)
    floor.add_patch(PolygonPatch([(0, 0), (w, 0), (w, d), (0, d)], closed=True, fill=False, lw=2))
    for shelf in layout.shelves:
        floor.add_patch(
            PolygonPatch(
                shelf.polygon, closed=True, fc="#c8a878", ec="#6b4f2a", alpha=0.8, zorder=2
            )
        )
        c = np.mean(shelf.polygon, axis=0)
        floor.text(c[0], c[1], shelf.shelf_id, ha="center", va="center", fontsize=7, zorder=3)
    for lane in layout.checkout_lanes:
        floor.add_patch(
            PolygonPatch(lane.polygon, closed=True, fc="#9ecae1", ec="#3182bd", zorder=2)
        )
        c = np.mean(lane.polygon, axis=0)
        floor.text(c[0], c[1], lane.lane_id, ha="center", va="center", fontsize=7, zorder=3)
    for door in layout.entrances:
        floor.add_patch(
            PolygonPatch(door.polygon, closed=True, fc="#a1d99b", ec="#31a354", zorder=2)
        )
        c = np.mean(door.polygon, axis=0)
        floor.text(c[0], c[1], door.entrance_id, ha="center", va="center", fontsize=7, zorder=3)
    floor.set_xlim(-0.3, w + 0.3)
    floor.set_ylim(-0.3, d + 0.3)
    floor.set_aspect("equal")
    floor.set_xlabel("x (m)")
    floor.set_ylabel("y (m)")
    floor.set_title(f"where shoppers stood when they picked ({len(pick_xy)} picks)", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
