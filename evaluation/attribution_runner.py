"""Attribution over a simulated store run: `storelens run RUN_DIR --events ground-truth`.

Reads the run's sessions, shelf events, POS transactions, RFID reads and floor paths, attributes
them (`storelens.attribution.attribute`) and writes, beside the other stages' output:

    baskets.jsonl      one core `Basket` per closed session
    alerts.jsonl       the `Alert`s raised for a person to review
    attribution.json   the config and its hash, each terminal's estimated clock offset, and the
                       join of every POS transaction and RFID pass (what decided each line)
    analytics.json     picks, put-backs, purchases and conversion per SKU and shelf zone (with
                       dwell), and per hour sessions, conversion, unpaid lines, reviews / 1000
    analytics.png      conversion per shelf zone beside a heat map of picks on the floor plan

From ground truth (`events="ground-truth"`) it needs no video: a records-only simulation
(`storelens simulate --no-render`) of hours of store time attributes in seconds. From the
pipeline's own events it waits on the events and shoppers stages, which do not exist yet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from storelens.attribution import AttributionConfig, AttributionResult, FloorPaths, attribute
from storelens.datasets.sim.paths import FLOOR_PATHS_FILE
from storelens.datasets.sim.truth import read_truth
from storelens.datasets.sim.writer import write_records
from storelens.layout import StoreLayout
from storelens.revision import config_hash

EventSource = Literal["pipeline", "ground-truth"]
EVENT_SOURCES: tuple[str, ...] = ("pipeline", "ground-truth")
BASKETS_FILE, ALERTS_FILE, JOIN_FILE = "baskets.jsonl", "alerts.jsonl", "attribution.json"
ANALYTICS_FILE, ANALYTICS_PICTURE = "analytics.json", "analytics.png"


@dataclass(frozen=True)
class AttributionRun:
    out_dir: Path
    sessions: int
    baskets: int
    alerts: int
    result: AttributionResult


def _require(run_dir: Path, names: list[str]) -> None:
    missing = [n for n in names if not (run_dir / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{run_dir}: not a simulated store run with records (missing {', '.join(missing)}); "
            "make one with `storelens simulate --no-render`"
        )


def attribute_run(
    run_dir: str | Path, out_dir: str | Path, config: AttributionConfig | None = None
) -> AttributionRun:
    """Attribute the run's ground-truth sessions and events with its POS and RFID records."""
    run, out = Path(run_dir), Path(out_dir)
    _require(run, ["store.yaml", "sessions.jsonl", "events.jsonl", "pos.jsonl", "rfid.jsonl"])
    config = config or AttributionConfig()
    layout = StoreLayout.from_yaml(run / "store.yaml")
    truth = read_truth(run)
    paths = FloorPaths.load(run / FLOOR_PATHS_FILE) if (run / FLOOR_PATHS_FILE).is_file() else None
    registry = {u.epc.upper(): u.sku for u in truth["units.jsonl"] if u.epc}  # type: ignore[attr-defined]
    result = attribute(
        layout,
        truth["sessions.jsonl"],  # type: ignore[arg-type]
        truth["events.jsonl"],  # type: ignore[arg-type]
        truth["pos.jsonl"],  # type: ignore[arg-type]
        truth["rfid.jsonl"],  # type: ignore[arg-type]
        paths,
        registry,
        config,
    )
    out.mkdir(parents=True, exist_ok=True)
    baskets = [result.baskets[s] for s in sorted(result.baskets)]
    alerts = [a for s in sorted(result.alerts) for a in result.alerts[s]]
    write_records(out / BASKETS_FILE, baskets)
    write_records(out / ALERTS_FILE, alerts)
    (out / JOIN_FILE).write_text(
        json.dumps(
            {
                "events": "ground-truth",
                "floor_paths": paths is not None,
                "config": config.model_dump(mode="json"),
                "config_hash": config_hash(config),
                "terminal_offsets_s": result.terminal_offsets_s,
                "pos": {
                    t: {"session_id": m.session_id, "confidence": round(m.confidence, 4)}
                    for t, m in sorted(result.pos_matches.items())
                },
                "rfid": [
                    {
                        "epc": p.epc,
                        "sku": p.sku,
                        "t": p.t,
                        "read_ids": list(p.read_ids),
                        "session_id": p.session_id,
                        "confidence": round(p.confidence, 4),
                    }
                    for p in result.rfid_passes
                ],
                "unattributed_events": result.unattributed_events,
            },
            indent=1,
        )
    )
    write_analytics(
        layout, truth["sessions.jsonl"], truth["events.jsonl"], baskets, alerts, paths, out
    )  # type: ignore[arg-type]
    return AttributionRun(out, len(truth["sessions.jsonl"]), len(baskets), len(alerts), result)


