"""SQL storage shared by offline replays and the service: the schema (`tables.py`) and its
Alembic migrations (`migrations/`), the connection (`database.py`), idempotent ingestion of POS
transactions and RFID reads (`ingest.py`), derived records with every revision, lifecycle and
reviews (`derived.py`), and every read the API makes, analytics included (`queries.py`).

SQLite by default (`runs/storelens.db`, or `$STORELENS_DATABASE_URL`), PostgreSQL by URL.
No business logic lives here: what a basket is, is attribution's to say.
"""

from storelens.storage.database import Database, StorageError
from storelens.storage.derived import Review, record_review, save_records
from storelens.storage.ingest import IngestReport, RecordError, ingest_pos, ingest_rfid

__all__ = [
    "Database",
    "IngestReport",
    "RecordError",
    "Review",
    "StorageError",
    "ingest_pos",
    "ingest_rfid",
    "record_review",
    "save_records",
]
