"""Parse and validate price tables: every bad row is named by file and line.

A source becomes a :class:`PriceSeries`: dated observations (a price or ``None`` for a blank
price that the source really has) plus the quirks found in them (:class:`Flag`). Quirks are kept
and reported, never dropped: non-positive prices (WTI -36.98 on 2020-04-20), missing prices (the
blank Henry Hub price on 2018-01-05) and gaps of more than :data:`GAP_BUSINESS_DAYS` business days
(Henry Hub, September–October 2005).

Impossible data is refused, never guessed at: dates before 1900 or more than
:data:`FUTURE_TOLERANCE_DAYS` days after today, dates that are not ISO ``YYYY-MM-DD`` (or
``YYYY-MM``) unless a ``date_format`` is given, prices that are not plain decimal numbers
(``6_1.18``, ``1,061.17``), duplicate column names, input that is not UTF-8 text, lines over
:data:`MAX_LINE_BYTES` and fields over the CSV field limit (an unterminated quote). Files are
streamed, and error messages are cut to :data:`MAX_REASON_CHARS`.

Usage::

    >>> series = read_price_csv("wti-daily.csv", commodity="WTI")   # doctest: +SKIP
    >>> [f.kind for f in series.flags]                               # doctest: +SKIP
    ['non_positive']
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from energy_nb.commodities import get_commodity

#: Consecutive observations further apart than this many business days form a gap.
GAP_BUSINESS_DAYS = 5

#: Strings that sources use for "no price on this day".
MISSING_TOKENS = frozenset({"", ".", "na", "n/a", "nan", "null", "none", "#n/a"})

#: No price date before this is accepted (an earlier one is a typo, not data).
EARLIEST_DATE = date(1900, 1, 1)

#: Dates up to this many days after today (UTC) are accepted: a source in another time zone may
#: already be on tomorrow. Anything later (``9999-12-31``, ``2300-01-01``) is refused.
FUTURE_TOLERANCE_DAYS = 2

#: Longest line accepted, in bytes without the line break; longer input is not a price table.
MAX_LINE_BYTES = 1024 * 1024

#: Files are read in blocks of this many bytes, so memory does not grow with the file.
BLOCK_BYTES = 64 * 1024

#: Longest reason in an error message; longer text (a huge header, a runaway field) is cut.
MAX_REASON_CHARS = 400

#: ISO 8601 calendar date, optionally with a time part (ignored), or an ISO month ``YYYY-MM``.
_ISO_DATE = re.compile(
    r"([0-9]{4})-([0-9]{2})(?:-([0-9]{2})"
    r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]{1,9})?)?"
    r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?)?")


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
        self.reason = clip(reason)
        where = f"{clip(source)}, line {line}" if line is not None else clip(source)
        super().__init__(f"{where}: {self.reason}")


class DateFormatError(ValueError):
    """A ``strptime`` layout that cannot identify a date (a bad directive, no year or month).

    Attributes:
        date_format: the layout.
        reason: what is wrong with it.
    """

    def __init__(self, date_format: str, reason: str) -> None:
        self.date_format = date_format
        self.reason = reason
        super().__init__(f"date format {date_format!r} {reason}")


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


def parse_price_text(
    text: str,
    *,
    source: str,
    commodity: str,
    date_column: str | None = None,
    price_column: str | None = None,
    date_format: str | None = None,
) -> PriceSeries:
    """Parse CSV text with a date column and a price column (e.g. a FRED download).

    Args:
        text: the whole table (CRLF, LF or CR line endings, optional BOM).
        source: name used in error messages (file path or URL).
        commodity: commodity code (case-insensitive).
        date_column: header of the date column (default: ``Date``, ``DATE``,
            ``observation_date``, ``period`` or ``Month``, case-insensitive).
        price_column: header of the price column (default: ``Price``, ``value`` or the source's
            FRED series id; with exactly two columns, the second).
        date_format: ``strptime`` layout of the dates (see :func:`check_date_format`); by
            default only ISO ``YYYY-MM-DD`` (and ``YYYY-MM``) is read.

    Returns:
        The observations sorted by date, with their flags.

    Raises:
        DataFileError: the same errors as :func:`read_price_csv`.
        DateFormatError: ``date_format`` cannot identify a date.
    """
    return _parse_stream(io.BytesIO(text.encode("utf-8", errors="surrogatepass")),
                         source=source, commodity=commodity, date_column=date_column,
                         price_column=price_column, date_format=date_format)


def read_price_csv(
    path: str | Path,
    *,
    commodity: str,
    date_column: str | None = None,
    price_column: str | None = None,
    date_format: str | None = None,
) -> PriceSeries:
    """Read a CSV file (EIA snapshot ``Date,Price``, FRED, or any user table), streaming it.

    The file is read in blocks of :data:`BLOCK_BYTES`, so memory does not grow with its size:
    what is kept is one entry per distinct date, and dates are bounded (1900 to today).

    Args:
        path: the file.
        commodity: commodity code (case-insensitive).
        date_column: header of the date column (see :func:`parse_price_text`).
        price_column: header of the price column.
        date_format: ``strptime`` layout of non-ISO dates, e.g. ``"%d/%m/%Y"``.

    Returns:
        The parsed :class:`PriceSeries`.

    Raises:
        DataFileError: unreadable file, not UTF-8 text, a line over :data:`MAX_LINE_BYTES`,
            a field over the CSV field limit, duplicate column names, an unreadable or
            impossible date, a price that is not a plain decimal number, duplicate dates with
            different prices — naming the file and line.
        DateFormatError: ``date_format`` cannot identify a date.
    """
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise DataFileError(str(path), f"cannot read file ({exc.strerror or exc})") from None
    with handle:
        return _parse_stream(handle, source=str(path), commodity=commodity,
                             date_column=date_column, price_column=price_column,
                             date_format=date_format)


def _parse_stream(handle: BinaryIO, *, source: str, commodity: str, date_column: str | None,
                  price_column: str | None, date_format: str | None) -> PriceSeries:
    code = get_commodity(commodity).code
    if date_format is not None:
        check_date_format(date_format)
    latest = latest_date()
    lines = _text_lines(handle, source)
    reader = csv.reader(lines)
    records = _records(reader, source)
    header_line, names = _header(records, source)
    lowered = [n.lower() for n in names]
    date_idx = _column_index(source, header_line, names, lowered, date_column,
                             ("date", "observation_date", "period", "month"), "date")
    fred = get_commodity(code).fred_series.lower()
    price_idx = _column_index(source, header_line, names, lowered, price_column,
                              ("price", "value", fred), "price",
                              fallback=1 if len(names) == 2 and date_idx == 0 else None)
    rows: dict[date, tuple[float | None, int]] = {}
    for line_no, row in records:
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) <= max(date_idx, price_idx):
            raise DataFileError(source, f"expected {len(names)} columns, found {len(row)}", line_no)
        raw_date, raw_price = row[date_idx].strip(), row[price_idx].strip()
        try:
            day = parse_date(raw_date, date_format)
            problem = date_range_problem(day, latest)
            if problem:
                raise ValueError(f"date {day.isoformat()} {problem}")
            price = parse_price(raw_price)
        except ValueError as exc:
            raise DataFileError(source, str(exc), line_no) from None
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


def _text_lines(handle: BinaryIO, source: str) -> Iterator[str]:
    """Yield the lines of a UTF-8 byte stream (line breaks kept), in bounded memory.

    Raises:
        DataFileError: NUL bytes (not text), bytes that are not UTF-8, or a line longer than
            :data:`MAX_LINE_BYTES`; found within the first block of such input.
    """
    number = 0
    pending = b""
    first = True
    while True:
        block = handle.read(BLOCK_BYTES)
        if first:
            first = False
            if block.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise DataFileError(source, "not UTF-8 text (UTF-16; save the file as UTF-8)", 1)
            block = block.removeprefix(codecs.BOM_UTF8)
        data = pending + block
        suspect = b"\0" in data  # checked line by line only when the block has a NUL byte
        pieces = data.splitlines(keepends=True)
        # The last piece may continue in the next block (even a lone "\r" may be half a "\r\n").
        pending = pieces.pop() if block and pieces else b""
        for piece in pieces:
            number += 1
            if suspect or len(piece) > MAX_LINE_BYTES:
                _check_line(piece, source, number)
            try:
                yield piece.decode("utf-8")
            except UnicodeDecodeError:
                raise DataFileError(source, "not UTF-8 text", number) from None
        if not block:
            return
        if len(pending) > MAX_LINE_BYTES + 2 or (suspect and b"\0" in pending):
            _check_line(pending, source, number + 1)


def _check_line(piece: bytes, source: str, number: int) -> None:
    """Refuse a line with a NUL byte or longer than :data:`MAX_LINE_BYTES`."""
    if b"\0" in piece:
        raise DataFileError(source, "not a text file (NUL byte)", number)
    if len(piece.rstrip(b"\r\n")) > MAX_LINE_BYTES:
        raise DataFileError(source, f"line longer than {MAX_LINE_BYTES} bytes; this is not a "
                                    "price table", number)


def _records(reader: Any, source: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(first line, fields)`` per CSV record; a CSV error names the record's line."""
    previous = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise DataFileError(
                    source, f"a field longer than {csv.field_size_limit()} characters starts "
                            "here (an unterminated quote?)", previous + 1) from None
            raise DataFileError(source, f"not valid CSV ({exc})", previous + 1) from None
        yield previous + 1, row
        previous = reader.line_num


