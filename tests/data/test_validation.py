"""CSV parsing and validation: errors name file and line; quirks are kept and flagged."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from energy_nb.commodities import UnknownCommodityError
from energy_nb.data.validation import FUTURE_TOLERANCE_DAYS, DataFileError, read_price_csv


def write(tmp_path: Path, text: str, name: str = "p.csv", crlf: bool = False) -> Path:
    path = tmp_path / name
    data = text.replace("\n", "\r\n") if crlf else text
    path.write_bytes(data.encode("utf-8"))
    return path


def test_snapshot_format_with_crlf(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Price\n2020-01-02,61.17\n2020-01-03,63.0\n", crlf=True)
    series = read_price_csv(path, commodity="wti")
    assert series.commodity == "WTI"
    assert series.dates == [date(2020, 1, 2), date(2020, 1, 3)]
    assert series.prices == [61.17, 63.0]
    assert series.lines == [2, 3]
    assert series.flags == []


def test_user_csv_with_named_columns_and_unsorted_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "when;x\n", name="u.csv")  # wrong delimiter -> one column
    with pytest.raises(DataFileError, match="no date column"):
        read_price_csv(path, commodity="NG")
    path = write(tmp_path, "id,day,close,volume\n1,2021-03-02,2.5,9\n2,2021-03-01,2.4,8\n")
    series = read_price_csv(path, commodity="ng", date_column="day", price_column="close")
    assert series.dates == [date(2021, 3, 1), date(2021, 3, 2)]
    assert series.prices == [2.4, 2.5]
    assert series.lines == [3, 2]


def test_fred_format_dot_is_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "observation_date,DCOILWTICO\n2020-01-01,.\n2020-01-02,61.17\n")
    series = read_price_csv(path, commodity="WTI")
    assert series.prices == [None, 61.17]
    assert [f.kind for f in series.flags] == ["missing"]


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("", "file is empty"),
        ("\r\n  \r\n", "file is empty"),
        ("Date,Price\n", "no data rows"),
        ("Day,Price\n2020-01-02,1\n", r"line 1: no date column"),
        ("Date,Open,Close\n2020-01-02,1,2\n", r"line 1: no price column"),
        ("Date,Price\n2020-01-02,1\n2020-13-45,2\n", r"line 3: cannot read date '2020-13-45'"),
        ("Date,Price\n2020-01-02,1\n2020-01-03,abc\n", r"line 3: cannot read price 'abc'"),
        ("Date,Price\n2020-01-02,inf\n", r"line 2: price 'inf' is not a finite number"),
        ("Date,Price\n2020-01-02\n", r"line 2: expected 2 columns, found 1"),
        ("Date,Price\n2020-01-02,1\n2020-01-02,2\n",
         r"line 3: duplicate date 2020-01-02 with different prices \(1 on line 2, 2 on line 3\)"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path: Path, text: str, pattern: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataFileError, match=pattern) as info:
        read_price_csv(path, commodity="WTI")
    assert str(path) in str(info.value)


def test_identical_duplicate_rows_are_merged(tmp_path: Path) -> None:
    series = read_price_csv(write(tmp_path, "Date,Price\n2020-01-02,1\n2020-01-02,1.0\n"),
                            commodity="WTI")
    assert len(series) == 1


def test_unknown_commodity_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(UnknownCommodityError, match="unknown commodity 'gold'"):
        read_price_csv(write(tmp_path, "Date,Price\n2020-01-02,1\n"), commodity="gold")
    with pytest.raises(DataFileError, match="cannot read file"):
        read_price_csv(tmp_path / "missing.csv", commodity="WTI")
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(b"Date,Price\n2020-01-02,1\n2020-01-03,\xff\n")
    with pytest.raises(DataFileError, match="line 3: not UTF-8"):
        read_price_csv(bad, commodity="WTI")


def test_real_quirks_are_flagged_not_dropped(eia_dir: Path) -> None:
    wti = read_price_csv(eia_dir / "wti-daily.csv", commodity="WTI")
    assert len(wti) == 10226
    assert [(f.kind, f.date.isoformat()) for f in wti.flags] == [("non_positive", "2020-04-20")]
    assert wti.prices[wti.dates.index(date(2020, 4, 20))] == -36.98

    ng = read_price_csv(eia_dir / "henryhub-daily.csv", commodity="NG")
    assert len(ng) == 7437
    assert [(f.kind, f.date.isoformat()) for f in ng.flags] == [
        ("gap", "2005-10-07"), ("missing", "2018-01-05")]
    assert ng.prices[ng.dates.index(date(2018, 1, 5))] is None
    assert "2005-09-22" in ng.flags[0].detail

    brent = read_price_csv(eia_dir / "brent-daily.csv", commodity="brent")
    assert (len(brent), brent.flags) == (9958, [])


def test_dates_after_today_are_refused_beyond_a_small_tolerance(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    soon = today + timedelta(days=FUTURE_TOLERANCE_DAYS)
    series = read_price_csv(write(tmp_path, f"Date,Price\n{soon.isoformat()},1\n"),
                            commodity="WTI")
    assert series.dates == [soon]
    late = soon + timedelta(days=1)
    path = write(tmp_path, f"Date,Price\n2020-01-02,1\n{late.isoformat()},2\n")
    with pytest.raises(DataFileError, match=rf"line 3: date {late.isoformat()} is in the future "
                                            rf"\(latest accepted: {soon.isoformat()}\)"):
        read_price_csv(path, commodity="WTI")
    old = write(tmp_path, "Date,Price\n1900-01-01,1\n1899-12-31,2\n")
    with pytest.raises(DataFileError, match="line 3: date 1899-12-31 is before 1900-01-01"):
        read_price_csv(old, commodity="WTI")


def test_iso_dates_with_a_time_part_and_iso_months_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Price\n2020-01-02T00:00:00,1\n2020-01-03 00:00,2\n"
                           "2020-01-06T00:00:00Z,3\n2020-02,4\n")
    series = read_price_csv(path, commodity="WTI")
    assert series.dates == [date(2020, 1, 2), date(2020, 1, 3), date(2020, 1, 6),
                            date(2020, 2, 1)]


def test_a_date_format_reads_other_layouts_strictly(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Price\n02.01.2020,1\n3.1.2020,2\n")
    series = read_price_csv(path, commodity="WTI", date_format="%d.%m.%Y")
    assert series.dates == [date(2020, 1, 2), date(2020, 1, 3)]
    # %m accepts one digit, so 2020111 would be 2020-11-1 or 2020-1-11: refused, not guessed
    compact = write(tmp_path, "Date,Price\n20200101,1\n2020111,2\n")
    with pytest.raises(DataFileError, match=r"line 3: date '2020111' does not match the date "
                                            r"format '%Y%m%d'"):
        read_price_csv(compact, commodity="WTI", date_format="%Y%m%d")
    for bad in ("%Q-%m-%d", "%d/%m", "%Y", "plain"):
        with pytest.raises(ValueError, match="date format"):
            read_price_csv(path, commodity="WTI", date_format=bad)


def test_line_endings_and_quoted_line_breaks(tmp_path: Path) -> None:
    cr_only = tmp_path / "mac.csv"
    cr_only.write_bytes(b"Date,Price\r2020-01-02,1\r2020-01-03,2\r")
    assert read_price_csv(cr_only, commodity="WTI").prices == [1.0, 2.0]
    quoted = write(tmp_path, 'Date,Note,Price\n2020-01-02,"two\nlines",1\n2020-01-03,x,y\n')
    with pytest.raises(DataFileError, match="line 4: cannot read price 'y'"):
        read_price_csv(quoted, commodity="WTI")


def test_parsing_streams_the_file(tmp_path: Path) -> None:
    """Memory does not grow with the file: a 4 MB file is parsed in far less than 4 MB."""
    note = "x" * 1000  # long rows: many bytes, few rows, so tracing stays quick
    rows = "".join(f"2020-01-{d:02d},6{d}.25,{note}\r\n" for d in range(1, 29)).encode()
    path = tmp_path / "big.csv"
    path.write_bytes(b"Date,Price,Note\r\n" + rows * (4_000_000 // len(rows)))
    tracemalloc.start()
    try:
        series = read_price_csv(path, commodity="WTI")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(series) == 28 and series.lines[0] == 2
    assert peak < 1_000_000, f"peak {peak:,} bytes while parsing a 4 MB file"


@pytest.mark.parametrize(("name", "rows", "first"), [
    ("wti-daily.csv", 10226, "1986-01-02"), ("brent-daily.csv", 9958, "1987-05-20"),
    ("henryhub-daily.csv", 7437, "1997-01-07"), ("wti-weekly.csv", 2120, "1986-01-03"),
    ("brent-weekly.csv", 2049, "1987-05-15"), ("wti-monthly.csv", 487, "1986-01-15"),
    ("brent-monthly.csv", 471, "1987-05-15"), ("henryhub-monthly.csv", 355, "1997-01-01"),
])
def test_every_snapshot_file_still_reads(eia_dir: Path, name: str, rows: int, first: str) -> None:
    code = {"wti": "WTI", "brent": "BRENT", "henryhub": "NG"}[name.split("-")[0]]
    series = read_price_csv(eia_dir / name, commodity=code)
    assert len(series) == rows and series.dates[0].isoformat() == first
