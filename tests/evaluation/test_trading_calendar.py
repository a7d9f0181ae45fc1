"""Forecast steps are exchange trading days; actuals are matched by step, never by date.

Covers July 4th (NYMEX), Christmas and New Year (NYMEX), Good Friday (ICE for Brent, NYMEX for
WTI) and the Henry Hub gap of 2005-09-22..10-07 in the Forecast page's table and CSV, the CLI's
``--json`` and the report's forecast section — all on a real store of the real EIA snapshot, on
SQLite and on PostgreSQL (one store per backend for the module; the calendar alone, once).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from energy_nb.calendars import market_for, trading_days_after
from energy_nb.data.store import PriceStore
from energy_nb.data.validation import read_price_csv
from energy_nb.service.forecasting import ForecastService
from energy_nb.reports.content import ReportBuilder
from energy_nb.ui.forecast import ForecastPage
from tests.backends import BACKENDS, StoreHome, module_store

FILES = {"WTI": "wti-daily.csv", "BRENT": "brent-daily.csv", "NG": "henryhub-daily.csv"}


def iso(index: object) -> list[str]:
    return [d.strftime("%Y-%m-%d") for d in pd.DatetimeIndex(index)]


@pytest.fixture(scope="module", params=BACKENDS)
def home(request: pytest.FixtureRequest, eia_dir: Path,
         tmp_path_factory: pytest.TempPathFactory):
    """The three commodities' history on each backend."""
    with module_store(request, tmp_path_factory, "calendar-home") as home:
        PriceStore(home.url).import_many([read_price_csv(eia_dir / name, commodity=code)
                                          for code, name in FILES.items()])
        yield home


@pytest.fixture(scope="module")
def store(home: StoreHome) -> PriceStore:
    return home.store()


@pytest.mark.parametrize(("code", "origin", "expected"), [
    ("WTI", "2025-07-03", ["2025-07-07", "2025-07-08"]),                 # July 4th
    ("WTI", "2024-12-24", ["2024-12-26", "2024-12-27", "2024-12-30", "2024-12-31",
                           "2025-01-02"]),                               # Christmas, New Year
    ("WTI", "2024-03-28", ["2024-04-01"]),                               # Good Friday (NYMEX)
    ("BRENT", "2025-04-17", ["2025-04-21"]),                             # Good Friday (ICE)
    ("NG", "2005-09-22", ["2005-09-23", "2005-09-26"]),                  # the calendar, not data
])
def test_steps_are_the_markets_trading_days(code: str, origin: str,
                                            expected: list[str]) -> None:
    assert iso(trading_days_after(code, origin, len(expected))) == expected
    assert market_for(code).market == ("ICE" if code == "BRENT" else "NYMEX")


def test_unknown_series_falls_back_to_weekdays_and_says_so() -> None:
    from energy_nb.calendars import describe

    assert iso(trading_days_after("MY_SERIES", "2025-07-03", 2)) == ["2025-07-04", "2025-07-07"]
    assert "weekdays" in describe("MY_SERIES")["note"]


def test_forecast_page_table_and_csv_follow_nymex_and_match_actuals_by_step(
        store: PriceStore) -> None:
    page = ForecastPage(store, model="random_walk")
    page.horizon.value = 10
    page.start.value = date(2025, 6, 30)
    table = page.table_frame
    wti = store.load("WTI")
    after = wti.loc["2025-07-01":].iloc[:10]
    assert "2025-07-04" not in set(table["date"])
    assert list(table["date"]) == iso(after.index)  # here the data and NYMEX agree
    assert list(table["actual_date"]) == list(table["date"])
    row = table.set_index("date").loc["2025-07-07"]
    assert row["step"] == 4 and row["actual"] == pytest.approx(69.16)
    assert table["actual"].to_numpy() == pytest.approx(after.to_numpy())
    assert "Actual observed on" not in page.table.value  # no day differs: one date column
    assert "NYMEX trading days" in page.table.value
    # the chart puts the forecast on trading days, not on the holiday
    shown = {t.name: iso(pd.to_datetime(t.x)) for t in page.chart.data}
    assert shown["forecast"][1:] == list(table["date"])  # after the origin anchor
    assert shown["actual"] == list(table["actual_date"])


def test_forecast_page_christmas_and_good_friday(store: PriceStore) -> None:
    page = ForecastPage(store, model="random_walk")
    page.horizon.value = 5
    page.start.value = date(2024, 12, 24)
    assert list(page.table_frame["date"]) == ["2024-12-26", "2024-12-27", "2024-12-30",
                                              "2024-12-31", "2025-01-02"]
    assert list(page.table_frame["actual_date"]) == list(page.table_frame["date"])
    page.commodity.value = "BRENT"
    page.start.value = date(2025, 4, 17)
    assert page.table_frame["date"].iloc[0] == "2025-04-21"  # Good Friday 2025-04-18 skipped
    assert "ICE trading days" in page.table.value


