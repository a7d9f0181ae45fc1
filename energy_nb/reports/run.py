"""Run the report notebook with papermill and export it (HTML with code hidden, optional PDF).

One run:

1. validates the parameters (and ``as_of`` against the stored data) before any kernel starts;
2. executes ``notebooks/report.ipynb`` with papermill into a fresh hidden folder
   ``<out>/.running-XXXX`` (unique per run, so concurrent runs never share files);
3. converts the executed notebook to HTML without code cells (nbconvert ``exclude_input``) and,
   when asked and Chromium is installed, prints its print version (static charts sized to the
   paper, A4 or Letter portrait: :mod:`energy_nb.reports.printing`) to PDF with headless
   Chromium;
4. writes ``run.json`` (parameters, timings, files) and renames the folder atomically to
   ``<out>/<YYYY-MM-DDTHHMMSSZ>-<id>/`` holding ``energy-report-<YYYY-MM-DD>.{html,ipynb,pdf}``
   (the date is the report's data date: ``as_of``, or the newest price used);
5. points the ``<out>/latest`` symlink at it and deletes the oldest run folders beyond ``keep``.

A failed run moves its folder, with the partially executed notebook, to ``<out>/failed/`` and
raises :class:`ReportExecutionError` naming the failing cell.

Usage::

    from energy_nb.reports.run import run_report
    result = run_report({"commodities": ["WTI"], "horizon": 5}, out_dir="var/reports",
                        formats=("html", "ipynb", "pdf"), keep=30, paper="letter")
    print(result.files["html"])
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from energy_nb.config import PROJECT_ROOT
from energy_nb.reports.parameters import (
    FORMATS,
    ReportParameterError,
    ReportParameters,
    check_against_data,
    validate_parameters,
)
from energy_nb.reports.printing import DEFAULT_PAPER, Paper, check_paper, print_html

#: The report notebook shipped with the project.
DEFAULT_NOTEBOOK = PROJECT_ROOT / "notebooks" / "report.ipynb"
#: Where Debian installs Chromium; ``shutil.which("chromium")`` is tried first.
CHROMIUM_PATHS: tuple[str, ...] = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
#: Name pattern of a finished run folder (sorting by name sorts by time).
RUN_DIR_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{6}Z-[0-9a-f]{8}$")
#: Prefix of a run folder still being written (never pruned, never shown as a report).
RUNNING_PREFIX = ".running-"
#: How many times a kernel that dies while starting (a port race with another run) is retried.
KERNEL_START_ATTEMPTS = 3
#: Folder (inside the output folder) holding failed runs for diagnosis.
FAILED_DIR = "failed"


class ReportError(RuntimeError):
    """A report could not be produced."""


class ReportExecutionError(ReportError):
    """A notebook cell raised; the partial notebook is kept.

    Attributes:
        cell_number: position of the failing cell among the code cells of the report notebook
            (1-based, counting papermill's injected-parameters cell).
        cell_label: the failing cell's first line (each report cell starts with a ``# title``).
        ename: exception class name raised in the kernel.
        evalue: exception message.
        notebook: path of the partially executed notebook.
        run_dir: the failed run's folder.
    """

    def __init__(self, cell_number: int | None, cell_label: str, ename: str, evalue: str,
                 notebook: Path, run_dir: Path) -> None:
        self.cell_number = cell_number
        self.cell_label = cell_label
        self.ename = ename
        self.evalue = evalue
        self.notebook = notebook
        self.run_dir = run_dir
        where = f"cell {cell_number}" if cell_number is not None else "a cell"
        super().__init__(
            f"report failed in {where} ({cell_label!r}): {ename}: {evalue}; "
            f"partial notebook kept at {notebook}"
        )


class ReportOutputError(ReportError):
    """The notebook ran but an output (HTML, PDF) could not be written."""


@dataclass(frozen=True)
class ReportResult:
    """A finished report run.

    Attributes:
        run_dir: the run folder.
        files: format -> path of each written file.
        parameters: the validated parameters.
        report_date: the date in the file names.
        seconds: wall time of the run.
        skipped: format -> reason, for formats asked for but not produced (PDF without Chromium).
        pruned: run folders deleted by the retention rule.
    """

    run_dir: Path
    files: dict[str, Path]
    parameters: ReportParameters
    report_date: str
    seconds: float
    skipped: dict[str, str] = field(default_factory=dict)
    pruned: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary."""
        return {
            "run_dir": str(self.run_dir),
            "files": {k: str(v) for k, v in self.files.items()},
            "parameters": self.parameters.to_dict(),
            "report_date": self.report_date,
            "seconds": round(self.seconds, 2),
            "skipped": dict(self.skipped),
            "pruned": [str(p) for p in self.pruned],
        }


def check_formats(formats: str | Sequence[str]) -> tuple[str, ...]:
    """Parse and check output formats.

    Args:
        formats: ``"html,pdf"`` or a sequence of names.

    Returns:
        The unique formats in :data:`FORMATS` order.

    Raises:
        ReportParameterError: empty or unknown format.
    """
    items = formats.replace(" ", ",").split(",") if isinstance(formats, str) else list(formats)
    wanted = {str(f).strip().lower() for f in items if str(f).strip()}
    if not wanted:
        raise ReportParameterError(f"format must name at least one of {', '.join(FORMATS)}")
    unknown = sorted(wanted - set(FORMATS))
    if unknown:
        raise ReportParameterError(
            f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}"
        )
    return tuple(f for f in FORMATS if f in wanted)


