"""A POS writer in its own process, for the crash and concurrency tests: ingests batches
`first..last` of synthetic transactions (batch b holds txns `b-0000`..) and prints
`ack <b>` after each batch is committed. Usage: python writer_process.py URL SCHEMA FIRST LAST
SIZE (SCHEMA `-` for none)."""

from __future__ import annotations

import sys

from storelens.storage import Database, ingest_pos

T0 = 1_800_000_000.0


def batch(b: int, size: int) -> list[dict]:
    return [
        {
            "txn_id": f"{b:04d}-{i:04d}",
            "store_id": "demo-store",
            "terminal_id": f"pos-{1 + i % 2}",
            "t": T0 + b * 60 + i * 0.01,
            "lines": [
                {"sku": f"SKU-{(b + i + k) % 40:03d}", "qty": 1 + k % 2, "unit_price": 1.5}
                for k in range(3)
            ],
        }
        for i in range(size)
    ]


def main() -> None:
    url, schema, first, last, size = sys.argv[1:6]
    db = Database(url, schema=None if schema == "-" else schema)
    for b in range(int(first), int(last) + 1):
        report = ingest_pos(db, batch(b, int(size)))
        if not report.ok:
            print(f"error {report.summary()}", flush=True)
            sys.exit(1)
        print(f"ack {b} {len(report.accepted)} {len(report.duplicates)}", flush=True)


if __name__ == "__main__":
    main()
