"""``energy-nb data``: import, update, status, export and init of the price store.

Usage::

    energy-nb data import wti-daily.csv --commodity WTI
    energy-nb data update --source fred
    energy-nb data status --json
    energy-nb data check --json
    energy-nb data export WTI --start 2020-01-01 --freq weekly wti.csv

Only ``init``, ``import`` and ``update`` create a store; the other actions refuse a missing one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

from energy_nb.cli._common import (
    CliError,
    add_db_flag,
    add_json_flag,
    emit,
    open_store,
    store_error_text,
)
from energy_nb.config import Settings
from energy_nb.commodities import (
    CODES,
    COMMODITIES,
    UnknownCommodityError,
    get_commodity,
)
from energy_nb.data.frequency import FREQUENCIES, check_frequency, resample_prices
from energy_nb.data.sources import SOURCES, SourceError, fetch
from energy_nb.data.store import ImportConflictError, ImportReport
from energy_nb.data.validation import (
    DataFileError,
    DateFormatError,
    PriceSeries,
    check_date_format,
    read_price_csv,
)

#: File-name stems that name a commodity when ``--commodity`` is not given.
FILE_HINTS = {"wti": "WTI", "brent": "BRENT", "henryhub": "NG", "henry-hub": "NG", "ng": "NG",
              "natural-gas": "NG", "naturalgas": "NG"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group."""
    data = subparsers.add_parser("data", help="import, update, inspect and export price data")
    sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True

    imp = sub.add_parser("import", help="import CSV files (EIA Date,Price format or any table)")
    imp.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    imp.add_argument("--commodity", help="WTI, BRENT or NG (default: from the file name)")
    imp.add_argument("--date-column", help="header of the date column (default: Date)")
    imp.add_argument("--price-column", help="header of the price column (default: Price)")
    imp.add_argument("--date-format", metavar="LAYOUT",
                     help="strptime layout of the dates, e.g. %%d/%%m/%%Y (default: ISO "
                          "YYYY-MM-DD only; other layouts are refused, never guessed)")
    imp.add_argument("--replace", action="store_true",
                     help="overwrite stored prices that differ (otherwise a conflict is an error)")
    _common(imp)
    imp.set_defaults(func=cmd_import)

    upd = sub.add_parser("update", help="download new prices from FRED or the EIA API")
    upd.add_argument("--source", choices=SOURCES, default="fred")
    upd.add_argument("--commodity", action="append", help="limit to these (repeatable)")
    upd.add_argument("--timeout", type=float, default=30.0)
    upd.add_argument("--replace", action="store_true", help="overwrite revised prices")
    _common(upd)
    upd.set_defaults(func=cmd_update)

    status = sub.add_parser("status", help="per commodity: dates, rows, sources, flagged values; "
                                           "and whether the store is damaged")
    _common(status)
    status.set_defaults(func=cmd_status)

    check = sub.add_parser(
        "check", help="check the store for damage: SQLite integrity, tables and columns, rows",
        description="Run SQLite's integrity_check and check the schema (tables and columns) and "
                    "the rows (dates, prices, JSON). Exit 0 when healthy, 1 when damaged.")
    _common(check)
    check.set_defaults(func=cmd_check)

    exp = sub.add_parser("export", help="write one commodity's prices to CSV")
    exp.add_argument("commodity")
    exp.add_argument("path", type=Path, metavar="PATH")
    exp.add_argument("--start")
    exp.add_argument("--end")
    exp.add_argument("--freq", default="daily", help=f"one of {', '.join(FREQUENCIES)}")
    _common(exp)
    exp.set_defaults(func=cmd_export)

    init = sub.add_parser("init", help="fill an empty store: offline folder if present, else FRED")
    init.add_argument("--offline-dir", type=Path,
                      help="folder with wti-daily.csv, brent-daily.csv, henryhub-daily.csv")
    init.add_argument("--timeout", type=float, default=30.0)
    _common(init)
    init.set_defaults(func=cmd_init)


