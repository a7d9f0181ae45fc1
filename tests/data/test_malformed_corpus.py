"""The malformed-CSV corpus (``tests/data/malformed/cases.toml``): every file is refused.

Each case goes through ``energy-nb data import`` (in process, on a real SQLite store that already
holds data) and must give: exit code 2, ``energy-nb: error: <file>, line N: ...`` with the
expected text, no traceback, a message of sane length, and the store exactly as it was.
"""

from __future__ import annotations

import shutil
import sqlite3
import tomllib
from pathlib import Path

import pytest

from energy_nb.cli import main

CORPUS = Path(__file__).with_name("malformed")
CASES = tomllib.loads((CORPUS / "cases.toml").read_text(encoding="utf-8"))["case"]
#: No error message may be longer than this (a 2 MB one-line CSV once gave a 5 MB message).
MAX_MESSAGE = 1000


def _generated(name: str) -> bytes:
    """The corpus files too big to keep in the repository."""
    if name == "unterminated-quote-200k":  # the quote on line 3 never closes
        rows = "".join(f"2020-01-{d:02d},6{d}.5\n" for d in range(3, 28))
        return (b"Date,Price\n2020-01-02,61.17\n2020-01-03,\"62\n"
                + rows.encode() * 600)
    if name == "one-line-2mb":
        return b"Date,Price," + b"2020-01-02,61.17," * (2 * 1024 * 1024 // 17)
    if name == "wide-header-900k":
        return ",".join(f"column{i}" for i in range(75_000)).encode() + b"\n1,2\n"
    raise KeyError(name)


def _content(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return [(table, conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall())
                for table in ("prices", "series_versions", "imports")]


@pytest.fixture(scope="module")
def filled_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    good = folder / "good.csv"
    good.write_text("Date,Price\n2019-12-30,61.06\n2019-12-31,61.14\n")
    db = folder / "filled.sqlite"
    assert main(["data", "import", str(good), "--commodity", "WTI", "--db", str(db)]) == 0
    return db


@pytest.mark.parametrize("case", CASES, ids=[
    f"{c['file'].removeprefix('generated:')}{'@' + c['date_format'] if 'date_format' in c else ''}"
    for c in CASES])
def test_malformed_csv_is_refused_with_file_and_line(case: dict[str, str], filled_store: Path,
                                                     tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    name = case["file"]
    if name.startswith("generated:"):
        path = tmp_path / f"{name.removeprefix('generated:')}.csv"
        path.write_bytes(_generated(name.removeprefix("generated:")))
    else:
        path = CORPUS / name
    db = tmp_path / "store.sqlite"
    shutil.copy(filled_store, db)
    before = _content(db)
    args = ["data", "import", str(path), "--commodity", "WTI", "--db", str(db)]
    if "date_format" in case:
        args += ["--date-format", case["date_format"]]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err[:2000]
    assert err.startswith(f"energy-nb: error: {path}"), err[:2000]
    assert case["error"] in err, err[:2000]
    assert "nothing was imported" in err
    assert len(err) <= MAX_MESSAGE, f"{len(err)} characters: {err[:300]}..."
    assert _content(db) == before


def test_corpus_files_are_small_and_all_listed() -> None:
    listed = {c["file"] for c in CASES}
    on_disk = {p.name for p in CORPUS.glob("*.csv")}
    assert on_disk == listed - {c for c in listed if c.startswith("generated:")}
    assert all(p.stat().st_size < 4096 for p in CORPUS.glob("*.csv"))
