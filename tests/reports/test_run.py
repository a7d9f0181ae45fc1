"""The report notebook through papermill, and ``energy-nb report`` through the installed script.

Real kernels, real nbconvert, real Chromium for the PDF (required when ``CI=true``). Whatever
reads the store runs on SQLite and on PostgreSQL (the session's report store and its copy); the
checks made before a report runs, the PDF printing and the export of a notebook read no store and
run once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from energy_nb.reports.parameters import ReportParameterError
from energy_nb.reports.run import (
    DEFAULT_NOTEBOOK,
    ReportExecutionError,
    export_notebook,
    find_chromium,
    list_reports,
    run_report,
)
from tests.backends import BACKENDS
from tests.conftest import IN_CI
from tests.reports.conftest import SCRIPT, run_cli

CUSTOM = {"commodities": ["NG", "BRENT"], "horizon": 3, "model": "drift", "as_of": "2025-03-14",
          "levels": [50, 90], "title": "Gas & oil <check>", "eval_origins": 2,
          "backtest_days": 120, "history_days": 30, "plotlyjs": "cdn"}


def code_sources(html: str) -> list[str]:
    """Source snippets of the report notebook that must not appear in the HTML."""
    return ["ReportBuilder.from_parameters", "report.prices()", "for code in report.params",
            "injected-parameters\">", "PARAMETER_NAMES"]


def count_drawn_charts(html_path: Path) -> int:
    """Open a report in headless Chromium (no network) and count the charts plotly drew."""
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = find_chromium()
    if chromium is None:
        if IN_CI:
            pytest.fail("Chromium is required in CI")
        pytest.skip("Chromium is not installed")
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        try:
            page = browser.new_page()
            page.route("http*://**", lambda route: route.abort())  # offline: no CDN, no require.js
            page.goto(html_path.resolve().as_uri())
            page.wait_for_function(
                "document.querySelectorAll('.plotly-graph-div .main-svg').length >= 5",
                timeout=30_000)
            return page.evaluate(
                "document.querySelectorAll('.plotly-graph-div:has(.main-svg)').length")
        finally:
            browser.close()


def pg_url_of(store) -> str:
    """The URL (password included) of a PostgreSQL :class:`PriceStore`, for the environment."""
    return store.url.render_as_string(hide_password=False).replace("+psycopg", "")


def store_environment(backend: str, request: pytest.FixtureRequest,
                      empty_home: Path) -> dict[str, str]:
    """The variables naming the report store on a backend: the session's SQLite report home, or
    its PostgreSQL copy (with an empty home, so that nothing can read SQLite instead)."""
    if backend == "sqlite":
        return {"ENERGY_NB_HOME": str(request.getfixturevalue("report_home"))}
    return {"ENERGY_NB_HOME": str(empty_home),
            "ENERGY_NB_DATABASE_URL": pg_url_of(request.getfixturevalue("report_store_pg"))}


@pytest.fixture(params=BACKENDS)
def report_env(request: pytest.FixtureRequest, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process (and papermill's kernels) pointed at the report store on each backend; returns
    the environment for subprocesses."""
    variables = store_environment(request.param, request, tmp_path / "empty-home")
    monkeypatch.delenv("ENERGY_NB_DATABASE_URL", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return {**os.environ, **variables}


def _custom_run(backend: str, request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory, formats: tuple[str, ...]):
    out = tmp_path_factory.mktemp("reports")
    variables = store_environment(backend, request, tmp_path_factory.mktemp("empty-home"))
    old = {name: os.environ.get(name) for name in ("ENERGY_NB_HOME", "ENERGY_NB_DATABASE_URL")}
    os.environ.pop("ENERGY_NB_DATABASE_URL", None)
    os.environ.update(variables)
    try:
        result = run_report(CUSTOM, out_dir=out, formats=formats, keep=5)
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return result, out


@pytest.fixture(scope="module")
def sqlite_custom_run(request: pytest.FixtureRequest,
                      tmp_path_factory: pytest.TempPathFactory):
    """The custom report on the SQLite store, with the PDF when Chromium is there."""
    chromium = find_chromium()
    if chromium is None and IN_CI:
        pytest.fail("Chromium is required in CI for the PDF report")
    formats = ("html", "ipynb", "pdf") if chromium else ("html", "ipynb")
    return _custom_run("sqlite", request, tmp_path_factory, formats)


@pytest.fixture(scope="module")
def postgresql_custom_run(request: pytest.FixtureRequest,
                          tmp_path_factory: pytest.TempPathFactory):
    """The custom report on the PostgreSQL copy (no PDF: printing reads no store)."""
    return _custom_run("postgresql", request, tmp_path_factory, ("html", "ipynb"))


@pytest.fixture(scope="module", params=BACKENDS)
def custom_run(request: pytest.FixtureRequest):
    """The custom report on each backend."""
    return request.getfixturevalue(f"{request.param}_custom_run")


def test_papermill_run_with_non_default_parameters_writes_the_notebook(custom_run) -> None:
    result, out = custom_run
    assert result.run_dir.parent == out and re.match(r"\d{4}-\d\d-\d\dT\d{6}Z-[0-9a-f]{8}$",
                                                      result.run_dir.name)
    assert result.files["ipynb"].name == "energy-report-2025-03-14.ipynb"
    nb = nbformat.read(result.files["ipynb"], as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    for line in ("horizon = 3", 'model = "drift"', 'as_of = "2025-03-14"',
                 'commodities = ["NG", "BRENT"]', "levels = [50, 90]"):
        assert line in injected[0].source
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert errors == []
    html_outputs = "".join(o.get("data", {}).get("text/html", "") for c in nb.cells
                           if c.cell_type == "code" for o in c.outputs)
    for title in ("Forecast: NG", "Forecast: BRENT", "Recent accuracy: BRENT", "Backtest: NG",
                  "Data freshness", "Gas &amp; oil &lt;check&gt;"):
        assert title in html_outputs
    assert "Forecast: WTI" not in html_outputs
    run_json = json.loads((result.run_dir / "run.json").read_text())
    assert run_json["status"] == "ok" and run_json["parameters"]["horizon"] == 3
    assert (out / "latest").resolve() == result.run_dir.resolve()


def test_html_report_hides_every_code_cell(custom_run) -> None:
    result, _ = custom_run
    html = result.files["html"].read_text(encoding="utf-8")
    assert "<title>Gas &amp; oil &lt;check&gt;</title>" in html
    for snippet in code_sources(html):
        assert snippet not in html, snippet
    assert 'class="jp-InputArea' not in html
    assert "jp-mod-noInput" in html
    assert html.count('class="plotly-graph-div"') == 1 + 2 + 2  # prices, forecasts, backtests
    assert re.search(r'<script src="https://cdn\.plot\.ly/plotly-[\d.]+\.min\.js"', html)
    assert html.index("cdn.plot.ly") < html.index("require.min.js")


def test_pdf_is_printed_by_chromium(sqlite_custom_run) -> None:
    result, _ = sqlite_custom_run
    if "pdf" not in result.files:
        if IN_CI:
            pytest.fail("no PDF was printed: Chromium is required in CI")
        pytest.skip("Chromium is not installed")
    data = result.files["pdf"].read_bytes()
    assert data[:5] == b"%PDF-" and len(data) > 20_000


def test_failing_cell_is_named_and_the_partial_notebook_kept(report_env: dict[str, str],
                                                             tmp_path: Path) -> None:
    nb = nbformat.read(DEFAULT_NOTEBOOK, as_version=4)
    accuracy = next(c for c in nb.cells if c.source.startswith("# Recent out-of-sample accuracy"))
    accuracy.source = "# Recent out-of-sample accuracy\nraise RuntimeError('model server down')"
    broken = tmp_path / "broken.ipynb"
    nbformat.write(nb, broken)
    out = tmp_path / "out"
    with pytest.raises(ReportExecutionError) as info:
        run_report({"commodities": ["WTI"], "model": "random_walk", "horizon": 2},
                   out_dir=out, notebook=broken, keep=3)
    err = info.value
    # code cells: parameters, injected parameters, setup, prices, forecast, accuracy
    assert err.cell_number == 6
    assert err.cell_label == "# Recent out-of-sample accuracy"
    assert (err.ename, err.evalue) == ("RuntimeError", "model server down")
    assert "cell 6 ('# Recent out-of-sample accuracy'): RuntimeError: model server down" in str(err)
    assert err.notebook.exists() and err.run_dir.parent == out / "failed"
    partial = nbformat.read(err.notebook, as_version=4)
    done = "".join(o.get("data", {}).get("text/html", "") for c in partial.cells
                   if c.cell_type == "code" for o in c.outputs)
    assert "Latest prices" in done and "Forecast: WTI" in done and "Backtest: WTI" not in done
    assert list_reports(out) == []
    assert json.loads((err.run_dir / "run.json").read_text())["cell"] == 6


def test_cli_rejects_bad_parameters_before_running(report_env: dict[str, str],
                                                   tmp_path: Path) -> None:
    out = tmp_path / "out"
    for args, message in [
        (["--commodity", "WTI,COAL"], "commodities: unknown commodity 'COAL'"),
        (["--horizon", "0"], "horizon must be between 1 and 30 trading days, got 0"),
        (["--as-of", "1975-01-02"], "as_of 1975-01-02 is before the first WTI price (1986-01-02)"),
    ]:
        res = subprocess.run([str(SCRIPT), "report", "--out", str(out), *args],
                             capture_output=True, text=True, env=report_env, timeout=300)
        assert res.returncode == 2, res.stderr
        assert f"energy-nb: error: {message}" in res.stderr
        assert not out.exists() or list(out.iterdir()) == []


def test_formats_and_retention_are_checked_before_running(use_report_home: Path,
                                                          tmp_path: Path) -> None:
    with pytest.raises(ReportParameterError, match=r"unknown format\(s\) docx; choose from html"):
        run_report({}, out_dir=tmp_path / "a", formats="html,docx")
    with pytest.raises(ReportParameterError, match="keep must be a positive number of reports"):
        run_report({}, out_dir=tmp_path / "b", keep=0)
    with pytest.raises(ReportParameterError,
                       match="report notebook .*missing.ipynb does not exist"):
        run_report({}, out_dir=tmp_path / "c", notebook=tmp_path / "missing.ipynb")
    assert not any((tmp_path / d).exists() for d in "abc")


def test_concurrent_cli_runs_do_not_clobber_and_old_reports_are_pruned(
        report_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    old = [out / "2020-01-01T000000Z-0000000a", out / "2020-01-02T000000Z-0000000b"]
    for folder in old:
        folder.mkdir(parents=True)
        (folder / "energy-report-2019-12-31.html").write_text("old")
    (out / ".running-crashed").mkdir()  # an unfinished run is never pruned or listed
    args = ["report", "--out", str(out), "--commodity", "NG", "--model", "random_walk",
            "--horizon", "2", "--format", "html", "--keep", "3", "--json"]
    procs = [subprocess.Popen([str(SCRIPT), *args, "--title", f"run {k}"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=report_env)
             for k in range(2)]
    results = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        results.append(json.loads(stdout))
    dirs = {Path(r["run_dir"]) for r in results}
    assert len(dirs) == 2
    for r in results:
        html = Path(r["files"]["html"]).read_text(encoding="utf-8")
        assert f"<title>{r['parameters']['title']}</title>" in html
        assert {p.name for p in Path(r["run_dir"]).iterdir()} == {
            Path(r["files"]["html"]).name, "run.json"}
    # keep 3: both new runs and the newer old one stay; the oldest is gone
    assert list_reports(out) == [old[1], *sorted(dirs)]
    assert not old[0].exists()
    assert (out / ".running-crashed").exists()
    assert (out / "latest").resolve() in {d.resolve() for d in dirs}
    pruned = [p for r in results for p in r["pruned"]]
    assert str(old[0]) in pruned


def test_export_of_a_notebook_executed_elsewhere(sqlite_custom_run, tmp_path: Path) -> None:
    import shutil

    result, _ = sqlite_custom_run
    executed = tmp_path / "from-airflow.ipynb"
    shutil.copy(result.files["ipynb"], executed)
    res = run_cli(tmp_path, "report", "--export", str(executed), "--format", "html", "--json")
    assert res.returncode == 0, res.stderr
    html_path = Path(json.loads(res.stdout)["files"]["html"])
    assert html_path == executed.with_suffix(".html")
    html = html_path.read_text(encoding="utf-8")
    assert "<title>Gas &amp; oil &lt;check&gt;</title>" in html  # the injected title
    assert "ReportBuilder.from_parameters" not in html and "Forecast: BRENT" in html
    assert html.index("<script type=\"text/javascript\">") < html.index("require.min.js")
    assert count_drawn_charts(html_path) == 5  # plotly.js in the page draws every chart offline
    with pytest.raises(ReportParameterError, match=r"nope\.ipynb does not exist"):
        export_notebook(tmp_path / "nope.ipynb")
    with pytest.raises(ReportParameterError, match="exporting writes html and/or pdf"):
        export_notebook(executed, formats="ipynb")


def test_a_kernel_that_cannot_start_is_a_report_error(use_report_home: Path,
                                                      tmp_path: Path) -> None:
    from energy_nb.reports.run import ReportError

    out = tmp_path / "out"
    with pytest.raises(ReportError, match=r"report could not run: NoSuchKernel.*no-such-kernel"):
        run_report({"commodities": ["NG"]}, out_dir=out, kernel_name="no-such-kernel")
    assert list_reports(out) == [] and len(list((out / "failed").iterdir())) == 1


@pytest.mark.slow
@pytest.mark.postgresql
def test_report_from_a_postgresql_store(report_store_pg, report_home: Path,
                                        tmp_path: Path) -> None:
    """``energy-nb report`` (papermill, the kernel inherits ENERGY_NB_DATABASE_URL) reads the
    PostgreSQL store; the password appears in no output, file or record."""
    url = pg_url_of(report_store_pg)
    password = report_store_pg.url.password
    empty_home = tmp_path / "home"  # no SQLite store there: the report must read PostgreSQL
    out = tmp_path / "out"
    env = {**os.environ, "ENERGY_NB_HOME": str(empty_home), "ENERGY_NB_DATABASE_URL": url}
    done = subprocess.run([str(SCRIPT), "report", "--out", str(out), "--commodity", "NG",
                           "--model", "random_walk", "--horizon", "2", "--as-of", "2025-03-14",
                           "--format", "html,ipynb", "--json"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    html = Path(result["files"]["html"]).read_text(encoding="utf-8")
    assert "Forecast: NG" in html and "Data freshness" in html
    assert not (empty_home / "energy_nb.sqlite").exists()
    texts = [done.stdout, done.stderr, html, Path(result["files"]["ipynb"]).read_text()]
    texts += [p.read_text(errors="replace") for p in Path(result["run_dir"]).iterdir()]
    assert not [t for t in texts if password in t]
