"""The "Download CSV" link (energy_nb.ui.csv_download): the CSV stays in the kernel until asked.

The browser side (a click saves the file) is in tests/browser (``download_csv``).
"""

from __future__ import annotations

import json

import pytest

from energy_nb.ui.controls import CsvDownloadLink

BIG_CSV = "date,WTI\n" + "".join(f"2020-01-{d % 28 + 1:02d},{50 + d / 100:.2f}\n"
                                for d in range(20_000))


def state_bytes(link: CsvDownloadLink) -> int:
    return len(json.dumps(link.widget.get_state()))


def test_first_paint_carries_the_file_name_not_the_csv():
    link = CsvDownloadLink("Download equity CSV")
    empty = state_bytes(link)
    link.set_csv(BIG_CSV, "wti_history.csv")
    assert len(BIG_CSV) > 300_000
    # the state grows by the file name only (it held the whole CSV, base64, before)
    assert state_bytes(link) - empty < 100
    assert link.widget.filename == "wti_history.csv" and link.widget.reason == ""
    assert link.widget.label == "Download equity CSV"
    assert "enb-download" in link.widget._dom_classes


def test_a_request_is_answered_with_the_current_csv():
    link = CsvDownloadLink()
    link.set_csv("date,NG\n2025-01-02,3.1\n", "ng.csv")
    assert link.answer({"type": "csv"}) == {"type": "csv", "filename": "ng.csv",
                                            "text": "date,NG\n2025-01-02,3.1\n"}
    link.set_csv("date,NG\n2025-01-03,3.2\n", "ng2.csv")
    assert link.answer({"type": "csv"})["filename"] == "ng2.csv"


def test_disabled_link_shows_the_reason_and_answers_nothing():
    link = CsvDownloadLink()
    assert link.reason == "nothing to download yet" and link.widget.filename == ""
    link.set_csv("a\n1\n", "a.csv")
    link.disable("no evaluation for WTI")
    assert (link.csv_text, link.filename) == (None, None)
    assert link.widget.reason == "no evaluation for WTI" and link.widget.filename == ""
    assert link.answer({"type": "csv"}) is None


@pytest.mark.parametrize("message", [None, "csv", [], {}, {"type": "delete"}, {"kind": "csv"}])
def test_a_message_that_is_not_a_request_is_ignored(message, caplog):
    link = CsvDownloadLink()
    link.set_csv("a\n1\n", "a.csv")
    assert link.answer(message) is None
    assert "not a CSV request" in caplog.text


def test_a_link_needs_a_file_name():
    with pytest.raises(ValueError, match="file name"):
        CsvDownloadLink().set_csv("a\n1\n", "")
