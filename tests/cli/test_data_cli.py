"""``energy-nb data ...`` end to end through the installed console script."""

from __future__ import annotations

import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.data.fake_sources import source_server

SCRIPT = Path(sys.executable).parent / "energy-nb"


def run(home: Path, *args: str,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "ENERGY_NB_HOME": str(home), **(env or {})}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=full_env,
                          timeout=120)


def prices(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "energy_nb.sqlite") as conn:
        return conn.execute("SELECT commodity, date, price, source FROM prices "
                            "ORDER BY 1, 2").fetchall()


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_script_is_installed_and_has_help() -> None:
    assert SCRIPT.exists(), f"console script missing: {SCRIPT}"
    out = subprocess.run([str(SCRIPT), "data", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for action in ("import", "update", "status", "export"):
        assert action in out.stdout


def test_import_status_export_roundtrip(home: Path, tmp_path: Path, eia_dir: Path) -> None:
    res = run(home, "data", "import", str(eia_dir / "wti-daily.csv"),
              str(eia_dir / "henryhub-daily.csv"), "--json")
    assert res.returncode == 0, res.stderr
    imports = json.loads(res.stdout)["imports"]
    assert [(i["commodity"], i["added"]) for i in imports] == [("WTI", 10226), ("NG", 7437)]
    assert {"kind": "non_positive", "date": "2020-04-20",
            "detail": "price -36.98 is not positive"} in imports[0]["flags"]

    again = run(home, "data", "import", str(eia_dir / "wti-daily.csv"), "--commodity", "wti",
                "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["imports"][0]["unchanged"] == 10226

    status = run(home, "data", "status", "--json")
    by_code = {c["commodity"]: c for c in json.loads(status.stdout)["commodities"]}
    assert by_code["WTI"]["rows"] == 10226 and by_code["WTI"]["last"] == "2026-08-18"
    assert by_code["BRENT"]["rows"] == 0
    assert [f["date"] for f in by_code["NG"]["flags"]] == ["2005-10-07", "2018-01-05"]
    text = run(home, "data", "status")
    assert "NG" in text.stdout and "missing 2018-01-05" in text.stdout

    out = tmp_path / "wti-2020.csv"
    res = run(home, "data", "export", "WTI", "--start", "2020-04-01", "--end", "2020-04-30",
              str(out), "--json")
    assert res.returncode == 0, res.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "date,price" and "2020-04-20,-36.98" in lines
    assert json.loads(res.stdout)["rows"] == len(lines) - 1 == 21

    monthly = tmp_path / "m.csv"
    assert run(home, "data", "export", "ng", "--freq", "monthly", "--start", "2018-01-01",
               "--end", "2018-01-31", str(monthly)).returncode == 0
    assert monthly.read_text().splitlines()[1].startswith("2018-01-31,")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "import", "{bad}", "--commodity", "WTI"], "line 3: cannot read price 'oops'"),
        (["data", "import", "{bad}", "--commodity", "GOLD"], "unknown commodity 'GOLD'"),
        (["data", "import", "{bad}"], "cannot tell the commodity from the file name"),
        (["data", "import", "{missing}", "--commodity", "WTI"], "cannot read file"),
        (["data", "export", "BRENT", "--start", "2021-01-01", "--end", "2020-01-01", "{out}"],
         "is after --end"),
        (["data", "export", "BRENT", "--freq", "hourly", "{out}"], "unknown frequency 'hourly'"),
        (["data", "export", "BRENT", "--start", "notadate", "{out}"], "notadate"),
        (["data", "export", "BRENT", "{nodir}"], "does not exist"),
        (["data", "export", "WTI", "{out}"], "no WTI prices stored"),
        (["data", "update", "--commodity", "xx"], "unknown commodity 'xx'"),
    ],
)
def test_bad_input_exits_nonzero_and_leaves_store(home: Path, tmp_path: Path, eia_dir: Path,
                                                  args: list[str], message: str) -> None:
    assert run(home, "data", "import", str(eia_dir / "brent-daily.csv")).returncode == 0
    before = prices(home)
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,Price\r\n2020-01-02,1\r\n2020-01-03,oops\r\n")
    subst = {"{bad}": str(bad), "{missing}": str(tmp_path / "nope.csv"),
             "{out}": str(tmp_path / "o.csv"), "{nodir}": str(tmp_path / "no" / "o.csv")}
    res = run(home, *[subst.get(a, a) for a in args])
    assert res.returncode != 0
    assert message in res.stderr and res.stderr.startswith("energy-nb: error:")
    assert "Traceback" not in res.stderr
    assert prices(home) == before
    assert not (tmp_path / "o.csv").exists()


