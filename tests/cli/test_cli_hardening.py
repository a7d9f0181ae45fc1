"""Issue 13: read commands never create a store, report options are checked before any kernel
starts, and a schedule file that is not TOML is called so."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from energy_nb.cli import main
from energy_nb.reports.parameters import ReportParameterError

#: Every command that only reads the store (some record results in an existing one).
READERS: dict[str, list[str]] = {
    "data status": ["data", "status"],
    "data check": ["data", "check"],
    "data export": ["data", "export", "WTI", "{tmp}/wti.csv"],
    "forecast": ["forecast", "--commodity", "WTI"],
    "evaluate": ["evaluate", "--commodity", "WTI", "--start", "2024-01-02", "--models", "drift"],
    "models list": ["models", "list"],
    "models show": ["models", "show", "1"],
    "backtest": ["backtest", "--commodity", "WTI"],
    "backtest-optimize": ["backtest-optimize", "--commodity", "WTI", "--strategy", "sma-cross",
                          "--grid", "fast=5"],
    "report": ["report", "--out", "{tmp}/reports"],
    "serve": ["serve", "--port", "0"],
}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def _files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


@pytest.mark.parametrize("command", list(READERS))
@pytest.mark.parametrize("via", ["--db", "ENERGY_NB_HOME"])
def test_read_command_refuses_a_missing_store_and_creates_nothing(
        command: str, via: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    db = missing / "x.sqlite" if via == "--db" else missing / "energy_nb.sqlite"
    monkeypatch.setenv("ENERGY_NB_HOME", str(missing if via == "ENERGY_NB_HOME"
                                             else tmp_path / "home"))
    argv = [a.replace("{tmp}", str(tmp_path)) for a in READERS[command]]
    if via == "--db":
        argv += ["--db", str(db)]

    code, _, err = _run(argv, capsys)

    assert code != 0
    assert err.startswith(f"energy-nb: error: there is no store at {db}; its folder "
                          f"{db.parent} does not exist"), err
    assert "`energy-nb data init`" in err and "`energy-nb data import FILE`" in err
    assert _files(tmp_path) == [], f"{command} created {_files(tmp_path)}"


def test_existing_folder_without_store_is_named_too(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "typo.sqlite"
    code, _, err = _run(["models", "list", "--db", str(db)], capsys)
    assert code == 2 and err.startswith(f"energy-nb: error: there is no store at {db}. Create")
    assert not db.exists()


def test_write_commands_still_create_the_store(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "wti.csv"
    csv.write_text("Date,Price\n2024-01-02,70.5\n")
    db = tmp_path / "new" / "folder" / "s.sqlite"
    code, out, err = _run(["data", "import", str(csv), "--db", str(db)], capsys)
    assert code == 0, err
    assert db.exists() and "1 added" in out
    code, out, _ = _run(["data", "status", "--db", str(db)], capsys)
    assert code == 0 and "2024-01-02 .. 2024-01-02" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "{file}"], "--out: out {file} is a file, not a folder"),
        (["--out", "{file}/reports"], "--out: cannot create the reports folder {file}/reports: "
                                      "{file} is a file, not a folder"),
        (["--timeout", "0"], "--timeout must be a finite number of seconds, at least 10"),
        (["--timeout", "-5"], "at least 10 (one report cell can take several seconds), got -5.0"),
        (["--timeout", "0.001"], "got 0.001"),
        (["--timeout", "nan"], "got nan"),
        (["--timeout", "inf"], "got inf"),
    ],
)
def test_report_options_are_checked_before_anything_runs(
        args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ENERGY_NB_HOME", str(tmp_path / "home"))
    file = tmp_path / "a-file"
    file.write_text("not a folder")
    argv = ["report", *[a.replace("{file}", str(file)) for a in args]]
    code, _, err = _run(argv, capsys)
    assert code == 2 and "Traceback" not in err
    assert err.startswith("energy-nb: error: ")
    assert message.replace("{file}", str(file)) in err, err
    assert _files(tmp_path) == [file]  # no reports folder, no store, no run folder


@pytest.mark.parametrize("timeout", [0, -1, 0.001, math.nan, math.inf, "soon", True])
def test_run_report_refuses_a_useless_timeout(timeout: object, tmp_path: Path) -> None:
    from energy_nb.reports.run import run_report

    with pytest.raises(ReportParameterError, match="timeout must be"):
        run_report({"commodities": ["WTI"]}, out_dir=tmp_path / "r", timeout=timeout)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("x.csv", "Date,Price\n2020-01-02,61.18\n",
         "x.csv: not valid TOML (line 1, column 5): Expected '=' after a key in a key/value "
         "pair; a schedule file is TOML (.toml) or JSON (.json)"),
        ("s.toml", 'timezone = "UTC"\n[[jobs]\nname = "x"\n',
         "s.toml: not valid TOML (line 2, column 7): Expected ']]' at the end of an array "
         "declaration"),
        ("s.json", '{"jobs": [}', "s.json: not valid JSON (line 1, column 11): Expecting value"),
    ],
)
def test_schedule_names_the_format_it_parsed(name: str, text: str, message: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    path.write_text(text)
    code, _, err = _run(["schedule", "--config", str(path), "--list"], capsys)
    assert code == 2
    assert err.strip() == f"energy-nb: error: {tmp_path}/{message}"
    assert "CSV" not in err


def test_report_library_never_creates_a_store(tmp_path: Path) -> None:
    """The notebook (ReportBuilder) and run_report read the store: a mistyped db creates none."""
    from energy_nb.data.store import StoreMissingError
    from energy_nb.reports.content import ReportBuilder
    from energy_nb.reports.run import run_report

    db = tmp_path / "no" / "such" / "x.sqlite"
    with pytest.raises(StoreMissingError, match="there is no store at"):
        ReportBuilder.from_parameters({"commodities": ["WTI"], "db": str(db)})
    with pytest.raises(StoreMissingError, match="there is no store at"):
        run_report({"commodities": ["WTI"], "db": str(db)}, out_dir=tmp_path / "r")
    assert _files(tmp_path) == []