def _header(records: Iterator[tuple[int, list[str]]],
            source: str) -> tuple[int, list[str]]:
    """The first non-blank record: the column names, checked for duplicates."""
    for line_no, row in records:
        names = [h.strip() for h in row]
        if not any(names):
            continue
        seen: dict[str, int] = {}
        for i, name in enumerate(names):
            key = name.lower()
            if key and key in seen:
                raise DataFileError(source, f"duplicate column name {_show(name)} "
                                            f"(columns {seen[key] + 1} and {i + 1})", line_no)
            seen.setdefault(key, i)
        return line_no, names
    raise DataFileError(source, "file is empty")


def latest_date(today: date | None = None) -> date:
    """The latest date accepted: today (UTC) plus :data:`FUTURE_TOLERANCE_DAYS`.

    Args:
        today: the day to count from (default: today in UTC).

    Returns:
        The date.
    """
    today = today or datetime.now(UTC).date()
    return today + timedelta(days=FUTURE_TOLERANCE_DAYS)


def date_range_problem(day: date, latest: date | None = None) -> str | None:
    """What is impossible about a price date, or ``None`` when it is plausible.

    Args:
        day: the date.
        latest: the latest date accepted (default: :func:`latest_date`).

    Returns:
        ``"is in the future (latest accepted: ...)"``, ``"is before 1900-01-01"`` or ``None``.

    Usage::

        >>> date_range_problem(date(1899, 12, 29))
        'is before 1900-01-01'
    """
    latest = latest or latest_date()
    if day > latest:
        return f"is in the future (latest accepted: {latest.isoformat()})"
    if day < EARLIEST_DATE:
        return f"is before {EARLIEST_DATE.isoformat()}"
    return None


