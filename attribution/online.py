"""`Attributor`: attribution as records arrive, with revisions for late data.

The service feeds it sessions, shelf events, POS transactions and RFID reads as they come, in
any order, and calls `step()` at least every `reattribute_within_s` (the declared delay). Each
step recomputes the store's answer from everything held (`attribute`, which does not depend on
arrival order) and returns only what changed: a session's first basket when it closes, and a
new *revision* (`Basket.revised`, the revision contract) when late data changes it — a sale
rung up after the party left, a gate batch delivered late, a corrected identity. An alert that
new evidence clears is withdrawn by a revision with no lines.

A revision is made only for a change a person would see: the lines (SKU, quantity, status and
what decided them) or a confidence that moved by at least `CONFIDENCE_STEP`. Confidence drifts
in its last digits as other shoppers' paths and sessions arrive; each of those drifts would
otherwise be a new revision and a `session.updated` webhook.

A POS transaction or RFID read that arrives more than `late_horizon_s` after its own time is
kept in `flagged` and left out of attribution: a day-old sale must not silently rewrite a
reviewed basket (a person can still see it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from storelens.attribution.attribute import AttributionResult, attribute
from storelens.attribution.config import AttributionConfig
from storelens.attribution.paths import FloorPaths
from storelens.layout import StoreLayout
from storelens.records import Alert, Basket, PosTransaction, RfidRead, Session, ShelfEvent

CONFIDENCE_STEP = 0.01


def _changed(old, new) -> bool:  # type: ignore[no-untyped-def]
    """Whether basket or alert lines differ in what a person would see: any field but the
    confidence, or a confidence that moved by at least `CONFIDENCE_STEP`."""
    if len(old) != len(new):
        return True
    for a, b in zip(old, new, strict=True):
        fa, fb = a.model_dump(), b.model_dump()
        ca, cb = fa.pop("confidence", 0.0), fb.pop("confidence", 0.0)
        if fa != fb or abs(ca - cb) >= CONFIDENCE_STEP:
            return True
    return False


@dataclass
class StepOutput:
    """What one `step` produced: new or revised baskets and alerts (revision order kept)."""

    baskets: list[Basket] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    result: AttributionResult | None = None


class Attributor:
    """Online attribution for one store (see the module docstring)."""

    def __init__(
        self,
        layout: StoreLayout,
        config: AttributionConfig | None = None,
        tag_registry: Mapping[str, str] | None = None,
    ) -> None:
        self.layout = layout
        self.config = config or AttributionConfig()
        self.tag_registry = dict(tag_registry or {})
        self.sessions: dict[str, Session] = {}
        self.events: dict[str, ShelfEvent] = {}
        self.pos: dict[str, PosTransaction] = {}
        self.rfid: dict[str, RfidRead] = {}
        self.paths: FloorPaths | None = None
        self.flagged: list[PosTransaction | RfidRead] = []
        self.baskets: dict[str, Basket] = {}  # latest revision emitted, by session id
        self.alerts: dict[str, Alert] = {}  # latest revision emitted, by alert id
        self._flagged_keys: set[str] = set()
        self._dirty = False

    # ------------------------------------------------------------------ input
    def add_sessions(self, sessions: Iterable[Session]) -> None:
        """New sessions, or newer revisions of known ones (an exit, a corrected party)."""
        for s in sessions:
            known = self.sessions.get(s.session_id)
            if known is None or s.revision >= known.revision:
                self.sessions[s.session_id] = s
                self._dirty = True

    def add_events(self, events: Iterable[ShelfEvent]) -> None:
        for ev in events:
            known = self.events.get(ev.event_id)
            if known is None or ev.revision >= known.revision:
                self.events[ev.event_id] = ev
                self._dirty = True

    def add_pos(self, transactions: Iterable[PosTransaction], received_t: float) -> None:
        """POS records received at `received_t`; idempotent on `txn_id`."""
        for txn in transactions:
            self._add_input(self.pos, txn.txn_id, txn, received_t)

    def add_rfid(self, reads: Iterable[RfidRead], received_t: float) -> None:
        """Gate reads received at `received_t`; idempotent on `read_id`."""
        for read in reads:
            self._add_input(self.rfid, read.read_id, read, received_t)

    def set_paths(self, paths: FloorPaths) -> None:
        self.paths = paths
        self._dirty = True

    def _add_input(self, store: dict, key: str, record, received_t: float) -> None:  # type: ignore[no-untyped-def]
        flag_key = f"{type(record).__name__}:{key}"  # txn and read ids are separate spaces
        if key in store or flag_key in self._flagged_keys:
            return
        if received_t - record.t > self.config.late_horizon_s:
            self.flagged.append(record)
            self._flagged_keys.add(flag_key)
            return
        store[key] = record
        self._dirty = True

    # ------------------------------------------------------------------- step
    def step(self) -> StepOutput:
        """Recompute if anything arrived; return the baskets and alerts that changed."""
        if not self._dirty:
            return StepOutput()
        self._dirty = False
        result = attribute(
            self.layout,
            list(self.sessions.values()),
            list(self.events.values()),
            list(self.pos.values()),
            list(self.rfid.values()),
            self.paths,
            self.tag_registry,
            self.config,
        )
        out = StepOutput(result=result)
        for sid in sorted(result.baskets):
            new = result.baskets[sid]
            old = self.baskets.get(sid)
            if old is None:
                self.baskets[sid] = new
                out.baskets.append(new)
            elif _changed(old.lines, new.lines):
                revised = old.revised(lines=new.lines, provenance=new.provenance)
                self.baskets[sid] = revised
                out.baskets.append(revised)
        raised = {a.alert_id: a for alerts in result.alerts.values() for a in alerts}
        for alert_id in sorted(set(raised) | set(self.alerts)):
            new_alert, old_alert = raised.get(alert_id), self.alerts.get(alert_id)
            if old_alert is None and new_alert is not None:
                self.alerts[alert_id] = new_alert
                out.alerts.append(new_alert)
            elif old_alert is not None and new_alert is None and not old_alert.withdrawn:
                withdrawn = old_alert.revised(lines=[])
                self.alerts[alert_id] = withdrawn
                out.alerts.append(withdrawn)
            elif old_alert is not None and new_alert is not None:
                fields = ("lines", "confidence", "event_ids", "txn_ids", "read_ids")
                changes = {f: getattr(new_alert, f) for f in fields}
                moved = abs(new_alert.confidence - old_alert.confidence) >= CONFIDENCE_STEP
                if moved or any(
                    getattr(old_alert, f) != changes[f] for f in fields if f != "confidence"
                ):
                    revised_alert = old_alert.revised(**changes)
                    self.alerts[alert_id] = revised_alert
                    out.alerts.append(revised_alert)
        return out