def check_keep(keep: Any) -> int | None:
    """Check the retention count.

    Args:
        keep: ``None`` (keep everything) or a positive integer.

    Returns:
        The count or ``None``.

    Raises:
        ReportParameterError: not a positive integer.
    """
    if keep is None:
        return None
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ReportParameterError(f"keep must be a positive number of reports, got {keep!r}")
    return keep


def find_chromium() -> str | None:
    """Path of a Chromium executable, or ``None`` when none is installed."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    return next((p for p in CHROMIUM_PATHS if os.access(p, os.X_OK)), None)


def run_report(
    parameters: Mapping[str, Any] | ReportParameters | None = None,
    out_dir: str | Path | None = None,
    formats: str | Sequence[str] = ("html", "ipynb"),
    keep: int | None = None,
    *,
    notebook: str | Path | None = None,
    timeout: float = 600.0,
    kernel_name: str | None = None,
    now: datetime | None = None,
    store: Any = None,
    paper: str | Paper = DEFAULT_PAPER,
) -> ReportResult:
    """Execute the report notebook and write its outputs into a new run folder.

    Args:
        parameters: report parameters (see :class:`ReportParameters`); missing ones default.
        out_dir: folder holding the run folders (default ``$ENERGY_NB_HOME/reports``).
        formats: any of ``html``, ``ipynb``, ``pdf``.
        keep: keep only this many newest run folders (and failed runs); ``None`` = all.
        notebook: the notebook to run (default ``notebooks/report.ipynb``).
        timeout: seconds a single cell may run.
        kernel_name: Jupyter kernel (default: the notebook's, ``python3``).
        now: run time (UTC) used in the folder name (default: now).
        store: a :class:`~energy_nb.data.store.PriceStore` for the data checks (default: the
            store the notebook will read).
        paper: the PDF's paper, ``"a4"`` (default) or ``"letter"``, portrait.

    Returns:
        The :class:`ReportResult`.

    Raises:
        ReportParameterError: invalid parameters, formats, ``keep`` or ``paper`` (nothing is
            written).
        ReportExecutionError: a cell failed (the partial notebook is kept under ``failed/``).
        ReportOutputError: HTML or PDF export failed (the folder is moved to ``failed/``).
    """
    from energy_nb.config import Settings
    from energy_nb.data.store import PriceStore
    from energy_nb.reports.parameters import check_out_dir, check_timeout

    began = time.perf_counter()
    params = validate_parameters(parameters)
    if params.db is not None and "://" not in params.db:  # a file; a database URL stays as is
        params = validate_parameters(params.to_dict(), db=str(Path(params.db).resolve()))
    fmts = check_formats(formats)
    keep = check_keep(keep)
    sheet = check_paper(paper)
    timeout = check_timeout(timeout)
    source = Path(notebook) if notebook is not None else DEFAULT_NOTEBOOK
    if not source.is_file():
        raise ReportParameterError(f"report notebook {source} does not exist")
    if store is None:
        store = (PriceStore(params.db, create=False) if params.db  # a report only reads
                 else PriceStore.from_settings(create=False))
    check_against_data(params, store)
    report_date = params.as_of or _newest_date(store, params.commodities)

    import papermill  # imported only once the parameters are known to be good (it is slow)
    from papermill.exceptions import PapermillExecutionError

    out = Path(out_dir) if out_dir is not None else Settings.from_env().home / "reports"
    check_out_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=RUNNING_PREFIX, dir=out))
    run_time = (now or datetime.now(UTC)).astimezone(UTC)
    base = f"energy-report-{report_date}"
    executed = work / f"{base}.ipynb"
    try:
        for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
            try:
                papermill.execute_notebook(
                    str(source), str(executed), parameters=params.to_dict(),
                    kernel_name=kernel_name, progress_bar=False, log_output=False,
                    cwd=str(work), execution_timeout=timeout,
                )
                break
            except RuntimeError as exc:
                # Jupyter picks free TCP ports before the kernel binds them, so two reports
                # started at the same moment can race for a port and one kernel dies at start.
                # Nothing has run yet then: starting a fresh kernel is safe.
                if attempt == KERNEL_START_ATTEMPTS or not _kernel_start_race(exc):
                    raise
    except PapermillExecutionError as exc:
        failed = _move_failed(work, out, run_time)
        number, label = _failing_cell(source, exc.source)
        _write_json(failed / "run.json", {"status": "failed", "parameters": params.to_dict(),
                                          "cell": number, "cell_label": label,
                                          "error": f"{exc.ename}: {exc.evalue}"})
        _prune(out / FAILED_DIR, keep)
        raise ReportExecutionError(number, label, exc.ename, _first_line(exc.evalue),
                                   failed / executed.name, failed) from None
    except Exception as exc:  # kernel missing or dead, timeout, unreadable notebook ...
        failed = _move_failed(work, out, run_time)
        raise ReportError(f"report could not run: {type(exc).__name__}: {_first_line(exc)} "
                          f"(run folder kept in {failed})") from exc
    except BaseException:
        _move_failed(work, out, run_time)
        raise

    files: dict[str, Path] = {}
    skipped: dict[str, str] = {}
    try:
        html_path = work / f"{base}.html"
        html_path.write_text(notebook_to_html(executed, params.title, params.plotlyjs),
                             encoding="utf-8")
        if "pdf" in fmts:
            chromium = find_chromium()
            if chromium is None:
                skipped["pdf"] = "Chromium is not installed (apt-get install chromium)"
            else:
                notebook_to_pdf(chromium, executed, params.title, work / f"{base}.pdf", sheet)
                files["pdf"] = work / f"{base}.pdf"
        if "html" in fmts:
            files["html"] = html_path
        else:
            html_path.unlink()
        if "ipynb" in fmts:
            files["ipynb"] = executed
        else:
            executed.unlink()
    except Exception as exc:
        failed = _move_failed(work, out, run_time)
        raise ReportOutputError(f"report output failed: {exc} (files kept in {failed})") from exc

    seconds = time.perf_counter() - began
    _write_json(work / "run.json", {
        "status": "ok", "parameters": params.to_dict(), "report_date": report_date,
        "started": run_time.isoformat(), "seconds": round(seconds, 2),
        "files": {k: v.name for k, v in files.items()}, "skipped": skipped,
    })
    final = _finish(work, out, run_time)  # the folder appears complete, run.json included
    files = {k: final / v.name for k, v in files.items()}
    _point_latest(out, final)
    pruned = _prune(out, keep)
    return ReportResult(final, files, params, report_date, seconds, skipped, pruned)


def notebook_to_html(path: Path, title: str, plotlyjs: str = "inline") -> str:
    """Convert an executed notebook to HTML with every code input hidden.

    Args:
        path: the executed notebook.
        title: the HTML ``<title>``.
        plotlyjs: ``"inline"`` or ``"cdn"``: how plotly.js is put into the page's ``<head>``
            (before require.js, so plotly registers as the global ``Plotly`` the figures use).

    Returns:
        The HTML text (outputs only: tables and plotly figures).
    """
    import nbformat
    from nbconvert import HTMLExporter

    from energy_nb.reports.content import plotlyjs_tag

    nb = nbformat.read(str(path), as_version=4)
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    head = re.search(r"<head[^>]*>", body)
    if head is None:
        raise ReportOutputError("nbconvert produced HTML without a <head>")
    return body[: head.end()] + "\n" + plotlyjs_tag(plotlyjs) + body[head.end():]


def notebook_to_pdf(chromium: str, notebook: Path, title: str, pdf_path: Path,
                    paper: str | Paper = DEFAULT_PAPER) -> None:
    """Print an executed report notebook to PDF on A4 or Letter, portrait.

    The page printed is the print version of the HTML report (:func:`print_html`): plotly.js
    inline (so it prints offline), static charts as wide as the printable area, no toolbar,
    and the ``@page`` size of ``paper``. It is written beside the PDF while Chromium prints,
    then deleted.

    Args:
        chromium: the Chromium executable.
        notebook: the executed notebook.
        title: the page title.
        pdf_path: the PDF to write.
        paper: ``"a4"``, ``"letter"`` or a :class:`Paper`.

    Raises:
        ReportOutputError: the page could not be printed.
    """
    sheet = check_paper(paper)
    page = pdf_path.with_name(f".{pdf_path.stem}.print.html")
    try:
        page.write_text(print_html(notebook_to_html(notebook, title, "inline"), sheet),
                        encoding="utf-8")
        html_to_pdf(chromium, page, pdf_path, pdf_path.parent)
    finally:
        page.unlink(missing_ok=True)


def html_to_pdf(chromium: str, html_path: Path, pdf_path: Path, work: Path,
                timeout: float = 180.0) -> None:
    """Print an HTML file to PDF with headless Chromium.

    Args:
        chromium: the Chromium executable.
        html_path: the HTML report.
        pdf_path: the PDF to write.
        work: a folder for Chromium's throw-away profile.
        timeout: seconds before giving up.

    Raises:
        ReportOutputError: Chromium failed or wrote no PDF.
    """
    profile = Path(tempfile.mkdtemp(prefix=".chromium-", dir=work))
    cmd = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--no-pdf-header-footer", f"--user-data-dir={profile}",
        "--virtual-time-budget=20000", f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri(),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ReportOutputError(f"Chromium did not print the PDF within {timeout:.0f} s") from None
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if not pdf_path.exists() or pdf_path.read_bytes()[:5] != b"%PDF-":
        raise ReportOutputError(
            f"Chromium wrote no PDF (exit {proc.returncode}): {proc.stderr.strip()[-500:]}"
        )


def export_notebook(notebook: str | Path, formats: str | Sequence[str] = ("html",),
                    plotlyjs: str = "inline",
                    paper: str | Paper = DEFAULT_PAPER) -> dict[str, Path]:
    """Export a report notebook executed elsewhere (e.g. by Airflow's ``PapermillOperator``).

    The files are written beside the notebook, with the same name: HTML with the code hidden and
    plotly.js in the page, and a PDF when asked and Chromium is installed.

    Args:
        notebook: an executed ``report.ipynb``.
        formats: ``html`` and/or ``pdf``.
        plotlyjs: ``"inline"`` or ``"cdn"``.
        paper: the PDF's paper, ``"a4"`` (default) or ``"letter"``.

    Returns:
        Format -> path written.

    Raises:
        ReportParameterError: missing notebook or bad format.
        ReportOutputError: the export failed.
    """
    import nbformat

    path = Path(notebook)
    if not path.is_file():
        raise ReportParameterError(f"notebook {path} does not exist")
    fmts = [f for f in check_formats(formats) if f != "ipynb"]
    sheet = check_paper(paper)
    if not fmts:
        raise ReportParameterError("exporting writes html and/or pdf; give --format html or pdf")
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # noqa: BLE001 - any parse error means "not a notebook"
        raise ReportParameterError(f"{path} is not a readable notebook: {exc}") from None
    title = _injected_title(nb) or path.stem
    html_path = path.with_suffix(".html")
    written: dict[str, Path] = {}
    html_text = notebook_to_html(path, title, plotlyjs)
    html_path.write_text(html_text, encoding="utf-8")
    if "pdf" in fmts:
        chromium = find_chromium()
        if chromium is None:
            raise ReportOutputError("PDF needs Chromium (apt-get install chromium)")
        notebook_to_pdf(chromium, path, title, path.with_suffix(".pdf"), sheet)
        written["pdf"] = path.with_suffix(".pdf")
    if "html" in fmts:
        written["html"] = html_path
    else:
        html_path.unlink()
    return written


def _injected_title(nb: Any) -> str | None:
    """The ``title`` papermill injected (or the parameters cell's), if any."""
    import ast

    for tag in ("injected-parameters", "parameters"):
        for cell in nb.cells:
            if tag not in cell.get("metadata", {}).get("tags", []):
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in tree.body:
                if (isinstance(node, ast.Assign) and len(node.targets) == 1
                        and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "title"
                        and isinstance(node.value, ast.Constant)
                        and isinstance(node.value.value, str)):
                    return node.value.value
    return None


def list_reports(out_dir: str | Path) -> list[Path]:
    """Finished run folders, oldest first.

    Args:
        out_dir: the output folder.

    Returns:
        The run folders (names match :data:`RUN_DIR_PATTERN`).
    """
    out = Path(out_dir)
    if not out.is_dir():
        return []
    return sorted(p for p in out.iterdir() if p.is_dir() and RUN_DIR_PATTERN.match(p.name))


# ----------------------------------------------------------------------------------------------
# helpers


def _newest_date(store: Any, codes: Sequence[str]) -> str:
    dates = [store.last_date(c) for c in codes]
    known = [d for d in dates if d is not None]
    return max(known).strftime("%Y-%m-%d") if known else "undated"


def _kernel_start_race(exc: BaseException) -> bool:
    """Whether ``exc`` is a kernel that died before answering, i.e. before any cell ran."""
    return "Kernel died before replying to kernel_info" in str(exc)


def _run_name(run_time: datetime) -> str:
    return f"{run_time:%Y-%m-%dT%H%M%SZ}-{secrets.token_hex(4)}"


def _rename_unique(work: Path, parent: Path, run_time: datetime) -> Path:
    """Rename ``work`` into ``parent`` under a fresh run name (atomic on one file system)."""
    parent.mkdir(parents=True, exist_ok=True)
    for _ in range(20):
        target = parent / _run_name(run_time)
        try:
            os.rename(work, target)  # fails if a non-empty folder of that name exists
        except OSError:
            if target.exists():
                continue
            raise
        return target
    raise ReportError(f"could not find a free run folder name in {parent}")


def _finish(work: Path, out: Path, run_time: datetime) -> Path:
    return _rename_unique(work, out, run_time)


def _move_failed(work: Path, out: Path, run_time: datetime) -> Path:
    if not work.exists():
        return work
    return _rename_unique(work, out / FAILED_DIR, run_time)


def _point_latest(out: Path, final: Path) -> None:
    """Make ``out/latest`` a symlink to the newest run (replaced atomically)."""
    link = out / "latest"
    tmp = out / f".latest-{secrets.token_hex(4)}"
    try:
        os.symlink(final.name, tmp)
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)


def _prune(folder: Path, keep: int | None) -> list[Path]:
    """Delete the oldest run folders beyond ``keep`` (tolerates concurrent pruning)."""
    if keep is None:
        return []
    runs = list_reports(folder)
    doomed = runs[: max(0, len(runs) - keep)]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


def _failing_cell(source_nb: Path, failing_source: str) -> tuple[int | None, str]:
    """Position (1-based, among code cells, counting the injected parameters) and first line."""
    import nbformat

    label = _first_line(failing_source) or "(empty cell)"
    try:
        nb = nbformat.read(str(source_nb), as_version=4)
    except Exception:  # noqa: BLE001 - the label alone still names the cell
        return None, label
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for k, cell in enumerate(code_cells):
        if cell.source.strip() == failing_source.strip():
            tagged = any("parameters" in c.metadata.get("tags", []) for c in code_cells[: k + 1])
            injected_before = (1 if tagged and "parameters" not in cell.metadata.get("tags", [])
                               else 0)
            return k + 1 + injected_before, label
    return None, label


def _first_line(text: str) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


__all__ = [
    "DEFAULT_NOTEBOOK",
    "ReportError",
    "ReportExecutionError",
    "ReportOutputError",
    "ReportResult",
    "check_formats",
    "check_keep",
    "export_notebook",
    "find_chromium",
    "html_to_pdf",
    "list_reports",
    "notebook_to_html",
    "notebook_to_pdf",
    "run_report",
]