def check_date_format(date_format: str) -> str:
    """Check that a ``strptime`` layout identifies a date (year, month and usually day).

    Args:
        date_format: e.g. ``"%d/%m/%Y"`` or ``"%m/%Y"`` (the 1st of the month).

    Returns:
        The layout, unchanged.

    Raises:
        DateFormatError: a bad directive, or no year or month in the layout.

    Usage::

        >>> check_date_format("%d.%m.%Y")
        '%d.%m.%Y'
    """
    sample = datetime(2001, 11, 23)
    try:
        back = datetime.strptime(sample.strftime(date_format), date_format)
    except ValueError as exc:
        raise DateFormatError(date_format, f"cannot be used ({exc})") from None
    if (back.year, back.month) != (2001, 11) or back.day not in (23, 1):
        raise DateFormatError(date_format, "does not give a year and a month (and a day), "
                                           "e.g. %d/%m/%Y or %m/%d/%Y")
    return date_format


def parse_date(text: str, date_format: str | None = None) -> date:
    """Read a date: ISO ``YYYY-MM-DD`` (time part ignored) or ``YYYY-MM``, or ``date_format``.

    Nothing is guessed: ``2030111`` or ``01/02/2020`` is refused unless a layout is given, and
    a layout must match the whole text (leading zeros may be left out).

    Args:
        text: the date as written.
        date_format: a ``strptime`` layout, or ``None`` for ISO only.

    Returns:
        The date.

    Raises:
        ValueError: the message says what is wrong, quoting (a cut of) the text.

    Usage::

        >>> parse_date("2020-01-02"), parse_date("2.1.2020", "%d.%m.%Y")
        (datetime.date(2020, 1, 2), datetime.date(2020, 1, 2))
    """
    if date_format is not None:
        try:
            parsed = datetime.strptime(text, date_format)
        except ValueError:
            parsed = None
        if parsed is None or _loose(parsed.strftime(date_format)) != _loose(text):
            raise ValueError(f"date {_show(text)} does not match the date format "
                             f"{date_format!r}")
        return parsed.date()
    if len(text) == 10 and text.isascii() and text[4] == "-" == text[7] and text[5:7].isdigit():
        try:  # the common case, in C; the slow path below explains what is wrong
            return date.fromisoformat(text)
        except ValueError:
            pass
    match = _ISO_DATE.fullmatch(text)
    if match is None:
        raise ValueError(f"cannot read date {_show(text)} (expected YYYY-MM-DD; for another "
                         "layout give --date-format, e.g. %d/%m/%Y)")
    year, month, day, hour, minute, second = match.groups()
    try:
        datetime(int(year), int(month), int(day or 1), int(hour or 0), int(minute or 0),
                 int(second or 0))
    except ValueError as exc:
        raise ValueError(f"cannot read date {_show(text)} ({exc})") from None
    return date(int(year), int(month), int(day or 1))