def test_conflict_needs_replace(home: Path, tmp_path: Path) -> None:
    first = tmp_path / "wti-a.csv"
    first.write_text("Date,Price\n2024-01-02,70\n2024-01-03,71\n")
    assert run(home, "data", "import", str(first)).returncode == 0
    revised = tmp_path / "wti-b.csv"
    revised.write_text("Date,Price\n2024-01-03,71.5\n2024-01-04,72\n")
    res = run(home, "data", "import", str(revised))
    assert (res.returncode == 2 and "2024-01-03 stored 71 vs 71.5" in res.stderr
            and "--replace" in res.stderr)
    assert [p[2] for p in prices(home)] == [70.0, 71.0]
    res = run(home, "data", "import", str(revised), "--replace", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["imports"][0]["replaced"] == 1
    assert [p[2] for p in prices(home)] == [70.0, 71.5, 72.0]


def test_update_from_fred_and_init(home: Path, tmp_path: Path, eia_dir: Path) -> None:
    with source_server() as server:
        for sid in ("DCOILWTICO", "DCOILBRENTEU", "DHHNGSP"):
            server.routes[f"fred:{sid}"] = [("2026-08-17", 60.0), ("2026-08-18", 61.0),
                                            ("2026-08-19", 62.5)]
        env = {"ENERGY_NB_FRED_URL": f"{server.base}/fred"}
        # init with no offline folder downloads from FRED
        res = run(home, "data", "init", "--json", env=env)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["source"] == "fred" and len(prices(home)) == 9
        # update asks only from the last stored date on and adds nothing new
        res = run(home, "data", "update", "--source", "fred", "--commodity", "WTI", "--json",
                  env=env)
        assert res.returncode == 0 and json.loads(res.stdout)["imports"][0]["added"] == 0
        assert "cosd=2026-08-19" in server.requests[-1]
        server.routes["fred:DCOILWTICO"] = (500, "text/plain", b"boom", 0)
        res = run(home, "data", "update", env=env)
        assert res.returncode == 2 and "FRED DCOILWTICO: HTTP 500" in res.stderr
        # init on a filled store does nothing
        res = run(home, "data", "init", "--offline-dir", str(eia_dir), "--json", env=env)
        assert json.loads(res.stdout)["action"] == "none" and len(prices(home)) == 9
    offline_home = tmp_path / "offline"
    res = run(offline_home, "data", "init", "--offline-dir", str(eia_dir), "--json")
    assert res.returncode == 0 and len(prices(offline_home)) == 10226 + 9958 + 7437


def test_eia_update_without_key_fails_clearly(home: Path) -> None:
    res = run(home, "data", "update", "--source", "eia", env={"ENERGY_NB_EIA_API_KEY": ""})
    assert res.returncode == 2 and "ENERGY_NB_EIA_API_KEY" in res.stderr


def test_bad_cli_arguments_are_usage_errors(home: Path) -> None:
    res = run(home, "data", "update", "--source", "bloomberg")
    assert res.returncode == 2 and "invalid choice: 'bloomberg'" in res.stderr
    res = run(home, "nonsense")
    assert res.returncode == 2


def _limit_memory() -> None:  # pragma: no cover - runs in the child before exec
    """Cap the child's address space, so a regression cannot eat the machine's memory."""
    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024 ** 3, 2 * 1024 ** 3))


@pytest.mark.parametrize("source", ["/dev/zero", "{binary}", "{long_line}"])
def test_input_that_is_not_a_price_table_is_refused(home: Path, tmp_path: Path,
                                                    source: str) -> None:
    binary = tmp_path / "wti.xlsx.csv"
    binary.write_bytes(bytes(range(256)) * 4096)
    long_line = tmp_path / "wti-one-line.csv"
    long_line.write_bytes(b"Date,Price," + b"2020-01-02,61.17," * 200_000)
    path = {"{binary}": str(binary), "{long_line}": str(long_line)}.get(source, source)
    full_env = {**os.environ, "ENERGY_NB_HOME": str(home)}
    res = subprocess.run([str(SCRIPT), "data", "import", path, "--commodity", "WTI"],
                         capture_output=True, text=True, env=full_env, timeout=60,
                         preexec_fn=_limit_memory)
    assert res.returncode == 2, res.stderr[-2000:]
    assert res.stderr.startswith(f"energy-nb: error: {path}, line 1: ")
    assert ("not a text file" in res.stderr or "line longer than" in res.stderr)
    assert "Traceback" not in res.stderr and len(res.stderr) < 1000


def test_several_files_are_all_or_nothing(home: Path, tmp_path: Path, eia_dir: Path) -> None:
    assert run(home, "data", "import", str(eia_dir / "brent-daily.csv")).returncode == 0
    before = prices(home)
    bad = tmp_path / "henryhub-bad.csv"
    bad.write_text("Date,Price\n2020-01-02,2.1\n2300-01-01,2.2\n")
    res = run(home, "data", "import", str(eia_dir / "wti-daily.csv"), str(bad))
    assert res.returncode == 2 and "line 3: date 2300-01-01 is in the future" in res.stderr
    assert "nothing was imported" in res.stderr
    assert prices(home) == before


def test_date_format_option(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "wti-eu.csv"
    path.write_text("Date,Price\n02/01/2020,61.17\n13/01/2020,62.5\n")
    res = run(home, "data", "import", str(path))
    assert res.returncode == 2 and "cannot read date '02/01/2020'" in res.stderr
    assert "--date-format" in res.stderr
    res = run(home, "data", "import", str(path), "--date-format", "%d/%m/%Y", "--json")
    assert res.returncode == 0, res.stderr
    assert [p[1:3] for p in prices(home)] == [("2020-01-02", 61.17), ("2020-01-13", 62.5)]
    for bad in ("%Q/%m/%Y", "%d/%m"):
        res = run(home, "data", "import", str(path), "--date-format", bad)
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert res.stderr.startswith(f"energy-nb: error: --date-format '{bad}'")


def test_init_from_a_folder_with_a_bad_file(home: Path, tmp_path: Path, eia_dir: Path) -> None:
    folder = tmp_path / "offline"
    folder.mkdir()
    for name in ("brent-daily.csv", "henryhub-daily.csv"):
        shutil.copy(eia_dir / name, folder / name)
    (folder / "wti-daily.csv").write_bytes(b"Date,Price\r\n2020-01-02,61.17\r\n9999-12-31,50\r\n")
    res = run(home, "data", "init", "--offline-dir", str(folder))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "wti-daily.csv, line 3: date 9999-12-31 is in the future" in res.stderr
    assert "the store is still empty" in res.stderr
    assert prices(home) == []
