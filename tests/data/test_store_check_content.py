"""``energy-nb data check`` runs the same content rules on SQLite and PostgreSQL: a clean store
passes, and each planted inconsistency (bad date, duplicate key, prices without a series version,
a version without prices, invalid JSON) is named, on both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, insert, select, text

from energy_nb.cli import main
from energy_nb.data.schema import backtests, model_runs, prices
from energy_nb.data.store import PriceStore
from energy_nb.data.validation import PriceSeries

SCRIPT = os.path.join(os.path.dirname(sys.executable), "energy-nb")
DAYS = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]

#: damage planted with the same SQL on both backends -> the text ``data check`` must report
PLANTED = {
    "bad-date": (
        ["INSERT INTO prices (commodity, date, price, source, ingested_at) "
         "VALUES ('WTI', '2021-02-30', 61.0, 'x.csv', '2024-01-01')"],
        "1 price row with a date that is not a valid YYYY-MM-DD date, e.g. WTI date "
        "'2021-02-30' price 61.0"),
    "no-version": (
        ["DELETE FROM series_versions WHERE commodity = 'NG'"],
        "NG has 5 price rows but no series version: its data version reads NG@0"),
    "orphan-version": (
        ["INSERT INTO series_versions (commodity, version, updated_at) "
         "VALUES ('BRENT', 2, '2024-01-01')"],
        "series version BRENT@2 but no BRENT prices"),
    "zero-version": (
        ["UPDATE series_versions SET version = 0 WHERE commodity = 'WTI'"],
        "series version WTI@0 is not a count of imports"),
    "bad-json": (
        ["UPDATE backtests SET equity_json = '{\"equity\": [1, 2' "
         "WHERE id = (SELECT MIN(id) FROM backtests)"],
        "1 backtests row(s) with invalid JSON in equity_json (first id 1)"),
    # listed, not refused (as on SQLite): the rest of the store is still checked
    "dropped-table": (["DROP TABLE forecasts"], "table forecasts is missing"),
    # a table restored without its constraints: the key is gone and a price is there twice
    "duplicate-price": (
        ["ALTER TABLE prices RENAME TO prices_old",
         "CREATE TABLE prices AS SELECT * FROM prices_old",
         "DROP TABLE prices_old",
         "INSERT INTO prices SELECT * FROM prices WHERE commodity = 'WTI' "
         "AND date = '2024-01-03'"],
        "1 commodity, date value(s) stored more than once in prices (2 rows), e.g. "
        "commodity 'WTI', date '2024-01-03' (2 rows)"),
}


def small_store(url: str) -> PriceStore:
    """A healthy store: 5 WTI and 5 NG prices, a model run, a backtest."""
    store = PriceStore(url)
    from datetime import date

    days = [date.fromisoformat(d) for d in DAYS]
    store.import_many([PriceSeries("WTI", "wti.csv", days, [70.0, 71.5, None, 72.25, 73.0],
                                   list(range(2, 7))),
                       PriceSeries("NG", "ng.csv", days, [2.5, 2.6, 2.7, 2.65, 2.8],
                                   list(range(2, 7)))])
    with store.transaction() as conn:
        conn.execute(insert(model_runs).values(
            name="drift", commodity="WTI", params_json="{}", created_at="2024-01-09",
            versions_json="{}", metrics_json=json.dumps({"kind": "fit"})))
        conn.execute(insert(backtests).values(
            commodity="WTI", strategy="buy-and-hold", params_json="{}", created_at="2024-01-09",
            stats_json=json.dumps({"Return [%]": 4.3}), equity_json=json.dumps([1, 2, 3])))
    return store


def data_check(url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict, str]:
    """``energy-nb data check --db URL --json`` in-process: exit code, payload, stderr."""
    code = main(["data", "check", "--db", url, "--json"])
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


def test_a_clean_store_passes_with_its_rows_counted(store_url: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    small_store(store_url)
    code, payload, err = data_check(store_url, capsys)
    assert (code, payload["ok"], payload["problems"], err) == (0, True, [], "")
    assert payload["rows"] == {"prices": 10, "series_versions": 2, "imports": 2,
                               "model_runs": 1, "forecasts": 0, "backtests": 1}
    assert payload["schema_version"] == 1
    sqlite = store_url.startswith("sqlite")
    assert payload["check"] == ("integrity_check" if sqlite else "schema_and_content")


@pytest.mark.parametrize("kind", list(PLANTED))
def test_a_planted_inconsistency_is_reported(kind: str, store_url: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    store = small_store(store_url)
    statements, detail = PLANTED[kind]
    with store.transaction() as conn:
        for statement in statements:
            conn.execute(text(statement))
    with store.read() as conn:
        before = conn.execute(select(func.count()).select_from(prices)).scalar()
    code, payload, err = data_check(store_url, capsys)
    assert code == 1 and payload["ok"] is False
    details = [p["detail"] for p in payload["problems"]]
    assert any(detail in d for d in details), details
    assert "is damaged" in err
    if kind == "duplicate-price":
        assert {"kind": "schema", "detail": "table prices has no primary key (commodity, date)"} \
            in payload["problems"]
    else:
        assert len(details) == 1, details  # nothing else is blamed
    with store.read() as conn:  # the check changed nothing
        assert conn.execute(select(func.count()).select_from(prices)).scalar() == before


@pytest.mark.postgresql
def test_the_script_on_postgresql_names_the_damage_with_the_password_masked(
        pg_url: str, tmp_path) -> None:
    store = small_store(pg_url)
    with store.transaction() as conn:
        conn.execute(text(PLANTED["no-version"][0][0]))
    env = {**os.environ, "ENERGY_NB_HOME": str(tmp_path), "ENERGY_NB_DATABASE_URL": pg_url}
    done = subprocess.run([SCRIPT, "data", "check"], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    assert "DAMAGED: 1 problem(s)" in done.stdout and "no series version" in done.stdout
    assert ":***@" in done.stdout and "s3cret-pw" not in done.stdout + done.stderr