def parse_number(text: str) -> float:
    """Read a plain decimal number (``61.17``, ``-36.98``, ``1e3``): no ``_``, no ``,``.

    Args:
        text: the number as written (already stripped).

    Returns:
        The value.

    Raises:
        ValueError: not a plain ASCII decimal number, or not finite.
    """
    # float() alone would also take "6_1.18" (61.18), non-ASCII digits and surrounding blanks
    if not text.isascii() or "_" in text or text != text.strip():
        raise ValueError(f"cannot read price {_show(text)}")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"cannot read price {_show(text)}") from None
    if not math.isfinite(value):
        raise ValueError(f"price {_show(text)} is not a finite number")
    return value


def parse_price(text: str) -> float | None:
    """Read a price cell: a blank or :data:`MISSING_TOKENS` is ``None``, else a plain number.

    Args:
        text: the cell, stripped.

    Returns:
        The price, or ``None`` for a missing one.

    Raises:
        ValueError: see :func:`parse_number`.
    """
    if text.lower() in MISSING_TOKENS:
        return None
    return parse_number(text)


def clip(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """Cut a text for an error message, saying how long it was.

    Args:
        text: any text.
        limit: the most characters kept.

    Returns:
        ``text``, or its first ``limit`` characters and ``"... (N characters)"``.
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def _show(text: str) -> str:
    return repr(text) if len(text) <= 60 else f"{text[:50]!r}... ({len(text)} characters)"


def _loose(text: str) -> str:
    """Compare dates as written: case, runs of blanks and leading zeros do not matter."""
    text = " ".join(text.lower().split())
    return re.sub(r"(?<![0-9])0+(?=[0-9])", "", text)


def _column_index(source: str, line: int, names: list[str], lowered: list[str],
                  wanted: str | None, candidates: tuple[str, ...], what: str,
                  fallback: int | None = None) -> int:
    if wanted is not None:
        if wanted in names:
            return names.index(wanted)
        if wanted.lower() in lowered:
            return lowered.index(wanted.lower())
        raise DataFileError(source, f"no {what} column {wanted!r}{_separator_hint(names)}; "
                                    f"columns are {names}", line)
    for cand in candidates:
        if cand in lowered:
            return lowered.index(cand)
    if fallback is not None:
        return fallback
    raise DataFileError(source, f"no {what} column (looked for {', '.join(candidates)})"
                                f"{_separator_hint(names)}; columns are {names}", line)


def _separator_hint(names: list[str]) -> str:
    if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
        return " (columns must be separated by commas)"
    return ""


def _same_price(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-9 * max(1.0, abs(a))


def _fmt(p: float | None) -> str:
    return "blank" if p is None else f"{p:g}"
