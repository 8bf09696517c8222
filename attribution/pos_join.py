"""POS transactions → sessions: each terminal's clock offset, then one global assignment.

A sale at terminal T, stamped `t` by the terminal's clock, happened at `t - offset[T]` on the
cameras' clock. The party that paid it was then in T's lane zone and left that zone soon after
(`pay_to_leave_s` on average); the party queueing behind it stays longer. The cost of giving
sale i to session j is

    ((leave_j - (t_i - offset) - pay_to_leave_s) / leave_after_pay_s)^2
      + basket_weight * (1 - overlap(sale lines, session's seen net picks))

over the session's stays in the zone that contain the aligned time. Each terminal's offset is
the one of a grid over ±`max_terminal_offset_s` that minimises the summed best costs of its
sales. Then every sale of every terminal is assigned at once (`scipy.optimize.
linear_sum_assignment`, per connected group of sales and sessions that could meet: a sliding
window in effect, never greedy): one sale to at most one session, a session taking a 2nd, 3rd
... sale at `extra_transaction_cost` more, a sale left unattributed at
`unmatched_transaction_cost`. Voids and refunds follow the sale they name (`refers_to`).

Without floor paths, a session's stay is the window of `no_path_exit_window_s` before its
exit (time and basket decide; offsets are not estimated).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from storelens.attribution.config import AttributionConfig
from storelens.attribution.paths import FloorPaths
from storelens.layout import StoreLayout
from storelens.records import PosKind, PosTransaction, Session

ZONE_SLACK_S = 0.5  # a payer's stay may start or end this close outside the aligned time


@dataclass(frozen=True)
class PosMatch:
    """Sale `txn_id` given to `session_id` (None: unattributed) with the assignment's `cost`
    and `confidence` (the match's share of the sale's candidate weights, exp(-cost))."""

    txn_id: str
    session_id: str | None
    cost: float
    confidence: float
    candidates: dict[str, float]  # session id → probability, the evidence for the confidence


@dataclass(frozen=True)
class PosJoin:
    matches: dict[str, PosMatch]  # by txn id: sales, and voids / refunds following their sale
    terminal_offsets_s: dict[str, float]


@dataclass(frozen=True)
class _Stays:
    """Candidate stays of sessions in one terminal's zone: session index, start, end."""

    session: np.ndarray
    start: np.ndarray
    end: np.ndarray


def overlap(seen: Mapping[str, int], scanned: Mapping[str, int]) -> float:
    """Shared units over the larger of the two baskets (1: identical, 0: nothing shared)."""
    shared = sum(min(q, scanned.get(sku, 0)) for sku, q in seen.items())
    return shared / max(sum(seen.values()), sum(scanned.values()), 1)


def _stays(
    layout: StoreLayout,
    sessions: Sequence[Session],
    paths: FloorPaths | None,
    config: AttributionConfig,
) -> dict[str, _Stays]:
    """Each terminal's candidate stays (the union of a session's members' zone visits)."""
    session_of = {s: j for j, sess in enumerate(sessions) for s in sess.shopper_ids}
    out: dict[str, _Stays] = {}
    for lane in layout.checkout_lanes:
        if paths is None or len(paths) == 0:
            closed = [j for j, s in enumerate(sessions) if s.exit_t is not None]
            exits = np.array([sessions[j].exit_t for j in closed], float)
            out[lane.pos_terminal_id] = _Stays(
                np.array(closed, int), exits - config.no_path_exit_window_s, exits
            )
            continue
        visits = paths.zone_visits(lane.polygon, config.lane_margin_m)
        known = np.array([sid in session_of for sid in visits.shopper_id.tolist()], bool)
        idx = np.array([session_of.get(sid, -1) for sid in visits.shopper_id.tolist()], int)
        out[lane.pos_terminal_id] = _Stays(idx[known], visits.start[known], visits.end[known])
    return out