def test_forecast_page_ng_gap_shows_both_dates(store: PriceStore) -> None:
    page = ForecastPage(store, model="random_walk")
    page.commodity.value = "NG"
    page.horizon.value = 4
    page.start.value = date(2005, 9, 30)  # inside the gap: resolves to 2005-09-22
    table = page.table_frame
    assert list(table["date"]) == ["2005-09-23", "2005-09-26", "2005-09-27", "2005-09-28"]
    assert list(table["actual_date"]) == ["2005-10-07", "2005-10-10", "2005-10-11",
                                          "2005-10-12"]
    ng = store.load("NG")
    assert table["actual"].tolist() == pytest.approx(ng.loc["2005-10-07":].iloc[:4].tolist())
    assert "Actual observed on" in page.table.value and "2005-10-07" in page.table.value
    assert "matched by step" in page.table.value


def test_latest_origin_says_the_calendar_cannot_know_the_future(store: PriceStore) -> None:
    run = ForecastService(store).forecast("WTI", "random_walk", horizon=5, record=False)
    notes = run.calendar_notes()
    assert len(notes) == 1 and "not yet announced" in notes[0]
    assert "not yet announced" in run.forecast.info["calendar"]["note"]
    assert run.to_dict()["calendar"]["notes"] == notes


@pytest.mark.parametrize(("args", "dates", "actual_dates"), [
    (["--commodity", "WTI", "--start", "2025-06-30", "--horizon", "5"],
     ["2025-07-01", "2025-07-02", "2025-07-03", "2025-07-07", "2025-07-08"], None),
    (["--commodity", "WTI", "--start", "2024-12-24", "--horizon", "2"],
     ["2024-12-26", "2024-12-27"], None),
    # ICE trades on Easter Monday, the EIA Brent series has no price that day: step 1's
    # actual is the next observed price, on 2025-04-22
    (["--commodity", "BRENT", "--start", "2025-04-17", "--horizon", "1"], ["2025-04-21"],
     ["2025-04-22"]),
    (["--commodity", "NG", "--start", "2005-09-30", "--horizon", "2"],
     ["2005-09-23", "2005-09-26"], ["2005-10-07", "2005-10-10"]),
])
def test_cli_json_steps(home: StoreHome, args: list[str], dates: list[str],
                        actual_dates: list[str] | None) -> None:
    done = home.cli("forecast", *args, "--model", "random_walk", "--no-record", "--json",
                    timeout=120)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [s["date"] for s in data["steps"]] == dates == data["forecast"]["dates"]
    assert [s["actual_date"] for s in data["steps"]] == (actual_dates or dates)
    assert [s["actual"] for s in data["steps"]] == [a["price"] for a in data["actuals"]]
    assert data["calendar"]["market"] == ("ICE" if "BRENT" in args else "NYMEX")


@pytest.mark.parametrize(("as_of", "expected", "holiday"), [
    ("2025-07-02", ["2025-07-03", "2025-07-07", "2025-07-08"], "2025-07-04"),   # July 4th
    ("2024-12-23", ["2024-12-24", "2024-12-26", "2024-12-27"], "2024-12-25"),   # Christmas
    ("2024-03-27", ["2024-03-28", "2024-04-01", "2024-04-02"], "2024-03-29"),   # Good Friday
])
def test_report_forecast_section_uses_trading_days(store: PriceStore, as_of: str,
                                                   expected: list[str], holiday: str) -> None:
    params = {"commodities": ["WTI", "NG"], "horizon": 3, "model": "random_walk",
              "as_of": as_of, "levels": [80], "eval_origins": 2, "eval_step": 4,
              "backtest_days": 60}
    section = ReportBuilder.from_parameters(params, store=store).forecast("WTI")
    assert list(section.table.index) == expected
    assert holiday not in section.html_body


def test_report_forecast_section_in_the_ng_gap(store: PriceStore) -> None:
    params = {"commodities": ["NG"], "horizon": 3, "model": "random_walk",
              "as_of": "2005-09-30", "levels": [80], "eval_origins": 2, "eval_step": 4,
              "backtest_days": 60}
    section = ReportBuilder.from_parameters(params, store=store).forecast("NG")
    assert list(section.table.index) == ["2005-09-23", "2005-09-26", "2005-09-27"]
    assert "matched by step" in " ".join(section.notes)
    actual_x = [t for t in section.figure.data if "actual" in str(t.name).lower()]
    assert actual_x and iso(pd.to_datetime(actual_x[0].x))[0] == "2005-10-07"


def test_cli_json_reports_the_model_auto_chose_and_rounded_prices(home: StoreHome) -> None:
    done = home.cli("forecast", "--commodity", "WTI", "--start", "2025-06-30",
                   "--horizon", "3", "--model", "auto", "--no-record", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["model"] == "auto"
    assert data["model_used"] == data["forecast"]["info"]["chosen"] != "auto"
    values = (data["forecast"]["mean"] + data["forecast"]["lower"]["80"]
              + [s["mean"] for s in data["steps"]])
    assert all(v == round(v, 4) and len(repr(v)) <= 10 for v in values)  # no 95.28999999999998
    text = home.cli("forecast", "--commodity", "WTI", "--start", "2025-06-30",
                   "--horizon", "3", "--model", "auto", "--no-record")
    assert f"model auto -> {data['model_used']}" in text.stdout
