"""Drawing a store layout as a floor plan PNG: shelves, lanes, gates, doors, cameras and
the floor area each camera sees (its footprint) — and, when given, shoppers' paths."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from storelens.layout import StoreLayout

_CAMERA_COLOURS = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def draw_floor_plan(
    layout: StoreLayout,
    out_path: str | Path,
    dpi: int = 120,
    paths: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Render `layout` to `out_path` (PNG) and return the path; `paths` (label → (N, 2) floor
    points in metres) are drawn over it, each with its label at its start."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon as PolygonPatch

    w, d = layout.floor.width_m, layout.floor.depth_m
    fig, ax = plt.subplots(figsize=(2 + w * 0.9, 1.5 + d * 0.9))
    ax.add_patch(PolygonPatch([(0, 0), (w, 0), (w, d), (0, d)], closed=True, fill=False, lw=2))

    for i, cam in enumerate(layout.cameras):
        colour = _CAMERA_COLOURS[i % len(_CAMERA_COLOURS)]
        geom = cam.geometry()
        footprint = geom.footprint(layout.floor.rect)
        if len(footprint) >= 3:
            rgb = matplotlib.colors.to_rgb(colour)
            ax.add_patch(
                PolygonPatch(
                    footprint, closed=True, fc=(*rgb, 0.05), ec=(*rgb, 0.9), lw=1.2, ls="--"
                )
            )
        if geom.has_pose:
            pos = geom.position
            assert geom.R is not None
            forward = geom.R[2, :2]
            ax.plot(
                pos[0],
                pos[1],
                marker="^" if cam.kind == "ceiling" else "s",
                ms=10,
                color=colour,
                zorder=5,
            )
            if np.linalg.norm(forward) > 1e-6:
                arrow = 0.8 * forward / np.linalg.norm(forward)
                ax.annotate(
                    "",
                    xy=(pos[0] + arrow[0], pos[1] + arrow[1]),
                    xytext=(pos[0], pos[1]),
                    arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.5},
                    zorder=5,
                )
            label_xy = (pos[0], pos[1])
        else:
            label_xy = tuple(footprint.mean(axis=0)) if len(footprint) else (0.0, 0.0)
        ax.annotate(
            cam.camera_id,
            label_xy,
            textcoords="offset points",
            xytext=(6, -12),
            fontsize=7,
            color=colour,
            zorder=6,
        )

    for shelf in layout.shelves:
        ax.add_patch(PolygonPatch(shelf.polygon, closed=True, fc="#c8a878", ec="#6b4f2a", lw=1.2))
        a, b = shelf.front_segment()
        ax.plot([a[0], b[0]], [a[1], b[1]], color="#6b4f2a", lw=3)
        centre = np.mean(shelf.polygon, axis=0)
        n_skus = len({f.sku for f in shelf.planogram})
        ax.text(
            centre[0],
            centre[1],
            f"{shelf.shelf_id}\n{n_skus} SKUs",
            ha="center",
            va="center",
            fontsize=7,
        )
    for lane in layout.checkout_lanes:
        ax.add_patch(PolygonPatch(lane.polygon, closed=True, fc="#9ecae1", ec="#3182bd"))
        c = np.mean(lane.polygon, axis=0)
        ax.text(
            c[0],
            c[1],
            f"{lane.lane_id}\n{lane.pos_terminal_id}",
            ha="center",
            va="center",
            fontsize=7,
        )
    for gate in layout.rfid_gates:
        ax.add_patch(
            PolygonPatch(gate.polygon, closed=True, fc="none", ec="#e6550d", lw=2, hatch="//")
        )
        c = np.mean(gate.polygon, axis=0)
        ax.text(c[0], c[1] + 0.5, f"RFID {gate.gate_id}", ha="center", fontsize=7, color="#e6550d")
    for door in layout.entrances:
        ax.add_patch(PolygonPatch(door.polygon, closed=True, fc="#a1d99b", ec="#31a354", alpha=0.7))
        c = np.mean(door.polygon, axis=0)
        ax.text(
            c[0],
            c[1],
            f"{door.entrance_id} ({door.direction})",
            ha="center",
            va="center",
            fontsize=7,
        )

    for i, (label, xy) in enumerate((paths or {}).items()):
        xy = np.asarray(xy, float).reshape(-1, 2)
        if not len(xy):
            continue
        path_colour = plt.get_cmap("tab20")(i % 20)
        ax.plot(xy[:, 0], xy[:, 1], color=path_colour, lw=1.4, alpha=0.85, zorder=7)
        ax.plot(xy[-1, 0], xy[-1, 1], marker="o", ms=4, color=path_colour, zorder=7)
        ax.annotate(label, tuple(xy[0]), fontsize=6, color=path_colour, zorder=8)

    ax.set_xlim(-0.5, w + 0.5)
    ax.set_ylim(-0.5, d + 0.5)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title(
        f"{layout.store_id}: {len(layout.cameras)} cameras, {len(layout.shelves)} shelf "
        f"units, {len(layout.planogram_skus)} SKUs on shelves\n"
        "▲ ceiling camera  ■ shelf camera  dashed: floor seen by each camera",
        fontsize=9,
    )
    ax.grid(True, alpha=0.2)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