def write_analytics(layout, sessions, events, baskets, alerts, paths, out: Path) -> None:  # type: ignore[no-untyped-def]
    """`analytics.json` and `analytics.png` (see the module docstring) into `out`."""
    from storelens.attribution import analytics
    from storelens.evaluation.draw_analytics import draw_store_analytics

    skus = analytics.sku_funnels(events, baskets)
    shelves = analytics.shelf_funnels(layout, sessions, events, baskets, paths)
    hours = analytics.hourly(sessions, baskets, alerts)

    def funnel(f):  # type: ignore[no-untyped-def]
        return {
            "key": f.key,
            "picks": f.picks,
            "put_backs": f.put_backs,
            "purchased": f.purchased,
            "conversion": f.conversion,
            "dwell_s": f.dwell_s,
        }

    (out / ANALYTICS_FILE).write_text(
        json.dumps(
            {
                "skus": [funnel(f) for f in skus],
                "shelf_zones": [funnel(f) for f in shelves],
                "hours": [
                    {
                        "t": h.t,
                        "sessions": h.sessions,
                        "with_purchase": h.with_purchase,
                        "conversion": h.conversion,
                        "unpaid_lines": h.unpaid_lines,
                        "reviews_per_1000": h.reviews_per_1000,
                    }
                    for h in hours
                ],
            },
            indent=1,
        )
    )
    picks = analytics.pick_positions(sessions, events, paths) if paths is not None else None
    if picks is None:
        import numpy as np

        picks = np.zeros((0, 2))
    draw_store_analytics(
        layout,
        shelves,
        picks,
        out / ANALYTICS_PICTURE,
        title=f"{layout.store_id}: {len(sessions)} sessions, {len(events)} shelf events",
    )


def load_attribution(out_dir: str | Path) -> AttributionResult:
    """What `attribute_run` wrote, read back (for `storelens eval`)."""
    from storelens.attribution.pos_join import PosMatch
    from storelens.attribution.rfid_join import RfidPass
    from storelens.datasets.sim.writer import read_records
    from storelens.records import Alert, Basket

    out = Path(out_dir)
    baskets = {b.session_id: b for b in read_records(out / BASKETS_FILE, Basket)}
    alerts: dict[str, list[Alert]] = {s: [] for s in baskets}
    for alert in read_records(out / ALERTS_FILE, Alert):
        alerts.setdefault(alert.session_id, []).append(alert)
    try:
        join = json.loads((out / JOIN_FILE).read_text())
        pos = {
            t: PosMatch(t, m["session_id"], 0.0, m["confidence"], {})
            for t, m in join["pos"].items()
        }
        passes = [
            RfidPass(
                p["epc"], p["sku"], p["t"], tuple(p["read_ids"]), p["session_id"], p["confidence"]
            )
            for p in join["rfid"]
        ]
        offsets, unattributed = join["terminal_offsets_s"], join["unattributed_events"]
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as err:
        raise ValueError(f"{out / JOIN_FILE}: not an attribution summary ({err!r})") from None
    return AttributionResult(baskets, alerts, pos, passes, offsets, unattributed)  # type: ignore[arg-type]
