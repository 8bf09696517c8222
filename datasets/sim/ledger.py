"""The simulated store's books: sessions, POS transactions and RFID gate reads.

`StoreBehaviour` moves people and decides what they do; whenever that touches the books it calls
the `Ledger`: a party enters (`open_session`), pays at a lane (`checkout`: one sale for what it
scanned, unscanned items left out, a void for items scanned then voided), walks through the
RFID gate (`gate`: a read per tagged unit, with misses and duplicate reads), leaves (`exit`);
each POS terminal stamps its records with its own clock (`terminal_offset_s`, drawn from a
stream of its own so that turning the offsets on changes nothing else); after the run come
refunds that belong to no session (`refunds`) and the closing of every session into its
ground-truth record (`close`: each unit carried out, paid or unpaid and why, and the basket
lines attribution should find).

Records are plain dicts here (the `Timeline` carries them); they become typed ground-truth
records (`storelens.datasets.sim.truth`) when written. The ledger draws from the behaviour's
own random generator, in the order the behaviour calls it, so a seed is still one exact run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storelens.datasets.sim.scenario import Scenario
from storelens.datasets.sim.stock import Stock
from storelens.layout import StoreLayout


@dataclass
class _Visit:
    """A party's raw log while it is in the store."""

    session_id: str
    shopper_ids: list[str]
    enter_t: float
    pays: bool  # the party means to pay (False: it walks out past the lanes)
    exit_t: float | None = None
    exit_id: str | None = None
    txn_ids: list[str] = field(default_factory=list)
    epcs_read: list[str] = field(default_factory=list)
    left: list[int] = field(default_factory=list)  # unit indices carried through the exit
    paid: dict[str, str] = field(default_factory=dict)  # unit id → sale txn id
    unpaid: dict[str, str] = field(default_factory=dict)  # unit id → reason


