"""One session's basket: a status per `(sku, qty)` line, its evidence and confidence, and the
alerts it raises.

Per SKU, from what attribution gathered for the session:
- `seen`: net picks (picks − put-backs) of the session's shoppers, never below zero;
- `paid`: sales − voids − refunds of the POS transactions matched to it;
- `tags`: distinct EPCs of the SKU that left through the gate with it.

Taken = max(seen, tags) (a tag seen leaving was taken even if no camera saw the pick). Then
`paid` = min(paid, taken), `paid_unseen` = what was paid beyond that, and of the unpaid rest
as many as there were tags are `rfid_exit_unpaid` (POS lines carry no EPCs, so which of a SKU's
units were paid cannot be known: the reads fall on the taken units at random, so the count on
unpaid ones is the mode of that hypergeometric draw, and at least the reads beyond the paid
units), the remainder `unpaid`.

Confidence of an unpaid line is the chance that no sale given elsewhere (or to nobody) was in
fact this session's, from the sales' candidate probabilities, times the pick events'
confidence where the camera is the only witness; a paid line's is its sales' match confidence.
An alert of a kind is raised when one of its lines reaches `alert_threshold`; it is evidence for
a person to review, never an accusation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from storelens.attribution.config import AttributionConfig
from storelens.attribution.pos_join import PosMatch
from storelens.attribution.rfid_join import RfidPass
from storelens.records import (
    Alert,
    AlertKind,
    AlertLine,
    Basket,
    BasketLine,
    EventKind,
    LineStatus,
    PosKind,
    PosTransaction,
    Session,
    ShelfEvent,
)
from storelens.revision import Provenance

_ALERT_STATUSES = {
    LineStatus.UNPAID: AlertKind.UNPAID,
    LineStatus.RFID_EXIT_UNPAID: AlertKind.RFID_EXIT_UNPAID,
}


def net_picks(events: Sequence[ShelfEvent]) -> dict[str, int]:
    """Picks minus put-backs per SKU, never below zero."""
    net: dict[str, int] = defaultdict(int)
    for ev in events:
        net[ev.sku] += ev.quantity if ev.kind == EventKind.PICK else -ev.quantity
    return {sku: q for sku, q in sorted(net.items()) if q > 0}


def _paid_by_sku(txns: Sequence[PosTransaction]) -> tuple[dict[str, int], dict[str, set[str]]]:
    paid: dict[str, int] = defaultdict(int)
    which: dict[str, set[str]] = defaultdict(set)
    for txn in txns:
        sign = 1 if txn.kind == PosKind.SALE else -1
        for line in txn.lines:
            paid[line.sku] += sign * line.qty
            which[line.sku].add(txn.txn_id)
    return {k: max(v, 0) for k, v in paid.items()}, which


def build_basket(
    session: Session,
    events: Sequence[ShelfEvent],
    txns: Sequence[PosTransaction],
    matches: dict[str, PosMatch],
    unclaimed_sales: Sequence[PosTransaction],
    gate_passes: Sequence[RfidPass],
    config: AttributionConfig,
    provenance: Provenance | None,
) -> tuple[Basket, list[Alert]]:
    """The session's basket and alerts (see the module docstring). `txns`: the POS records
    matched to it; `unclaimed_sales`: sales given elsewhere or to nobody that listed it as a
    candidate (they lower an unpaid line's confidence)."""
    seen = net_picks(events)
    paid, paid_txns = _paid_by_sku(txns)
    tags: dict[str, list[RfidPass]] = defaultdict(list)
    for p in gate_passes:
        if p.sku:
            tags[p.sku].append(p)
    events_by_sku: dict[str, list[ShelfEvent]] = defaultdict(list)
    for ev in events:
        events_by_sku[ev.sku].append(ev)
    lines: list[BasketLine] = []
    for sku in sorted(set(seen) | set(paid) | set(tags)):
        s, p, r = seen.get(sku, 0), paid.get(sku, 0), len(tags.get(sku, []))
        taken = max(s, r)
        paid_qty = min(p, taken)
        unpaid_total = taken - paid_qty
        rfid_unpaid = _tags_on_unpaid(r, paid_qty, unpaid_total)
        event_ids = sorted(ev.event_id for ev in events_by_sku.get(sku, []))
        txn_ids = sorted(paid_txns.get(sku, set()))
        epcs = sorted(t.epc for t in tags.get(sku, []))
        read_ids = sorted(i for t in tags.get(sku, []) for i in t.read_ids)
        match_conf = [matches[t].confidence for t in txn_ids if t in matches]
        paid_conf = float(np.mean(match_conf)) if match_conf else 1.0
        unpaid_conf = _unpaid_confidence(session.session_id, sku, unclaimed_sales, matches)
        event_conf = min((ev.confidence for ev in events_by_sku.get(sku, [])), default=1.0)
        tag_conf = max((t.confidence for t in tags.get(sku, [])), default=0.0)
        common = {"sku": sku, "event_ids": event_ids, "txn_ids": txn_ids}
        if paid_qty:
            lines.append(
                BasketLine(
                    **common,
                    qty=paid_qty,
                    status=LineStatus.PAID,
                    epcs=epcs,
                    read_ids=read_ids,
                    confidence=paid_conf,
                )
            )
        if p > paid_qty:
            lines.append(
                BasketLine(
                    **common, qty=p - paid_qty, status=LineStatus.PAID_UNSEEN, confidence=paid_conf
                )
            )
        if rfid_unpaid:
            lines.append(
                BasketLine(
                    **common,
                    qty=rfid_unpaid,
                    status=LineStatus.RFID_EXIT_UNPAID,
                    epcs=epcs,
                    read_ids=read_ids,
                    confidence=round(unpaid_conf * tag_conf, 6),
                )
            )
        if unpaid_total > rfid_unpaid:
            witness = event_conf if s > 0 else tag_conf
            lines.append(
                BasketLine(
                    **common,
                    qty=unpaid_total - rfid_unpaid,
                    status=LineStatus.UNPAID,
                    confidence=round(unpaid_conf * witness, 6),
                )
            )
    basket = Basket(
        session_id=session.session_id,
        store_id=session.store_id,
        lines=lines,
        provenance=provenance,
    )
    return basket, _alerts(session, basket, txns, config, provenance)


def _tags_on_unpaid(reads: int, paid: int, unpaid: int) -> int:
    """How many of `reads` distinct tags of a SKU were on its unpaid units: the mode of the
    hypergeometric draw of `reads` among `paid + unpaid` units, within what is possible."""
    if unpaid == 0 or reads == 0:
        return 0
    mode = (reads + 1) * (unpaid + 1) // (paid + unpaid + 2)
    return max(reads - paid, 0, min(mode, reads, unpaid))


def _unpaid_confidence(
    session_id: str, sku: str, unclaimed: Sequence[PosTransaction], matches: dict[str, PosMatch]
) -> float:
    """The chance that none of the sales given elsewhere which listed `sku` was this session's."""
    chance = 1.0
    for txn in unclaimed:
        if any(line.sku == sku for line in txn.lines):
            chance *= 1.0 - matches[txn.txn_id].candidates.get(session_id, 0.0)
    return round(chance, 6)


def _alerts(
    session: Session,
    basket: Basket,
    txns: Sequence[PosTransaction],
    config: AttributionConfig,
    provenance: Provenance | None,
) -> list[Alert]:
    alerts = []
    for status, kind in _ALERT_STATUSES.items():
        flagged = [ln for ln in basket.lines if ln.status == status]
        if not flagged:
            continue
        confidence = max(ln.confidence for ln in flagged)
        if confidence < config.alert_threshold:
            continue
        alerts.append(
            Alert(
                store_id=session.store_id,
                session_id=session.session_id,
                kind=kind,
                t=session.exit_t if session.exit_t is not None else session.enter_t,
                lines=[AlertLine(sku=ln.sku, qty=ln.qty) for ln in flagged],
                confidence=confidence,
                basket_id=basket.basket_id,
                event_ids=sorted({e for ln in flagged for e in ln.event_ids}),
                txn_ids=sorted(t.txn_id for t in txns),
                read_ids=sorted({r for ln in flagged for r in ln.read_ids}),
                provenance=provenance,
            )
        )
    return alerts
