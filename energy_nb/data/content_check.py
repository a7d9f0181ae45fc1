"""The content rules of a store, the same on SQLite and PostgreSQL (SQLAlchemy Core, no SQL of
one backend): what no energy_nb code writes, found by ``energy-nb data check`` on either.

The rules:

- ``keys``: every table has its primary key, and no two rows share a key (a PostgreSQL table
  restored without its constraints can hold duplicate prices);
- ``price rows``: every date is a valid ``YYYY-MM-DD`` date and every price a number or blank;
- ``json``: the JSON columns of runs, forecasts and backtests hold valid JSON;
- ``versions``: every commodity with prices has a series version (the data version caches and
  stored evaluations are keyed on) of at least 1, and no version is left without prices.

Usage::

    with store.read() as conn:
        problems = content_problems(conn, tables={"prices", "series_versions"})
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection
from contextlib import nullcontext
from datetime import date
from typing import Any

from sqlalchemy import Connection, Table, func, inspect, select
from sqlalchemy.exc import DBAPIError

from energy_nb.data.database import fetch_rows
from energy_nb.data.schema import TABLES, metadata, prices, series_versions
from energy_nb.data.store_check import (
    BAD_PRICE_DATE,
    BAD_PRICE_VALUE,
    JSON_COLUMNS,
    StoreProblem,
    price_rows_problem,
)

#: examples shown per problem
EXAMPLES = 3
#: rows of a JSON column parsed per fetch
JSON_BATCH = 200


def content_problems(conn: Connection, tables: Collection[str]) -> list[StoreProblem]:
    """Run every content rule on the tables that have all their columns.

    Args:
        conn: a connection in a (read) transaction, on either backend.
        tables: the names of the tables whose columns are all there; rules needing another
            table are skipped (its schema problem is reported already).

    Returns:
        The problems found (``schema`` for a missing primary key, ``rows`` for the others,
        ``integrity`` for a table that cannot be read).
    """
    problems: list[StoreProblem] = []
    rules: list[tuple[str, Callable[[Connection], list[StoreProblem]]]] = [
        (table.name, lambda c, t=table: key_problems(c, t)) for table in TABLES
        if table.name in tables]
    if "prices" in tables:
        rules.append(("prices", price_row_problems))
    rules += [(name, lambda c, n=name, cols=columns: json_problems(c, n, cols))
              for name, columns in JSON_COLUMNS.items() if name in tables]
    if {"prices", "series_versions"} <= set(tables):
        rules.append(("series_versions", version_problems))
    for name, rule in rules:
        # on PostgreSQL an error ends the transaction: each rule in a savepoint of its own
        scope = conn.begin_nested() if conn.dialect.name == "postgresql" else nullcontext()
        try:
            with scope:
                problems.extend(rule(conn))
        except (DBAPIError, sqlite3.DatabaseError) as exc:  # unreadable pages
            error = exc.orig if isinstance(exc, DBAPIError) else exc
            problem = StoreProblem("integrity", f"cannot read table {name}: {error}")
            if problem not in problems:
                problems.append(problem)
    return problems


def key_problems(conn: Connection, table: Table) -> list[StoreProblem]:
    """The table's primary key is there, and no two rows share a key.

    Args:
        conn: a connection in a transaction.
        table: one of :data:`energy_nb.data.schema.TABLES`.

    Returns:
        A ``schema`` problem for a missing key, a ``rows`` problem for duplicates.
    """
    key = list(table.primary_key.columns)
    names = [c.name for c in key]
    problems = []
    found = inspect(conn).get_pk_constraint(table.name).get("constrained_columns") or []
    if list(found) != names:
        problems.append(StoreProblem(
            "schema", f"table {table.name} has no primary key ({', '.join(names)})"
                      + (f"; its key is ({', '.join(found)})" if found else "")))
    twice = select(*key, func.count().label("n")).group_by(*key).having(func.count() > 1)
    groups = twice.subquery()
    counted = conn.execute(select(func.count(), func.sum(groups.c.n))).one()
    if counted[0]:
        shown = "; ".join(", ".join(f"{n} {v!r}" for n, v in zip(names, row[:-1]))
                          + f" ({row[-1]} rows)"
                          for row in conn.execute(twice.order_by(*key).limit(EXAMPLES)))
        problems.append(StoreProblem(
            "rows", f"{counted[0]} {', '.join(names)} value(s) stored more than once in "
                    f"{table.name} ({int(counted[1])} rows), e.g. {shown}"))
    return problems


def is_iso_date(value: Any) -> bool:
    """Whether ``value`` is a valid date written ``YYYY-MM-DD``."""
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        return date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False


def price_row_problems(conn: Connection) -> list[StoreProblem]:
    """Every price row has a valid ``YYYY-MM-DD`` date and a number (or blank) price.

    Args:
        conn: a connection in a transaction.

    Returns:
        At most one problem per kind, with its count and a few examples.
    """
    c = prices.c
    rows = fetch_rows(conn, select(c.commodity, c.date, c.price).order_by(c.commodity, c.date))
    dates: dict[Any, bool] = {}
    bad: dict[str, list[tuple]] = {BAD_PRICE_DATE: [], BAD_PRICE_VALUE: []}
    bad_dates, bad_prices = bad.values()
    for row in rows:
        day, price = row[1], row[2]
        valid = dates.get(day)
        if valid is None:
            valid = dates[day] = is_iso_date(day)
        if not valid:
            bad_dates.append(row)
        if price is not None and type(price) not in (float, int):
            bad_prices.append(row)
    return [price_rows_problem(what, len(found), found[:EXAMPLES])
            for what, found in bad.items() if found]


def json_problems(conn: Connection, name: str, columns: tuple[str, ...]) -> list[StoreProblem]:
    """The JSON columns of a table hold valid JSON (or are blank).

    Args:
        conn: a connection in a transaction.
        name: the table.
        columns: its JSON columns.

    Returns:
        One problem per column with invalid JSON: how many rows, and the first id.
    """
    table = metadata.tables[name]
    problems = []
    for column in columns:
        col = table.c[column]
        query = (select(table.c.id, col).where(col.is_not(None)).order_by(table.c.id)
                 .execution_options(yield_per=JSON_BATCH))
        result = conn.execute(query)
        count, first = 0, None
        for row_id, value in result:
            try:
                json.loads(value)
            except (TypeError, ValueError):
                count += 1
                first = row_id if first is None else first
        if count:
            problems.append(StoreProblem(
                "rows", f"{count} {name} row(s) with invalid JSON in {column} (first id {first})"))
    return problems


def version_problems(conn: Connection) -> list[StoreProblem]:
    """Prices and series versions agree: a version of at least 1 for each commodity with prices,
    none for a commodity without.

    Args:
        conn: a connection in a transaction.

    Returns:
        One problem per commodity that disagrees.
    """
    counts = {code: n for code, n in conn.execute(
        select(prices.c.commodity, func.count()).group_by(prices.c.commodity))}
    versions = {code: v for code, v in conn.execute(
        select(series_versions.c.commodity, series_versions.c.version))}
    problems = []
    for code in sorted(counts.keys() - versions.keys()):
        problems.append(StoreProblem(
            "rows", f"{code} has {counts[code]} price rows but no series version: its data "
                    f"version reads {code}@0, so forecasts and evaluations stored for older "
                    "prices look current"))
    for code in sorted(versions.keys() - counts.keys()):
        problems.append(StoreProblem(
            "rows", f"series version {code}@{versions[code]} but no {code} prices"))
    for code in sorted(versions.keys() & counts.keys()):
        if not isinstance(versions[code], int) or versions[code] < 1:
            problems.append(StoreProblem(
                "rows", f"series version {code}@{versions[code]} is not a count of imports "
                        f"(its {counts[code]} price rows need a version of at least 1)"))
    return problems
