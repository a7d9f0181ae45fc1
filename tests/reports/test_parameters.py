"""Report parameter validation: normalisation, every error names the parameter, data checks."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from energy_nb.data.store import PriceStore
from energy_nb.reports.parameters import (
    PARAMETER_NAMES,
    ReportParameterError,
    ReportParameters,
    check_against_data,
    default_parameters,
    validate_parameters,
)

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "report.ipynb"


def notebook_parameters() -> dict[str, object]:
    """The values of the report notebook's cell tagged ``parameters``."""
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, "report.ipynb needs exactly one cell tagged 'parameters'"
    tree = ast.parse("".join(cells[0]["source"]))
    return {node.targets[0].id: ast.literal_eval(node.value)  # type: ignore[attr-defined]
            for node in tree.body if isinstance(node, ast.Assign)}


def test_notebook_parameters_cell_matches_the_defaults() -> None:
    assert notebook_parameters() == default_parameters()
    assert tuple(notebook_parameters()) == PARAMETER_NAMES
    assert default_parameters()["live"] is False


def test_defaults_validate_and_values_are_normalised() -> None:
    assert validate_parameters() == ReportParameters()
    p = validate_parameters({"commodities": "ng, Wti,ng", "horizon": "5", "levels": [95, 50, 95],
                             "model": "Random-Walk", "as_of": "2025-03-14", "strategy": "SMA_CROSS",
                             "title": "  T  "})
    assert p.commodities == ("NG", "WTI")
    assert p.horizon == 5 and p.levels == (50, 95) and p.model == "random_walk"
    assert p.as_of == "2025-03-14" and p.strategy == "sma-cross" and p.title == "T"
    assert validate_parameters({"as_of": "latest"}).as_of is None
    assert validate_parameters(p.to_dict()) == p


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"commodities": ["WTI", "COAL"]}, "commodities: unknown commodity 'COAL'"),
        ({"commodities": []}, "commodities must be a non-empty list"),
        ({"horizon": 0}, "horizon must be between 1 and 30 trading days, got 0"),
        ({"horizon": 31}, "horizon must be between 1 and 30 trading days, got 31"),
        ({"horizon": 2.5}, "horizon must be an integer"),
        ({"horizon": True}, "horizon must be an integer"),
        ({"levels": [80, 100]}, "levels: interval level must be between 0 and 100 (exclusive)"),
        ({"levels": []}, "levels must name at least one interval level"),
        ({"model": "prophet"}, "model: unknown model 'prophet'"),
        ({"strategy": "yolo"}, "unknown strategy 'yolo'"),
        ({"as_of": "2025-13-45"}, "as_of is not a valid date: '2025-13-45' (use YYYY-MM-DD)"),
        ({"as_of": "2025-03-14 10:30"}, "as_of must be a date without a time"),
        ({"title": " "}, "title must be a non-empty string"),
        ({"live": True}, "live must be False"),
        ({"plotlyjs": "none"}, "unknown plotlyjs 'none'"),
        ({"eval_origins": 0}, "eval_origins must be in 1..60"),
        ({"horizn": 3}, "unknown report parameter(s) horizn"),
        ({"db": "postgresql://me:top-secret@db/energy"},
         "db postgresql://me:***@db/energy holds a password, which would be written into the "
         "report; set ENERGY_NB_DATABASE_URL instead"),
        ({"db": "mysql://me@db/energy"}, "db: mysql://me@db/energy: unsupported database"),
    ],
)
def test_invalid_parameters_name_the_problem(raw: dict, message: str) -> None:
    with pytest.raises(ReportParameterError) as info:
        validate_parameters(raw)
    assert message in str(info.value) and "top-secret" not in str(info.value)


def test_as_of_is_checked_against_the_stored_data(report_store: PriceStore) -> None:
    ok = validate_parameters({"commodities": ["NG", "WTI"], "as_of": "2025-06-30"})
    assert check_against_data(ok, report_store) is ok
    with pytest.raises(ReportParameterError, match=r"as_of 1990-01-02 is before the first NG "
                                                   r"price \(1997-01-07\)"):
        check_against_data(validate_parameters({"commodities": ["WTI", "NG"],
                                                "as_of": "1990-01-02"}), report_store)
    with pytest.raises(ReportParameterError,
                       match=r"after the last stored WTI price \(2026-08-18\)"):
        check_against_data(validate_parameters({"commodities": ["WTI"], "as_of": "2026-08-19"}),
                           report_store)
    with pytest.raises(ReportParameterError, match="too little NG history"):
        check_against_data(validate_parameters({"commodities": ["NG"], "as_of": "1997-02-03"}),
                           report_store)


def test_a_commodity_without_data_is_an_error(tmp_path: Path) -> None:
    empty = PriceStore(tmp_path / "empty.sqlite")
    with pytest.raises(ReportParameterError, match="no BRENT prices stored"):
        check_against_data(validate_parameters({"commodities": ["BRENT"]}), empty)