class Ledger:
    """POS, RFID and session bookkeeping of one simulated store (see the module docstring)."""

    def __init__(
        self,
        layout: StoreLayout,
        stock: Stock,
        scenario: Scenario,
        rng: np.random.Generator,
        entrance_id: str,
        exit_id: str,
        clock_rng: np.random.Generator | None = None,
    ) -> None:
        self.store_id = layout.store_id
        self.stock, self.rng = stock, rng
        self.checkout_cfg, self.rfid_cfg = scenario.checkout, scenario.rfid
        self.price = {p.sku: p.price for p in layout.catalogue}
        self.skus = [p.sku for p in layout.catalogue]
        self.readers = layout.rfid_gates[0].reader_ids if layout.rfid_gates else []
        self.entrance_id, self.exit_id = entrance_id, exit_id
        self.pos: list[dict[str, Any]] = []
        self.rfid: list[dict[str, Any]] = []
        self._visits: dict[int, _Visit] = {}
        self._txn_counter = 0
        terminals = sorted(lane.pos_terminal_id for lane in layout.checkout_lanes)
        spread = scenario.checkout.terminal_clock_offset_s
        draws = (clock_rng or np.random.default_rng(0)).uniform(-1, 1, len(terminals))
        # what each terminal's clock adds to the cameras' time (the POS records carry its time)
        self.terminal_offset_s = {
            t: round(float(d) * spread, 3) for t, d in zip(terminals, draws, strict=True)
        }

    # ---------------------------------------------------------------- sessions
    def open_session(self, party: int, shopper_ids: list[str], now: float, pays: bool) -> None:
        """A member of `party` entered at `now` (the first one opens its session)."""
        visit = self._visits.setdefault(
            party,
            _Visit(
                session_id=f"{self.store_id}-s{party + 1:03d}",
                shopper_ids=shopper_ids,
                enter_t=now,
                pays=pays,
            ),
        )
        visit.enter_t = min(visit.enter_t, now)

    def session_id(self, party: int) -> str:
        return self._visits[party].session_id

    def exit(self, party: int, now: float, units: np.ndarray) -> None:
        """A member of `party` left at `now` carrying `units` (indices)."""
        visit = self._visits[party]
        visit.exit_t, visit.exit_id = now, self.exit_id
        visit.left.extend(int(u) for u in units)

    def close(self, complete: dict[int, bool]) -> list[dict[str, Any]]:
        """Every session's ground-truth record, by party; `complete[party]`: all members left
        (an incomplete session has no exit yet)."""
        return [self._session_record(self._visits[p], complete[p]) for p in sorted(self._visits)]

    def _session_record(self, visit: _Visit, complete: bool) -> dict[str, Any]:
        stock, read = self.stock, set(visit.epcs_read)
        units = []
        for unit in visit.left:
            uid, epc = str(stock.unit_id[unit]), str(stock.epc[unit])
            status = "paid" if uid in visit.paid else "unpaid"
            units.append(
                {
                    "unit_id": uid,
                    "sku": str(stock.sku[unit]),
                    "epc": epc or None,
                    "status": status,
                    "txn_id": visit.paid.get(uid),
                    "reason": None if status == "paid" else visit.unpaid.get(uid, "walkout"),
                    "rfid_read": bool(epc and epc in read),
                }
            )
        lines: dict[tuple[str, str], int] = {}
        for u in units:
            status = (
                "rfid_exit_unpaid" if u["status"] == "unpaid" and u["rfid_read"] else u["status"]
            )
            lines[(u["sku"], status)] = lines.get((u["sku"], status), 0) + 1
        return {
            "session_id": visit.session_id,
            "store_id": self.store_id,
            "shopper_ids": visit.shopper_ids,
            "enter_t": visit.enter_t,
            "exit_t": visit.exit_t if complete else None,
            "entrance_id": self.entrance_id,
            "exit_id": visit.exit_id if complete else None,  # someone is still inside
            "paid": visit.pays,
            "txn_ids": visit.txn_ids,
            "epcs_read": visit.epcs_read,
            "units": units,
            "expected_lines": [
                {"sku": k[0], "status": k[1], "qty": q} for k, q in sorted(lines.items())
            ],
            "complete": complete,
        }

    # --------------------------------------------------------------------- POS
    def checkout(self, party: int, units: list[int], terminal: str, now: float) -> None:
        """One POS sale at `terminal` for the party's `units`, minus those it does not scan; a
        void a second later for scanned items that are then voided."""
        rng, cfg = self.rng, self.checkout_cfg
        visit = self._visits[party]
        scanned, voided = [], []
        for unit in units:  # draws per unit: unscanned?, then (if scanned) voided?
            if rng.random() < cfg.unscanned_rate:
                visit.unpaid[str(self.stock.unit_id[unit])] = "unscanned"
                continue
            scanned.append(unit)
            if rng.random() < cfg.void_rate:
                voided.append(unit)
        sale_id = self._txn(terminal, now, "sale", self._lines(scanned))
        visit.txn_ids.append(sale_id)
        if voided:
            visit.txn_ids.append(
                self._txn(terminal, now + 1.0, "void", self._lines(voided), sale_id)
            )
        for unit in scanned:
            uid = str(self.stock.unit_id[unit])
            if unit in voided:
                visit.unpaid[uid] = "voided"
            else:
                visit.paid[uid] = sale_id

    def refunds(self, terminals: list[str], t_first: float, t_last: float) -> None:
        """Refunds of items bought before the simulation: POS noise that belongs to no session."""
        rng = self.rng
        for i in range(self.checkout_cfg.refunds):
            terminal = terminals[int(rng.integers(len(terminals)))]
            sku = self.skus[int(rng.integers(len(self.skus)))]
            self._txn(
                terminal,
                float(rng.uniform(t_first, t_last)),
                "refund",
                [{"sku": sku, "qty": 1, "unit_price": self.price[sku]}],
                refers_to=f"{self.store_id}-before-{i + 1:03d}",
            )

    def _txn(
        self,
        terminal: str,
        t: float,
        kind: str,
        lines: list[dict[str, Any]],
        refers_to: str | None = None,
    ) -> str:
        """Record one POS transaction; returns its id."""
        self._txn_counter += 1
        txn_id = f"{self.store_id}-t{self._txn_counter:04d}"
        self.pos.append(
            {
                "txn_id": txn_id,
                "store_id": self.store_id,
                "terminal_id": terminal,
                "t": t + self.terminal_offset_s.get(terminal, 0.0),
                "kind": kind,
                "lines": lines,
                "refers_to": refers_to,
            }
        )
        return txn_id

    def _lines(self, units: list[int]) -> list[dict[str, Any]]:
        skus, counts = (
            np.unique(self.stock.sku[units].astype(str), return_counts=True) if units else ([], [])
        )
        return [
            {"sku": str(s), "qty": int(c), "unit_price": self.price[str(s)]}
            for s, c in zip(skus, counts, strict=True)
        ]

    # -------------------------------------------------------------------- RFID
    def gate(self, units: np.ndarray, now: float, party: int | None) -> None:
        """The exit gate reads the tagged `units` carried through it at `now`: each may be
        missed, or read twice (by the next reader); `party` is None for staff."""
        rng, cfg = self.rng, self.rfid_cfg
        for unit in units:
            epc = str(self.stock.epc[unit])
            if not epc or not self.readers or rng.random() < cfg.miss_rate:
                continue
            n_reads = 1 + int(rng.random() < cfg.duplicate_rate)
            for r in range(n_reads):
                read_t = now + float(rng.uniform(0.0, 0.4))
                self.rfid.append(
                    {
                        "read_id": f"{self.store_id}-r{len(self.rfid) + 1:05d}",
                        "store_id": self.store_id,
                        "reader_id": self.readers[r % len(self.readers)],
                        "epc": epc,
                        "sku": str(self.stock.sku[unit]),
                        "t": read_t,
                        "rssi_dbm": round(float(rng.uniform(-70, -40)), 1),
                    }
                )
                if party is not None:
                    self._visits[party].epcs_read.append(epc)
