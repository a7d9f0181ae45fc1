"""``energy-nb data``: import, update, status, export and init of the price store.

Usage::

    energy-nb data import wti-daily.csv --commodity WTI
    energy-nb data update --source fred
    energy-nb data status --json
    energy-nb data check --json
    energy-nb data export WTI --start 2020-01-01 --freq weekly wti.csv
    energy-nb data copy --to postgresql://energy_nb:PASSWORD@db:5432/energy_nb

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
        description="Check the schema (tables, columns, keys) and the rows (dates, prices, "
                    "duplicate keys, series versions, JSON) on either backend, and run SQLite's "
                    "integrity_check. Exit 0 when healthy, 1 when damaged.")
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

    copy = sub.add_parser(
        "copy", help="copy the whole store to (or from) another: SQLite <-> PostgreSQL",
        description="Copy every table, row for row, in one transaction on the target; print "
                    "per table the rows and a checksum on each side. A non-empty target is "
                    "refused unless --force.")
    copy.add_argument("--to", dest="to_url", metavar="URL",
                      help="target store: a SQLite file or a database URL (default: the "
                           "configured store, when --from is given)")
    copy.add_argument("--from", dest="from_url", metavar="URL",
                      help="source store (default: the configured store, or --db)")
    copy.add_argument("--force", action="store_true",
                      help="replace what a non-empty target holds")
    _common(copy)
    copy.set_defaults(func=cmd_copy)

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
        emit(args, {"store": _where(args), "commodities": [],
                    "health": {"ok": False, "problems": problems}},
             "\n".join(["health: DAMAGED" if isinstance(damage, StoreDamagedError)
                        else "health: unusable"]
                       + [f"  {p['kind']}: {p['detail']}" for p in problems]))
        raise
    status = store.status()
    lines = [f"store: {store.location}", "health: ok (quick check; `energy-nb data check` runs the "
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
    emit(args, {"store": store.location, "commodities": status,
                "health": {"ok": True, "check": "quick_check", "problems": []}},
         "\n".join(lines))
    return 0


def _where(args: argparse.Namespace) -> str:
    """The store a command is pointed at, for people (password masked)."""
    from energy_nb.data.database import DatabaseUrlError, masked, parse_url

    location = args.db or Settings.from_env().database_url
    try:
        return masked(parse_url(location))
    except DatabaseUrlError:
        return masked(str(location))


def cmd_check(args: argparse.Namespace) -> int:
    """Run the full health check; exit 1 when the store is damaged.

    The same schema and content rules on both backends; SQLite also runs its integrity_check
    (PostgreSQL keeps its pages sound itself).
    """
    from energy_nb.data.database import DatabaseUrlError, is_sqlite, parse_url
    from energy_nb.data.store import PriceStore, StoreError
    from energy_nb.data.store_check import check_server, check_store

    try:
        url = parse_url(args.db or Settings.from_env().database_url)
    except DatabaseUrlError as exc:
        raise CliError(str(exc)) from None
    try:
        if is_sqlite(url):
            result = check_store(Path(str(url.database)), full=True)
            checked = "SQLite integrity_check, tables and columns, keys, price rows, " \
                      "series versions, JSON columns"
        else:  # opened without the quick check: a damaged store is listed, not refused
            result = check_server(PriceStore(url, create=False, verify=False))
            checked = "tables and columns, keys, price rows, series versions, JSON columns " \
                      "(PostgreSQL checks its own pages)"
    except StoreError as exc:
        raise CliError(store_error_text(exc, args.db)) from None
    lines = [f"store: {result.path}", f"schema version: {result.schema_version}"]
    if result.ok:
        lines.append(f"ok: {checked}")
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


def cmd_copy(args: argparse.Namespace) -> int:
    """Copy a whole store between two locations; print rows and checksums per table."""
    from energy_nb.data.copy import copy_store
    from energy_nb.data.store import PriceStore, StoreError

    if not args.to_url and not args.from_url:
        raise CliError("give the target with --to URL (or the source with --from URL)")
    configured = args.db or Settings.from_env().database_url
    try:
        source = PriceStore(args.from_url or configured, create=False)
    except StoreError as exc:
        raise CliError(f"source: {store_error_text(exc)}") from None
    try:
        target = PriceStore(args.to_url or configured, create=True)
        report = copy_store(source, target, force=args.force)
    except StoreError as exc:
        raise CliError(store_error_text(exc)) from None
    lines = [f"copied {source.location} -> {target.location}",
             f"{'table':16} {'source rows':>11} {'target rows':>11}  {'source checksum':16}  "
             "target checksum"]
    lines += [f"{t.table:16} {t.source_rows:11d} {t.target_rows:11d}  {t.source_checksum}  "
              f"{t.target_checksum}" for t in report]
    emit(args, {"source": source.location, "target": target.location,
                "tables": [t.to_dict() for t in report]}, "\n".join(lines))
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    """Fill an empty store from the offline folder when given and present, else from FRED."""
    store = open_store(args, create=True)
    if not store.is_empty():
        emit(args, {"action": "none", "store": store.location},
             f"store {store.location} already holds data; nothing to do")
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
