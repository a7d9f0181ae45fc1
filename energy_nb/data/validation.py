"""Parse and validate price tables: every bad row is named by file and line.

A source becomes a :class:`PriceSeries`: dated observations (a price or ``None`` for a blank
price that the source really has) plus the quirks found in them (:class:`Flag`). Quirks are kept
and reported, never dropped: non-positive prices (WTI -36.98 on 2020-04-20), missing prices (the
blank Henry Hub price on 2018-01-05) and gaps of more than :data:`GAP_BUSINESS_DAYS` business days
(Henry Hub, September–October 2005).

Usage::

    >>> series = read_price_csv("wti-daily.csv", commodity="WTI")   # doctest: +SKIP
    >>> [f.kind for f in series.flags]                               # doctest: +SKIP
    ['non_positive']
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np

from energy_nb.commodities import get_commodity

#: Consecutive observations further apart than this many business days form a gap.
GAP_BUSINESS_DAYS = 5

#: Strings that sources use for "no price on this day".
MISSING_TOKENS = frozenset({"", ".", "na", "n/a", "nan", "null", "none", "#n/a"})


class DataFileError(ValueError):
    """A source that cannot be read; the message names the file (and line when there is one).

    Attributes:
        source: file name or URL.
        line: 1-based line number in the file, or ``None``.
        reason: what is wrong.
    """

    def __init__(self, source: str, reason: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.reason = reason
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Flag:
    """A real quirk in the data, kept and reported.

    Attributes:
        kind: ``non_positive``, ``missing`` or ``gap``.
        date: the observation's date (for a gap: the first date after it).
        detail: human-readable description.
    """

    kind: str
    date: date
    detail: str

    def to_dict(self) -> dict[str, str]:
        """Return the flag as a JSON-able dict."""
        return {"kind": self.kind, "date": self.date.isoformat(), "detail": self.detail}


@dataclass
class PriceSeries:
    """Observations of one commodity read from one source.

    Attributes:
        commodity: canonical code.
        source: where it came from (file path or URL/series).
        dates: observation dates, strictly increasing.
        prices: price per date, ``None`` where the source has a blank price.
        lines: source line (or record) number per observation.
        flags: quirks found (see :func:`find_flags`).
    """

    commodity: str
    source: str
    dates: list[date] = field(default_factory=list)
    prices: list[float | None] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.dates)


def find_flags(dates: list[date], prices: list[float | None]) -> list[Flag]:
    """Find non-positive prices, missing prices and gaps.

    Args:
        dates: increasing observation dates.
        prices: prices (``None`` = missing).

    Returns:
        The flags in date order.
    """
    flags: list[Flag] = []
    if dates:
        steps = np.busday_count(np.array(dates[:-1], dtype="datetime64[D]"),
                                np.array(dates[1:], dtype="datetime64[D]"))
    else:
        steps = np.array([], dtype=int)
    for i, (d, p) in enumerate(zip(dates, prices)):
        if i > 0 and steps[i - 1] > GAP_BUSINESS_DAYS:
            flags.append(Flag("gap", d, f"no observations from {dates[i - 1].isoformat()} to "
                                        f"{d.isoformat()} ({int(steps[i - 1]) - 1} business days)"))
        if p is None:
            flags.append(Flag("missing", d, "blank price in the source"))
        elif p <= 0:
            flags.append(Flag("non_positive", d, f"price {p:g} is not positive"))
    return flags


def _parse_date(text: str) -> date:
    """Parse ISO ``YYYY-MM-DD`` (time part ignored), ``YYYY-MM`` or a few common layouts."""
    text = text.strip()
    if len(text) == 7 and text[4] == "-":  # YYYY-MM (EIA monthly files)
        text += "-01"
    if len(text) >= 10 and text[4] == "-":
        return date.fromisoformat(text[:10])
    for fmt in ("%m/%d/%Y", "%Y/%m/%d", "%d.%m.%Y", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def parse_price_text(
    text: str,
    *,
    source: str,
    commodity: str,
    date_column: str | None = None,
    price_column: str | None = None,
) -> PriceSeries:
    """Parse CSV text with a date column and a price column.

    Args:
        text: the whole file (CRLF or LF line endings, optional BOM).
        source: name used in error messages (file path or URL).
        commodity: commodity code (case-insensitive).
        date_column: header of the date column (default: ``Date``, ``DATE``,
            ``observation_date``, ``period`` or ``Month``, case-insensitive).
        price_column: header of the price column (default: ``Price``, ``value`` or the source's
            FRED series id; with exactly two columns, the second).

    Returns:
        The observations sorted by date, with their flags.

    Raises:
        DataFileError: empty file, missing columns, bad dates or prices, duplicate dates with
            different prices — naming the file and line.
    """
    code = get_commodity(commodity).code
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise DataFileError(source, "file is empty")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:  # pragma: no cover - guarded by the strip() check above
        raise DataFileError(source, "file is empty") from None
    names = [h.strip() for h in header]
    lowered = [n.lower() for n in names]
    date_idx = _column_index(source, names, lowered, date_column,
                             ("date", "observation_date", "period", "month"), "date")
    fred = get_commodity(code).fred_series.lower()
    price_idx = _column_index(source, names, lowered, price_column,
                              ("price", "value", fred), "price",
                              fallback=1 if len(names) == 2 and date_idx == 0 else None)
    rows: dict[date, tuple[float | None, int]] = {}
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) <= max(date_idx, price_idx):
            raise DataFileError(source, f"expected {len(names)} columns, found {len(row)}", line_no)
        raw_date, raw_price = row[date_idx].strip(), row[price_idx].strip()
        try:
            day = _parse_date(raw_date)
        except ValueError:
            raise DataFileError(source, f"cannot read date {raw_date!r}", line_no) from None
        price = _parse_price(source, raw_price, line_no)
        if day in rows:
            old_price, old_line = rows[day]
            if not _same_price(old_price, price):
                raise DataFileError(
                    source,
                    f"duplicate date {day.isoformat()} with different prices "
                    f"({_fmt(old_price)} on line {old_line}, {_fmt(price)} on line {line_no})",
                    line_no,
                )
            continue
        rows[day] = (price, line_no)
    if not rows:
        raise DataFileError(source, "no data rows after the header")
    ordered = sorted(rows)
    series = PriceSeries(
        commodity=code,
        source=source,
        dates=ordered,
        prices=[rows[d][0] for d in ordered],
        lines=[rows[d][1] for d in ordered],
    )
    series.flags = find_flags(series.dates, series.prices)
    return series


def read_price_csv(
    path: str | Path,
    *,
    commodity: str,
    date_column: str | None = None,
    price_column: str | None = None,
) -> PriceSeries:
    """Read a CSV file (EIA snapshot ``Date,Price``, FRED, or any user table).

    Args:
        path: the file.
        commodity: commodity code (case-insensitive).
        date_column: header of the date column (see :func:`parse_price_text`).
        price_column: header of the price column.

    Returns:
        The parsed :class:`PriceSeries`.

    Raises:
        DataFileError: unreadable file or bad content, naming the file and line.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFileError(str(path), f"cannot read file ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataFileError(str(path), "not UTF-8 text", line) from None
    return parse_price_text(text, source=str(path), commodity=commodity,
                            date_column=date_column, price_column=price_column)


def _column_index(source: str, names: list[str], lowered: list[str], wanted: str | None,
                  candidates: tuple[str, ...], what: str, fallback: int | None = None) -> int:
    if wanted is not None:
        if wanted in names:
            return names.index(wanted)
        if wanted.lower() in lowered:
            return lowered.index(wanted.lower())
        raise DataFileError(source, f"no {what} column {wanted!r}; columns are {names}", 1)
    for cand in candidates:
        if cand in lowered:
            return lowered.index(cand)
    if fallback is not None:
        return fallback
    raise DataFileError(
        source, f"no {what} column (looked for {', '.join(candidates)}); columns are {names}", 1)


def _parse_price(source: str, raw: str, line_no: int) -> float | None:
    if raw.lower() in MISSING_TOKENS:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise DataFileError(source, f"cannot read price {raw!r}", line_no) from None
    if not math.isfinite(value):
        raise DataFileError(source, f"price {raw!r} is not a finite number", line_no)
    return value


def _same_price(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-9 * max(1.0, abs(a))


def _fmt(p: float | None) -> str:
    return "blank" if p is None else f"{p:g}"
