"""The API's state: one SQLite file, ``$SERVING_HOME/api/state.db``.

Every resource (model, endpoint config, endpoint, transform job, model package group, model
package) is one row: its kind, its key (SageMaker's names are unique without regard to case,
so the key is the lower-cased name, as in its ARNs) and its description as JSON, the body
``Describe*`` answers plus the fields only we read (prefixed ``_``). Tags are rows of their
own, keyed by ARN; every status change is a row of ``history``.

Durability: WAL journal with ``synchronous=FULL``, and every change is committed before the
API answers, so a ``kill -9`` at any moment loses no record the client was told about. One
connection, shared by the request threads under a lock: the API's writes are a few per
second, far below what one connection serves.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS tags (
    arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (arn, key)
);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL, at REAL NOT NULL,
    status TEXT NOT NULL, message TEXT NOT NULL DEFAULT ''
);
"""


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self.lock = threading.RLock()

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- resources ---------------------------------------------------------------------------

    def insert(self, kind: str, name: str, doc: dict) -> bool:
        """Add a resource; False (and nothing written) if one of that kind and name exists."""
        with self.lock:
            try:
                self.db.execute("INSERT INTO resources (kind, key, doc, created) VALUES (?, ?, ?, ?)",
                                (kind, name.lower(), _dumps(doc), time.time()))
            except sqlite3.IntegrityError:
                return False
            return True

    def put(self, kind: str, name: str, doc: dict) -> None:
        """Replace a resource's description (it must exist)."""
        with self.lock:
            self.db.execute("UPDATE resources SET doc = ? WHERE kind = ? AND key = ?", (_dumps(doc), kind, name.lower()))

    def update(self, kind: str, name: str, **fields: Any) -> dict | None:
        """Set fields of a resource's description and return it (None if it is gone)."""
        with self.lock:
            doc = self.get(kind, name)
            if doc is None:
                return None
            doc.update(fields)
            self.put(kind, name, doc)
            return doc

    def get(self, kind: str, name: str) -> dict | None:
        with self.lock:
            row = self.db.execute("SELECT doc FROM resources WHERE kind = ? AND key = ?", (kind, name.lower())).fetchone()
        return json.loads(row[0]) if row else None

    def delete(self, kind: str, name: str) -> bool:
        with self.lock:
            cursor = self.db.execute("DELETE FROM resources WHERE kind = ? AND key = ?", (kind, name.lower()))
        return cursor.rowcount > 0

    def all(self, kind: str) -> list[dict]:
        """Every resource of a kind, oldest first."""
        with self.lock:
            rows = self.db.execute("SELECT doc FROM resources WHERE kind = ? ORDER BY created, key", (kind,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    # -- tags and history ------------------------------------------------------------------

    def add_tags(self, arn: str, tags: list[dict]) -> None:
        with self.lock:
            # a key given again keeps its place in the list, with the new value
            self.db.executemany("INSERT INTO tags (arn, key, value) VALUES (?, ?, ?) "
                                "ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
                                [(arn, t["Key"], t.get("Value", "")) for t in tags])

    def tags(self, arn: str) -> list[dict]:
        with self.lock:
            rows = self.db.execute("SELECT key, value FROM tags WHERE arn = ? ORDER BY rowid", (arn,)).fetchall()
        return [{"Key": k, "Value": v} for k, v in rows]

    def delete_tags(self, arn: str, keys: list[str] | None = None) -> None:
        with self.lock:
            if keys is None:
                self.db.execute("DELETE FROM tags WHERE arn = ?", (arn,))
            else:
                self.db.executemany("DELETE FROM tags WHERE arn = ? AND key = ?", [(arn, k) for k in keys])

    def record(self, kind: str, name: str, status: str, message: str = "") -> None:
        with self.lock:
            self.db.execute("INSERT INTO history (kind, key, at, status, message) VALUES (?, ?, ?, ?, ?)",
                            (kind, name.lower(), time.time(), status, message))

    def history(self, kind: str, name: str) -> Iterator[tuple[float, str, str]]:
        with self.lock:
            rows = self.db.execute("SELECT at, status, message FROM history WHERE kind = ? AND key = ? ORDER BY id",
                                   (kind, name.lower())).fetchall()
        return iter(rows)


def _dumps(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"))