def _pairs(times: np.ndarray, stays: _Stays, reach_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(sale, stay) index pairs whose stay lies within `reach_s` of the sale's time."""
    if len(times) == 0 or len(stays.start) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    near = (stays.start[None, :] <= times[:, None] + reach_s) & (
        stays.end[None, :] >= times[:, None] - reach_s
    )
    return np.nonzero(near)


def _time_cost(
    aligned: np.ndarray, start: np.ndarray, end: np.ndarray, config: AttributionConfig
) -> np.ndarray:
    """Cost of a payment at `aligned` by a stay [start, end]; inf outside the stay."""
    wait = end - aligned - config.pay_to_leave_s
    cost = (wait / config.leave_after_pay_s) ** 2
    inside = (start <= aligned + ZONE_SLACK_S) & (end >= aligned - ZONE_SLACK_S)
    inside &= end - aligned <= config.gate_pay_window_s
    return np.where(inside, cost, np.inf)


def _estimate_offset(
    times: np.ndarray,
    basket_cost: np.ndarray,
    pair_sale: np.ndarray,
    pair_stay: np.ndarray,
    stays: _Stays,
    config: AttributionConfig,
) -> float:
    """The grid offset minimising the summed best (capped) cost of the terminal's sales;
    ties go to the offset nearest zero."""
    if len(times) == 0 or len(pair_sale) == 0 or config.max_terminal_offset_s == 0:
        return 0.0
    steps = int(round(config.max_terminal_offset_s / config.offset_step_s))
    grid = np.arange(-steps, steps + 1) * config.offset_step_s
    cap = config.unmatched_transaction_cost
    scores = np.empty(len(grid))
    for g, offset in enumerate(grid):  # a loop over ~65 offsets, each vectorised over pairs
        cost = (
            _time_cost(
                times[pair_sale] - offset, stays.start[pair_stay], stays.end[pair_stay], config
            )
            + basket_cost
        )
        best = np.full(len(times), cap)
        np.minimum.at(best, pair_sale, np.minimum(cost, cap))
        scores[g] = best.sum()
    best_score = scores.min()
    candidates = np.flatnonzero(scores <= best_score + 1e-9)
    return float(grid[candidates[np.argmin(np.abs(grid[candidates]))]])


def join_pos(
    layout: StoreLayout,
    sessions: Sequence[Session],
    seen: Sequence[Mapping[str, int]],
    transactions: Sequence[PosTransaction],
    paths: FloorPaths | None,
    config: AttributionConfig,
) -> PosJoin:
    """Match every sale to a session (see the module docstring); `seen[j]` is session j's
    net picks by SKU. Voids and refunds go where the sale they name went."""
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    sales = sorted(
        (t for t in transactions if t.kind == PosKind.SALE), key=lambda t: (t.t, t.txn_id)
    )
    stays = _stays(layout, sessions, paths, config)
    reach = config.max_terminal_offset_s + config.gate_pay_window_s
    offsets: dict[str, float] = {}
    rows_sale, rows_session, rows_cost = [], [], []
    sale_index = {txn.txn_id: i for i, txn in enumerate(sales)}
    for terminal, terminal_stays in stays.items():
        mine = [i for i, txn in enumerate(sales) if txn.terminal_id == terminal]
        times = np.array([sales[i].t for i in mine], float)
        pair_sale, pair_stay = _pairs(times, terminal_stays, reach)
        scanned = [_quantities(sales[i]) for i in mine]
        basket_cost = np.array(
            [
                config.basket_weight * (1.0 - overlap(seen[terminal_stays.session[v]], scanned[s]))
                for s, v in zip(pair_sale.tolist(), pair_stay.tolist(), strict=True)
            ],
            float,
        )
        use_offset = paths is not None and len(paths) > 0
        offset = (
            _estimate_offset(times, basket_cost, pair_sale, pair_stay, terminal_stays, config)
            if use_offset
            else 0.0
        )
        offsets[terminal] = offset
        shift = config.pay_to_leave_s if use_offset else -config.no_path_exit_window_s / 2
        cost = (
            _time_cost(
                times[pair_sale] - offset,
                terminal_stays.start[pair_stay],
                terminal_stays.end[pair_stay],
                config if use_offset else config.model_copy(update={"pay_to_leave_s": shift}),
            )
            + basket_cost
        )
        ok = np.isfinite(cost)
        rows_sale.append(np.array(mine, int)[pair_sale[ok]])
        rows_session.append(terminal_stays.session[pair_stay[ok]])
        rows_cost.append(cost[ok])
    pair_sale_all = np.concatenate(rows_sale) if rows_sale else np.zeros(0, int)
    pair_session_all = np.concatenate(rows_session) if rows_session else np.zeros(0, int)
    pair_cost_all = np.concatenate(rows_cost) if rows_cost else np.zeros(0)
    # a session visiting the zone twice gives two pairs: keep its cheaper stay
    best: dict[tuple[int, int], float] = {}
    for s, j, c in zip(
        pair_sale_all.tolist(), pair_session_all.tolist(), pair_cost_all.tolist(), strict=True
    ):
        if c < best.get((s, j), np.inf):
            best[(s, j)] = c
    n_sales, n_sessions = len(sales), len(sessions)
    matches: dict[str, PosMatch] = {}
    keys = sorted(best)
    ps = np.array([k[0] for k in keys], int)
    pj = np.array([k[1] for k in keys], int)
    pc = np.array([best[k] for k in keys], float)
    # connected groups of sales (nodes 0..S-1) and sessions (S..S+J-1) that could meet
    graph = coo_matrix((np.ones(len(ps)), (ps, n_sales + pj)), shape=(n_sales + n_sessions,) * 2)
    _, label = connected_components(graph, directed=False)
    slots = config.max_transactions_per_session
    unmatched = config.unmatched_transaction_cost
    for group in np.unique(label[:n_sales]):
        g_sales = np.flatnonzero(label[:n_sales] == group)
        in_group = np.isin(ps, g_sales)
        g_sessions = np.unique(pj[in_group])
        row = {int(s): r for r, s in enumerate(g_sales)}
        col = {int(j): c for c, j in enumerate(g_sessions)}
        width = len(g_sessions) * slots
        matrix = np.full((len(g_sales), width + len(g_sales)), 1e9)
        for s, j, c in zip(ps[in_group], pj[in_group], pc[in_group], strict=True):
            for k in range(slots):
                matrix[row[int(s)], col[int(j)] * slots + k] = c + k * config.extra_transaction_cost
        matrix[np.arange(len(g_sales)), width + np.arange(len(g_sales))] = unmatched
        assigned_rows, assigned_cols = linear_sum_assignment(matrix)
        for r, c in zip(assigned_rows.tolist(), assigned_cols.tolist(), strict=True):
            s = int(g_sales[r])
            mine = in_group & (ps == s)
            weights = np.exp(-np.concatenate([pc[mine], [unmatched]]))
            probs = weights / weights.sum()
            candidates = {
                sessions[int(j)].session_id: float(p)
                for j, p in zip(pj[mine], probs[:-1], strict=True)
            }
            if c < width:
                j = int(g_sessions[c // slots])
                sid = sessions[j].session_id
                matches[sales[s].txn_id] = PosMatch(
                    sales[s].txn_id, sid, float(matrix[r, c]), candidates[sid], candidates
                )
            else:
                matches[sales[s].txn_id] = PosMatch(
                    sales[s].txn_id, None, unmatched, float(probs[-1]), candidates
                )
    for txn in sales:  # sales no session could have paid
        if txn.txn_id not in matches and txn.txn_id in sale_index:
            matches[txn.txn_id] = PosMatch(txn.txn_id, None, unmatched, 1.0, {})
    for txn in sorted(transactions, key=lambda t: (t.t, t.txn_id)):
        if txn.kind != PosKind.SALE:
            sale = matches.get(txn.refers_to or "")
            matches[txn.txn_id] = PosMatch(
                txn.txn_id,
                sale.session_id if sale else None,
                sale.cost if sale else unmatched,
                sale.confidence if sale else 1.0,
                sale.candidates if sale else {},
            )
    return PosJoin(matches, offsets)


def _quantities(txn: PosTransaction) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in txn.lines:
        out[line.sku] = out.get(line.sku, 0) + line.qty
    return out
