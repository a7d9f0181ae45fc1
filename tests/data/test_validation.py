"""CSV parsing and validation: errors name file and line; quirks are kept and flagged."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from energy_nb.commodities import UnknownCommodityError
from energy_nb.data.validation import DataFileError, read_price_csv


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