def _common(parser: argparse.ArgumentParser) -> None:
    add_json_flag(parser)
    add_db_flag(parser)


def _commodity_for(path: Path, given: str | None) -> str:
    if given:
        try:
            return get_commodity(given).code
        except UnknownCommodityError as exc:
            raise CliError(str(exc)) from None
    stem = path.name.lower()
    for hint, code in sorted(FILE_HINTS.items(), key=lambda kv: -len(kv[0])):
        if stem.startswith(hint):
            return code
    raise CliError(f"{path}: cannot tell the commodity from the file name; "
                   f"pass --commodity ({', '.join(CODES)})")


def _report_text(reports: list[ImportReport]) -> str:
    lines = []
    for r in reports:
        lines.append(f"{r.commodity}: {r.rows_read} rows read from {r.source}: {r.added} added, "
                     f"{r.unchanged} unchanged, {r.replaced} replaced")
        lines.extend(f"  flag {f.kind} {f.date.isoformat()}: {f.detail}" for f in r.flags)
    return "\n".join(lines)


def _import(args: argparse.Namespace, batch: list[PriceSeries],
            replace: bool) -> list[ImportReport]:
    store = open_store(args, create=True)
    try:
        return store.import_many(batch, replace=replace)
    except ImportConflictError as exc:
        raise CliError(str(exc)) from None


