"""Residual diagnostics of recorded runs, saved as JSON files so that pages read them, not refit.

The residual diagnostics of a recorded run
(:func:`~energy_nb.service.diagnostics.residual_diagnostics` of
:func:`~energy_nb.service.diagnostics.fit_run_model`) are deterministic given what the refit
reads: the store, the run (id, model, parameters, training window, data version), the stored
prices of its training window and the installed libraries. :class:`DiagnosticsCache` keeps them
under ``$ENERGY_NB_HOME/cache/diagnostics/``, one file per run and key, so that only the first
visitor of a run pays for the refit. The Models page never refits in its own kernel: on a miss
:mod:`energy_nb.service.diagnostics_worker` refits in a short-lived worker process (which alone
imports statsmodels, scipy and scikit-learn) that saves the file the page then loads.

* :meth:`DiagnosticsCache.key` — what the result depends on; its digest names the file, so the
  file changes when any of it does (a revised price inside the window, other parameters, another
  store, an upgraded library). Prices appended after the window do not change it.
* :meth:`DiagnosticsCache.load` — the saved diagnostics, or ``None`` on a miss; a corrupt,
  unreadable or wrong-shape file is a miss (logged) and is overwritten by the next save. Loading
  imports no model library.
* :meth:`DiagnosticsCache.save` — written atomically (temporary file, then ``os.replace``); an
  unwritable folder is logged, never raised.

Only successful diagnostics are saved; a reason why they are unavailable is not (the next try
may succeed, e.g. once prices are imported).

Usage::

    from energy_nb.service.diagnostics_cache import DiagnosticsCache
    cache = DiagnosticsCache.from_settings()
    key = cache.key(store, run)
    diag = cache.load(key)
    if diag is None:
        diag = residual_diagnostics(fit_run_model(store, run))
        cache.save(key, diag)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import inspect
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from energy_nb.config import Settings
from energy_nb.service.diagnostics import ResidualDiagnostics, residual_diagnostics
from energy_nb.service.registry import library_versions

if TYPE_CHECKING:  # pragma: no cover
    from energy_nb.data.store import PriceStore
    from energy_nb.service.registry import ModelRun

log = logging.getLogger(__name__)

#: Version of the file layout and of what the diagnostics mean; bump it when
#: :func:`residual_diagnostics` or :func:`fit_run_model` change what they compute.
CACHE_FORMAT = 1
#: The float fields of :class:`ResidualDiagnostics`.
_NUMBERS = ("acf_band", "ljung_box_pvalue", "mean", "std", "skew", "kurtosis")


class CacheFileError(ValueError):
    """A cache file that cannot be read back as diagnostics (wrong shape or key)."""


@dataclass(frozen=True)
class DiagnosticsKey:
    """What one run's diagnostics depend on.

    Attributes:
        run_id: the run.
        store: digest of the store's identity (its resolved file, or its masked URL).
        fields: everything the result depends on, JSON-safe.
        digest: SHA-256 of ``fields`` (canonical JSON).
    """

    run_id: int
    store: str
    fields: dict[str, Any]
    digest: str

    @property
    def file_name(self) -> str:
        """``<store digest>-run<id>-<key digest>.json``."""
        return f"{self.store[:12]}-run{self.run_id}-{self.digest[:20]}.json"


class DiagnosticsCache:
    """Residual diagnostics of recorded runs as JSON files in one folder.

    Args:
        folder: where the files live (created on the first save).

    Usage::

        cache = DiagnosticsCache(Settings.from_env().home / "cache" / "diagnostics")
        cache.load(cache.key(store, run))
    """

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> DiagnosticsCache:
        """The cache in ``<ENERGY_NB_HOME>/cache/diagnostics``.

        Args:
            settings: settings to use instead of the environment's.

        Returns:
            The cache (nothing is read or created yet).
        """
        return cls((settings or Settings.from_env()).home / "cache" / "diagnostics")

    def key(self, store: PriceStore, run: ModelRun) -> DiagnosticsKey:
        """What ``run``'s diagnostics on ``store`` depend on (reads its training prices).

        Args:
            store: the price store the run is refitted from.
            run: the recorded run.

        Returns:
            The key.

        Raises:
            StoreError: the store cannot be read.
        """
        file = getattr(store, "path", None)
        location = str(Path(file).resolve()) if file is not None else str(store.location)
        train = store.load(run.commodity, start=run.train_start, end=run.train_end)
        prices = hashlib.sha256(
            pd.util.hash_pandas_object(train, index=True).to_numpy().tobytes()).hexdigest()
        settings = {name: p.default for name, p in
                    inspect.signature(residual_diagnostics).parameters.items()
                    if p.default is not inspect.Parameter.empty}
        fields = {
            "format": CACHE_FORMAT,
            "store": location,
            "run_id": int(run.id),
            "model": run.name,
            "commodity": run.commodity,
            "params": run.params,
            "train_start": run.train_start,
            "train_end": run.train_end,
            "data_version": run.data_version,
            "prices": f"{len(train)}:{prices}",
            "libraries": library_versions(),
            "settings": settings,
        }
        fields = json.loads(_canonical(fields))  # what a file holds: compared as read back
        return DiagnosticsKey(int(run.id), _sha256(location), fields, _sha256(_canonical(fields)))

    def path(self, key: DiagnosticsKey) -> Path:
        """The file of ``key``."""
        return self.folder / key.file_name

    def load(self, key: DiagnosticsKey) -> ResidualDiagnostics | None:
        """The saved diagnostics of ``key``, or ``None`` when there are none (or none usable).

        Args:
            key: from :meth:`key`.

        Returns:
            The diagnostics; ``None`` when the file is missing, or unreadable, corrupt, of
            another shape or another key (logged as a warning; the next save overwrites it).
        """
        path = self.path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read the saved residual diagnostics %s: %s", path, exc)
            return None
        try:
            document = json.loads(raw.decode("utf-8"))
            if (not isinstance(document, dict)
                    or _canonical(document.get("key")) != _canonical(key.fields)):
                raise CacheFileError("it was written for another run or settings")
            return diagnostics_from_json(document["diagnostics"])
        except Exception as exc:  # any damage (bad JSON, shape, dtype) is a miss, not an error
            log.warning("ignoring the saved residual diagnostics %s: %s", path, exc)
            return None

    @contextlib.contextmanager
    def refit_lock(self, run_id: int) -> Iterator[None]:
        """Hold the run's refit lock (an ``flock`` on ``run<ID>.lock`` in the folder).

        Visitors opening a run nobody has refitted yet each start a worker; the workers take
        this lock in turn, and each one looks in the cache again once it holds it, so the run
        is refitted once. Without a writable folder there is no lock (each refits).

        Args:
            run_id: the run.

        Usage::

            with cache.refit_lock(run.id):
                diag = cache.load(key) or refit()
        """
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = open(self.folder / f"run{int(run_id)}.lock", "a+b")  # noqa: SIM115
        except OSError as exc:
            log.warning("refitting run %s without a lock (%s)", run_id, exc)
            yield
            return
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
            yield

    def save(self, key: DiagnosticsKey, diagnostics: ResidualDiagnostics) -> Path | None:
        """Save ``diagnostics`` under ``key`` atomically; older files of the run are removed.

        Args:
            key: from :meth:`key`.
            diagnostics: the run's diagnostics.

        Returns:
            The file written, or ``None`` when it could not be written (logged: the page goes
            on without the cache).
        """
        path = self.path(key)
        text = json.dumps({"key": key.fields, "diagnostics": diagnostics_to_json(diagnostics)})
        tmp: str | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("cannot save residual diagnostics in %s: %s", self.folder, exc)
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            return None
        for old in self.folder.glob(f"{key.store[:12]}-run{key.run_id}-*.json"):
            if old != path:  # the run's diagnostics under an older key (e.g. revised prices)
                old.unlink(missing_ok=True)
        return path


# ----------------------------------------------------------------------------------------------
# JSON form


def diagnostics_to_json(diagnostics: ResidualDiagnostics) -> dict[str, Any]:
    """A JSON-safe dict of ``diagnostics`` (floats exact; NaN kept as JSON ``NaN``).

    Args:
        diagnostics: the diagnostics.

    Returns:
        ``{"model", "residuals", "acf", "histogram", "acf_band", ...}``.
    """
    out: dict[str, Any] = {
        "model": diagnostics.model,
        "residuals": _series_to_json(diagnostics.residuals),
        "acf": _series_to_json(diagnostics.acf),
        "histogram": {
            "columns": [str(c) for c in diagnostics.histogram.columns],
            "dtypes": [str(t) for t in diagnostics.histogram.dtypes],
            "data": [diagnostics.histogram[c].tolist() for c in diagnostics.histogram.columns],
            "index": _index_to_json(diagnostics.histogram.index),
        },
    }
    out.update({name: float(getattr(diagnostics, name)) for name in _NUMBERS})
    return out


def diagnostics_from_json(data: dict[str, Any]) -> ResidualDiagnostics:
    """The diagnostics back from :func:`diagnostics_to_json`'s dict.

    Raises:
        CacheFileError: a field is missing or of the wrong shape (also ``KeyError``,
            ``TypeError`` or ``ValueError`` from pandas on malformed values).
    """
    table = data["histogram"]
    columns, dtypes, values = table["columns"], table["dtypes"], table["data"]
    if not (len(columns) == len(dtypes) == len(values)):
        raise CacheFileError("the histogram's columns, dtypes and data differ in length")
    histogram = pd.DataFrame(
        {c: pd.Series(v, dtype=t) for c, t, v in zip(columns, dtypes, values)})
    histogram.index = _index_from_json(table["index"])
    numbers = {name: float(data[name]) for name in _NUMBERS}
    if not isinstance(data["model"], str):
        raise CacheFileError("the model name is not text")
    residuals, acf = _series_from_json(data["residuals"]), _series_from_json(data["acf"])
    if residuals.empty or acf.empty or not isinstance(residuals.index, pd.DatetimeIndex):
        raise CacheFileError("no dated residuals or no autocorrelations")
    return ResidualDiagnostics(model=data["model"], residuals=residuals, acf=acf,
                               histogram=histogram, **numbers)


def _series_to_json(series: pd.Series) -> dict[str, Any]:
    return {"name": series.name, "dtype": str(series.dtype), "values": series.tolist(),
            "index": _index_to_json(series.index)}


def _series_from_json(data: dict[str, Any]) -> pd.Series:
    index = _index_from_json(data["index"])
    values = data["values"]
    if not isinstance(values, list) or len(values) != len(index):
        raise CacheFileError(f"{len(index)} index labels but values {type(values).__name__}")
    return pd.Series(values, index=index, name=data["name"], dtype=data["dtype"])


def _index_to_json(index: pd.Index) -> dict[str, Any]:
    if isinstance(index, pd.RangeIndex):
        return {"kind": "range", "name": index.name, "start": index.start, "stop": index.stop,
                "step": index.step}
    if isinstance(index, pd.DatetimeIndex):
        if index.tz is not None:
            raise CacheFileError("time-zone aware dates are not saved")
        return {"kind": "dates", "name": index.name, "dtype": str(index.dtype),
                "freq": index.freqstr, "values": [t.isoformat() for t in index]}
    return {"kind": "labels", "name": index.name, "dtype": str(index.dtype),
            "values": index.tolist()}


def _index_from_json(data: dict[str, Any]) -> pd.Index:
    kind = data["kind"]
    if kind == "range":
        return pd.RangeIndex(int(data["start"]), int(data["stop"]), int(data["step"]),
                             name=data["name"])
    if kind == "dates":
        index = pd.DatetimeIndex(data["values"], name=data["name"]).astype(data["dtype"])
        return pd.DatetimeIndex(index, freq=data["freq"]) if data["freq"] else index
    if kind == "labels":
        return pd.Index(data["values"], name=data["name"], dtype=data["dtype"])
    raise CacheFileError(f"unknown index kind {kind!r}")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
