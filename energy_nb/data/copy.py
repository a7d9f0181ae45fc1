"""Copy a whole store to another (SQLite <-> PostgreSQL), and prove the copy with checksums.

Every table is copied row for row (ids included) in ONE transaction on the target: a failed or
refused copy leaves the target as it was. Each table's rows and checksum are then computed on
both sides; a difference aborts the copy.

Usage::

    >>> report = copy_store(PriceStore("var/energy_nb.sqlite", create=False),   # doctest: +SKIP
    ...                     PriceStore("postgresql://u:pw@127.0.0.1/energy"))
    >>> [(t.table, t.source_rows, t.target_rows) for t in report]              # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, select, text

from energy_nb.data.schema import TABLES
from energy_nb.data.store import PriceStore, StoreError

#: rows moved per batch
BATCH = 5000


class CopyError(StoreError):
    """A copy that was refused (a non-empty target, the same store) or did not verify."""


@dataclass
class TableCopy:
    """One table of a copy: rows and checksum on each side.

    Attributes:
        table: the table name.
        source_rows, target_rows: row counts.
        source_checksum, target_checksum: SHA-256 (first 16 hex digits) of the rows in key order.
    """

    table: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def ok(self) -> bool:
        """Whether both sides hold the same rows."""
        return (self.source_rows, self.source_checksum) == (self.target_rows,
                                                             self.target_checksum)

    def to_dict(self) -> dict[str, Any]:
        """Return the table's figures as a JSON-able dict."""
        return {**asdict(self), "ok": self.ok}


def _ordered(table: Table) -> Any:
    return select(table).order_by(*table.primary_key.columns)


def _rows(conn: Connection, table: Table) -> Iterator[list[tuple]]:
    result = conn.execute(_ordered(table).execution_options(yield_per=BATCH))
    for part in result.partitions(BATCH):
        yield [tuple(r) for r in part]


def table_summary(conn: Connection, table: Table) -> tuple[int, str]:
    """Rows and checksum of one table (values as JSON, in primary-key order).

    Args:
        conn: a connection in a transaction.
        table: the table.

    Returns:
        ``(rows, checksum)``.
    """
    digest, count = hashlib.sha256(), 0
    for part in _rows(conn, table):
        for row in part:
            digest.update(json.dumps(row, separators=(",", ":")).encode())
            digest.update(b"\n")
        count += len(part)
    return count, digest.hexdigest()[:16]


def row_counts(store: PriceStore) -> dict[str, int]:
    """Rows per table of a store (one snapshot)."""
    with store.read() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
                for t in TABLES}


def copy_store(source: PriceStore, target: PriceStore, *, force: bool = False,
               progress: Callable[[str, int], None] | None = None) -> list[TableCopy]:
    """Copy every table of ``source`` into ``target`` (one transaction on the target).

    Args:
        source: the store to read (one consistent snapshot).
        target: the store to fill; it must be empty unless ``force``.
        force: replace whatever the target holds.
        progress: called with ``(table, rows copied so far)`` after each batch.

    Returns:
        Per table: rows and checksums on both sides (all equal: otherwise nothing is kept).

    Raises:
        CopyError: the target is the source, holds rows and ``force`` is false, or the copy's
            checksums differ (nothing is kept).
    """
    if source.url == target.url or (source.path and source.path.resolve() == (
            target.path.resolve() if target.path else None)):
        raise CopyError(f"the source and the target are the same store ({source.location})")
    held = {name: n for name, n in row_counts(target).items() if n}
    if held and not force:
        shown = ", ".join(f"{name} {n}" for name, n in held.items())
        raise CopyError(f"the target {target.location} is not empty ({shown} rows); nothing was "
                        "copied. Pass --force (force=True) to replace its content")
    report: list[TableCopy] = []
    with source.read() as src, target.transaction() as dst:
        for table in reversed(TABLES):
            dst.execute(delete(table))
        for table in TABLES:
            copied = 0
            for part in _rows(src, table):
                dst.execute(insert(table), [dict(zip(table.columns.keys(), row)) for row in part])
                copied += len(part)
                if progress:
                    progress(table.name, copied)
            if dst.dialect.name == "postgresql" and "id" in table.columns:
                dst.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table.name}"))
            rows, checksum = table_summary(src, table)
            target_rows, target_checksum = table_summary(dst, table)
            report.append(TableCopy(table.name, rows, target_rows, checksum, target_checksum))
        bad = [t for t in report if not t.ok]
        if bad:  # raising rolls the target back
            raise CopyError("the copy does not match its source in "
                            + ", ".join(t.table for t in bad) + "; nothing was kept")
    return report
