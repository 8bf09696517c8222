"""Exit-gate RFID reads → sessions.

A tag walking through the gate is read once, twice (the gate's second reader) or not at all.
Reads of one EPC closer together than `rfid_duplicate_window_s` are one *pass*, at the time of
its first read. A pass belongs to the shopper who left through the gate then: each shopper's
exit time is where their floor path ends (or, without paths, their session's exit), and the
cost of giving a pass to a shopper's session is

    (gap / rfid_time_sigma_s)^2 + rfid_unseen_cost * [the session was never seen taking the SKU]

Each pass takes its cheapest session independently (a session may carry any number of tags); a
pass further than `rfid_max_gap_s` from every exit stays unmatched (staff, a tag carried past
the gate from outside).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from storelens.attribution.config import AttributionConfig
from storelens.attribution.paths import FloorPaths
from storelens.records import RfidRead, Session


@dataclass(frozen=True)
class RfidPass:
    """One tag through the gate: its reads, SKU, time, and the session it left with."""

    epc: str
    sku: str | None
    t: float
    read_ids: tuple[str, ...]
    session_id: str | None
    confidence: float


def passes(
    reads: Sequence[RfidRead], tag_registry: Mapping[str, str], config: AttributionConfig
) -> list[tuple[str, str | None, float, tuple[str, ...]]]:
    """Reads grouped into passes: (epc, sku, time of the first read, read ids), by time."""
    ordered = sorted(reads, key=lambda r: (r.epc.upper(), r.t, r.read_id))
    out = []
    for read in ordered:
        epc = read.epc.upper()
        sku = read.sku or tag_registry.get(epc) or tag_registry.get(read.epc)
        if out and out[-1][0] == epc and read.t - out[-1][4] <= config.rfid_duplicate_window_s:
            last = out[-1]
            out[-1] = (epc, last[1] or sku, last[2], (*last[3], read.read_id), read.t)
        else:
            out.append((epc, sku, read.t, (read.read_id,), read.t))
    return sorted(((e, s, t, ids) for e, s, t, ids, _ in out), key=lambda p: (p[2], p[0]))


def join_rfid(
    sessions: Sequence[Session],
    seen: Sequence[Mapping[str, int]],
    reads: Sequence[RfidRead],
    paths: FloorPaths | None,
    tag_registry: Mapping[str, str],
    config: AttributionConfig,
) -> list[RfidPass]:
    """Every pass with the session it left with (see the module docstring)."""
    found = passes(reads, tag_registry, config)
    last_seen = paths.last_seen() if paths is not None else {}
    exit_session, exit_t = [], []
    for j, sess in enumerate(sessions):
        if sess.exit_t is None and not last_seen:
            continue
        for shopper in sess.shopper_ids:
            t = last_seen.get(shopper, sess.exit_t)
            if t is not None:
                exit_session.append(j)
                exit_t.append(t)
    order = np.argsort(np.array(exit_t, float), kind="stable")
    owner = np.array(exit_session, int)[order]
    when = np.array(exit_t, float)[order]
    times = np.array([p[2] for p in found], float)
    lo = np.searchsorted(when, times - config.rfid_max_gap_s, side="left")
    hi = np.searchsorted(when, times + config.rfid_max_gap_s, side="right")
    out = []
    for (epc, sku, t, read_ids), a, b in zip(found, lo.tolist(), hi.tolist(), strict=True):
        near = owner[a:b]  # the few exits within reach of this pass
        if len(near) == 0:
            out.append(RfidPass(epc, sku, t, read_ids, None, 1.0))
            continue
        unseen = np.array([seen[j].get(sku or "", 0) <= 0 for j in near.tolist()], float)
        cost = ((t - when[a:b]) / config.rfid_time_sigma_s) ** 2 + config.rfid_unseen_cost * unseen
        per_session: dict[int, float] = {}  # a session's best exit: members are one candidate
        for j, c in zip(near.tolist(), cost.tolist(), strict=True):
            per_session[j] = min(c, per_session.get(j, np.inf))
        best = min(per_session, key=lambda j: (per_session[j], sessions[j].session_id))
        weights = np.exp(-np.array(list(per_session.values())))
        confidence = float(np.exp(-per_session[best]) / weights.sum())
        out.append(RfidPass(epc, sku, t, read_ids, sessions[best].session_id, confidence))
    return out
