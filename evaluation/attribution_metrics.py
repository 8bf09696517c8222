"""How right attribution is, against the simulator's ground truth.

For the complete sessions of a run (everyone left):
- **receipt accuracy**: share of sessions whose basket is exactly right — every `(sku, status,
  qty)` line, nothing missing, nothing extra (the autonomous-checkout figure);
- **line precision / recall per status**, over units: for each session, SKU and status,
  `min(predicted, true)` units are right;
- **POS join accuracy**: share of the sessions' sales given to their own session; **RFID join
  accuracy**: share of tag passes given to the session that carried the tag (a staff or stray
  pass is right when left unmatched);
- **alerts** per session, as a person reviews them: precision (a session raised for review truly
  has an unpaid or rfid_exit_unpaid line) and recall (sessions with such a line that were
  raised; which of the two statuses a unit has can be ambiguous, see `attribution.baskets`), and
  **reviews per 1,000 sessions** (sessions with at least one alert);
- each terminal's clock-offset error when the run records the true offsets.

Every share comes with a 95 % Wilson interval, so two runs can be compared honestly.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from storelens.attribution.attribute import AttributionResult
from storelens.datasets.sim.truth import TruthSession
from storelens.records import LineStatus

Z95 = 1.959964


@dataclass(frozen=True)
class Share:
    """`hits` of `n`, with its 95 % Wilson interval (NaN-free: n = 0 gives value None)."""

    hits: int
    n: int
    value: float | None
    low: float | None
    high: float | None

    @classmethod
    def of(cls, hits: int, n: int) -> Share:
        if n == 0:
            return cls(hits, 0, None, None, None)
        p = hits / n
        denom = 1 + Z95**2 / n
        centre = (p + Z95**2 / (2 * n)) / denom
        half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
        return cls(hits, n, p, max(0.0, centre - half), min(1.0, centre + half))

    def text(self, scale: float = 1.0, digits: int = 3) -> str:
        if self.value is None:
            return "n/a (none)"
        assert self.low is not None and self.high is not None
        f = f"{{:.{digits}f}}"
        return (
            f"{f.format(self.value * scale)} [{f.format(self.low * scale)}, "
            f"{f.format(self.high * scale)}]"
        )


@dataclass(frozen=True)
class AttributionMetrics:
    sessions: int
    receipt_accuracy: Share
    line_precision: dict[str, Share]
    line_recall: dict[str, Share]
    pos_join_accuracy: Share
    rfid_join_accuracy: Share
    alert_precision: Share
    alert_recall: Share
    reviews_per_1000: Share  # a share of sessions; multiply by 1,000 to read it
    terminal_offset_error_s: dict[str, float]

    def headline(self) -> list[tuple[str, Share, float]]:
        """(name, share, scale) of the figures every table shows, in order."""
        return [
            ("receipt accuracy", self.receipt_accuracy, 1.0),
            ("POS join accuracy", self.pos_join_accuracy, 1.0),
            ("RFID join accuracy", self.rfid_join_accuracy, 1.0),
            ("alert precision", self.alert_precision, 1.0),
            ("alert recall", self.alert_recall, 1.0),
            ("reviews per 1,000 sessions", self.reviews_per_1000, 1000.0),
        ]

    def as_dict(self) -> dict:
        out = asdict(self)
        flat = {
            "receipt_accuracy": self.receipt_accuracy.value,
            "alert_precision": self.alert_precision.value,
            "alert_recall": self.alert_recall.value,
            "reviews_per_1000": None
            if self.reviews_per_1000.value is None
            else 1000 * self.reviews_per_1000.value,
            "pos_join_accuracy": self.pos_join_accuracy.value,
            "rfid_join_accuracy": self.rfid_join_accuracy.value,
        }
        return {**flat, "detail": out}


_UNPAID = {LineStatus.UNPAID.value, LineStatus.RFID_EXIT_UNPAID.value}


def score_attribution(
    truth: Sequence[TruthSession],
    result: AttributionResult,
    true_offsets_s: Mapping[str, float] | None = None,
) -> AttributionMetrics:
    """Score `result` against the complete sessions of `truth` (see the module docstring)."""
    complete = [s for s in truth if s.complete]
    exact = 0
    tp: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    actual: Counter[str] = Counter()
    alert_tp = alert_pred = alert_true = reviewed = 0
    for sess in complete:
        want = Counter({(ln.sku, ln.status.value): ln.qty for ln in sess.expected_lines})
        basket = result.baskets.get(sess.session_id)
        got: Counter[tuple[str, str]] = Counter()
        for ln in basket.lines if basket else []:
            got[(ln.sku, ln.status.value)] += ln.qty
        exact += got == want
        for (sku, status), q in got.items():
            predicted[status] += q
            tp[status] += min(q, want.get((sku, status), 0))
        for (_, status), q in want.items():
            actual[status] += q
        raised = any(not a.withdrawn for a in result.alerts.get(sess.session_id, []))
        reviewed += raised
        has = any(status in _UNPAID for (_, status) in want)
        alert_true += has
        alert_pred += raised
        alert_tp += has and raised
    statuses = [s.value for s in LineStatus]
    sale_owner = {t: s.session_id for s in complete for t in s.txn_ids}
    pos_right = sum(
        1
        for txn, owner in sale_owner.items()
        if txn in result.pos_matches and result.pos_matches[txn].session_id == owner
    )
    epc_owner = {e.upper(): s.session_id for s in truth for e in s.epcs_read}
    complete_ids = {s.session_id for s in complete}
    passes = [p for p in result.rfid_passes if epc_owner.get(p.epc) in complete_ids | {None}]
    rfid_right = sum(p.session_id == epc_owner.get(p.epc) for p in passes)
    offsets = {
        t: abs(result.terminal_offsets_s.get(t, 0.0) - true)
        for t, true in (true_offsets_s or {}).items()
    }
    return AttributionMetrics(
        sessions=len(complete),
        receipt_accuracy=Share.of(exact, len(complete)),
        line_precision={s: Share.of(tp[s], predicted[s]) for s in statuses},
        line_recall={s: Share.of(tp[s], actual[s]) for s in statuses},
        pos_join_accuracy=Share.of(pos_right, len(sale_owner)),
        rfid_join_accuracy=Share.of(rfid_right, len(passes)),
        alert_precision=Share.of(alert_tp, alert_pred),
        alert_recall=Share.of(alert_tp, alert_true),
        reviews_per_1000=Share.of(reviewed, len(complete)),
        terminal_offset_error_s={k: round(v, 3) for k, v in offsets.items()},
    )


def _pool(shares: Sequence[Share]) -> Share:
    return Share.of(sum(s.hits for s in shares), sum(s.n for s in shares))


def pool_metrics(runs: Sequence[AttributionMetrics]) -> AttributionMetrics:
    """Several runs' figures as one: counts summed, intervals recomputed; offset errors keyed
    `<run index>/<terminal>`."""
    statuses = [s.value for s in LineStatus]
    return AttributionMetrics(
        sessions=sum(r.sessions for r in runs),
        receipt_accuracy=_pool([r.receipt_accuracy for r in runs]),
        line_precision={s: _pool([r.line_precision[s] for r in runs]) for s in statuses},
        line_recall={s: _pool([r.line_recall[s] for r in runs]) for s in statuses},
        pos_join_accuracy=_pool([r.pos_join_accuracy for r in runs]),
        rfid_join_accuracy=_pool([r.rfid_join_accuracy for r in runs]),
        alert_precision=_pool([r.alert_precision for r in runs]),
        alert_recall=_pool([r.alert_recall for r in runs]),
        reviews_per_1000=_pool([r.reviews_per_1000 for r in runs]),
        terminal_offset_error_s={
            f"{i}/{t}": e for i, r in enumerate(runs) for t, e in r.terminal_offset_error_s.items()
        },
    )
