"""`attribute`: every closed session's basket and alerts from the store's records, in one call.

The same inputs give the same answer whatever their order (everything is sorted by id and time
first), so the online `Attributor` can recompute from its state and a replay reproduces a live
run. Open sessions (someone still inside) take part in the POS and RFID joins — their members
may be paying — but get no basket until they close.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from storelens.attribution.baskets import build_basket, net_picks
from storelens.attribution.config import AttributionConfig
from storelens.attribution.paths import FloorPaths
from storelens.attribution.pos_join import PosMatch, join_pos
from storelens.attribution.rfid_join import RfidPass, join_rfid
from storelens.layout import StoreLayout
from storelens.records import (
    Alert,
    Basket,
    PosKind,
    PosTransaction,
    RfidRead,
    Session,
    ShelfEvent,
)
from storelens.revision import Provenance, config_hash

ATTRIBUTION_VERSION = "1"


@dataclass(frozen=True)
class AttributionResult:
    """Baskets and alerts by session id (closed sessions only), and how the joins went."""

    baskets: dict[str, Basket]
    alerts: dict[str, list[Alert]]
    pos_matches: dict[str, PosMatch]  # by txn id
    rfid_passes: list[RfidPass]
    terminal_offsets_s: dict[str, float]
    unattributed_events: int  # events of shoppers in no session (staff, a lost identity)


def provenance_of(config: AttributionConfig, upstream: Provenance | None = None) -> Provenance:
    """Attribution's provenance: its version and config hash, beside the upstream models."""
    versions = dict(upstream.model_versions) if upstream else {}
    versions["attribution"] = ATTRIBUTION_VERSION
    return Provenance(model_versions=versions, config_hash=config_hash(config))


def attribute(
    layout: StoreLayout,
    sessions: Sequence[Session],
    events: Sequence[ShelfEvent],
    transactions: Sequence[PosTransaction],
    reads: Sequence[RfidRead],
    paths: FloorPaths | None = None,
    tag_registry: Mapping[str, str] | None = None,
    config: AttributionConfig | None = None,
) -> AttributionResult:
    """Join sessions, shelf events, POS transactions and RFID reads into baskets and alerts.

    Args:
        layout: the store (its checkout lanes name their POS terminals).
        sessions: every session, open or closed; events belong to a session by shopper id.
        events: shelf events (picks, put-backs).
        transactions: POS sales, voids and refunds.
        reads: exit-gate RFID reads (duplicates expected).
        paths: shoppers' floor paths (None: times and baskets alone decide).
        tag_registry: EPC → SKU for reads that do not carry their SKU.
        config: thresholds (`AttributionConfig()` if None).
    """
    config = config or AttributionConfig()
    sessions = sorted(sessions, key=lambda s: (s.enter_t, s.session_id))
    txns = sorted(transactions, key=lambda t: (t.t, t.txn_id))
    session_of = {sid: s.session_id for s in sessions for sid in s.shopper_ids}
    by_session: dict[str, list[ShelfEvent]] = defaultdict(list)
    unattributed = 0
    for ev in sorted(events, key=lambda e: (e.t, e.event_id)):
        owner = session_of.get(ev.shopper_id)
        if owner is None:
            unattributed += 1
        else:
            by_session[owner].append(ev)
    seen = [net_picks(by_session[s.session_id]) for s in sessions]
    pos = join_pos(layout, sessions, seen, txns, paths, config)
    gate = join_rfid(sessions, seen, reads, paths, dict(tag_registry or {}), config)
    txns_of: dict[str, list[PosTransaction]] = defaultdict(list)
    for txn in txns:
        match = pos.matches.get(txn.txn_id)
        if match is not None and match.session_id is not None:
            txns_of[match.session_id].append(txn)
    passes_of: dict[str, list[RfidPass]] = defaultdict(list)
    for p in gate:
        if p.session_id is not None:
            passes_of[p.session_id].append(p)
    unclaimed: dict[str, list[PosTransaction]] = defaultdict(list)
    for txn in txns:
        match = pos.matches.get(txn.txn_id)
        if txn.kind != PosKind.SALE or match is None:
            continue
        for sid in match.candidates:
            if sid != match.session_id:
                unclaimed[sid].append(txn)
    upstream = next((s.provenance for s in sessions if s.provenance is not None), None)
    provenance = provenance_of(config, upstream)
    baskets: dict[str, Basket] = {}
    alerts: dict[str, list[Alert]] = {}
    for sess in sessions:
        if sess.exit_t is None:
            continue
        basket, raised = build_basket(
            sess,
            by_session[sess.session_id],
            txns_of[sess.session_id],
            pos.matches,
            unclaimed[sess.session_id],
            passes_of[sess.session_id],
            config,
            provenance,
        )
        baskets[sess.session_id] = basket
        alerts[sess.session_id] = raised
    return AttributionResult(
        baskets, alerts, pos.matches, gate, pos.terminal_offsets_s, unattributed
    )