def cmd_import(args: argparse.Namespace) -> int:
    """Import files in one transaction (all or nothing); each file is streamed and validated."""
    if args.date_format is not None:
        try:
            check_date_format(args.date_format)
        except DateFormatError as exc:
            raise CliError(f"--date-format {exc.date_format!r}: {exc.reason}") from None
    batch: list[PriceSeries] = []
    for path in args.paths:
        code = _commodity_for(path, args.commodity)
        try:
            batch.append(read_price_csv(path.resolve(), commodity=code,
                                        date_column=args.date_column,
                                        price_column=args.price_column,
                                        date_format=args.date_format))
        except DataFileError as exc:
            raise CliError(f"{exc} (nothing was imported)") from None
    reports = _import(args, batch, args.replace)
    emit(args, {"imports": [r.to_dict() for r in reports]}, _report_text(reports))
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    """Download each commodity since its last stored date and import the new rows."""
    try:
        codes = [get_commodity(c).code for c in args.commodity] if args.commodity else list(CODES)
    except UnknownCommodityError as exc:
        raise CliError(str(exc)) from None
    store = open_store(args, create=True)
    batch = []
    for code in codes:
        last = store.last_date(code)
        try:
            batch.append(fetch(args.source, code, start=last.date() if last is not None else None,
                               timeout=args.timeout))
        except SourceError as exc:
            raise CliError(f"{exc} (nothing was imported)") from None
    reports = _import(args, batch, args.replace)
    emit(args, {"source": args.source, "imports": [r.to_dict() for r in reports]},
         _report_text(reports))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print what the store holds, or what is damaged in it (then exit non-zero)."""
    from energy_nb.data.store import StoreDamagedError, StoreVersionError

    try:
        store = open_store(args)
    except CliError as exc:
        damage = exc.__cause__
        if isinstance(damage, StoreDamagedError):
            problems = ([p.to_dict() for p in damage.problems]
                        or [{"kind": "damage", "detail": damage.what}])
        elif isinstance(damage, StoreVersionError):
            problems = [{"kind": "version", "detail": str(damage)}]
        else:
            raise
        emit(args, {"store": str(args.db or Settings.from_env().db_path), "commodities": [],
                    "health": {"ok": False, "problems": problems}},
             "\n".join(["health: DAMAGED" if isinstance(damage, StoreDamagedError)
                        else "health: unusable"]
                       + [f"  {p['kind']}: {p['detail']}" for p in problems]))
        raise
    status = store.status()
    lines = [f"store: {store.path}", "health: ok (quick check; `energy-nb data check` runs the "
                                     "full one)"]
    for s in status:
        if not s["rows"]:
            lines.append(f"{s['commodity']:6} empty")
            continue
        kinds: dict[str, int] = {}
        for f in s["flags"]:
            kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
        flags = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
        lines.append(f"{s['commodity']:6} {s['first']} .. {s['last']}  {s['rows']:6d} rows  "
                     f"{s['unit']:10} sources: {', '.join(s['sources'])}  flags: {flags}")
        lines.extend(f"         {f['kind']} {f['date']}: {f['detail']}" for f in s["flags"])
    emit(args, {"store": str(store.path), "commodities": status,
                "health": {"ok": True, "check": "quick_check", "problems": []}},
         "\n".join(lines))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Run the full health check; exit 1 when the store is damaged."""
    from energy_nb.data.store import StoreError
    from energy_nb.data.store_check import check_store

    path = Path(args.db) if args.db else Settings.from_env().db_path
    try:
        result = check_store(path, full=True)
    except StoreError as exc:
        raise CliError(store_error_text(exc, args.db)) from None
    lines = [f"store: {path}", f"schema version: {result.schema_version}"]
    if result.ok:
        lines.append("ok: SQLite integrity_check, tables and columns, price rows, JSON columns")
        lines.extend(f"  {table:15} {n:8d} rows" for table, n in result.rows.items())
    else:
        lines.append(f"DAMAGED: {len(result.problems)} problem(s)")
        lines.extend(f"  {p.kind}: {p.detail}" for p in result.problems)
    emit(args, result.to_dict(), "\n".join(lines))
    if not result.ok:
        print(f"energy-nb: error: {result.error()}", file=sys.stderr)
        return 1
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write one commodity's prices (optionally resampled) to a CSV file atomically."""
    try:
        code = get_commodity(args.commodity).code
        freq = check_frequency(args.freq)
        start = pd.Timestamp(args.start) if args.start else None
        end = pd.Timestamp(args.end) if args.end else None
    except (UnknownCommodityError, ValueError) as exc:
        raise CliError(str(exc)) from None
    if start is not None and end is not None and start > end:
        raise CliError(f"--start {args.start} is after --end {args.end}")
    _check_output(args.path)
    series = resample_prices(open_store(args).load(code, start, end), freq)
    if series.empty:
        raise CliError(f"no {code} prices stored in that range")
    frame = series.rename("price").to_frame()
    frame.index = frame.index.strftime("%Y-%m-%d")
    frame.index.name = "date"
    _write_atomically(args.path, frame.to_csv(float_format="%.6g", lineterminator="\n"))
    payload = {"commodity": code, "path": str(args.path), "rows": len(frame), "freq": freq,
               "first": frame.index[0], "last": frame.index[-1]}
    emit(args, payload, f"wrote {len(frame)} {freq} {code} rows to {args.path}")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    """Fill an empty store from the offline folder when given and present, else from FRED."""
    store = open_store(args, create=True)
    if not store.is_empty():
        emit(args, {"action": "none", "store": str(store.path)},
             f"store {store.path} already holds data; nothing to do")
        return 0
    folder = args.offline_dir
    if folder is not None and all((folder / COMMODITIES[c].snapshot_file).exists() for c in CODES):
        folder = folder.resolve()
        try:
            batch = [read_price_csv(folder / COMMODITIES[c].snapshot_file, commodity=c)
                     for c in CODES]
        except DataFileError as exc:
            raise CliError(f"{exc} (the store is still empty)") from None
        source = str(folder)
    else:
        try:
            batch = [fetch("fred", c, timeout=args.timeout) for c in CODES]
        except SourceError as exc:
            raise CliError(f"{exc} (the store is still empty)") from None
        source = "fred"
    reports = _import(args, batch, False)
    emit(args, {"action": "import", "source": source, "imports": [r.to_dict() for r in reports]},
         _report_text(reports))
    return 0


def _check_output(path: Path) -> None:
    if path.is_dir():
        raise CliError(f"{path} is a folder; give a file name")
    if not path.parent.exists():
        raise CliError(f"folder {path.parent} does not exist")


def _write_atomically(path: Path, text: str) -> None:
    _check_output(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
