"""A "Download CSV" link whose CSV travels only when it is clicked.

The link used to carry the whole CSV in its ``href`` (a ``data:`` URL), so every page sent it
with its first paint, downloaded or not: History's full price table made 226 KiB of its 431 KiB
of widget state, Backtest's equity and trades 520 KiB of 903 KiB. Now the widget's state holds
only the label and file name; a click asks the kernel for the CSV (one custom widget message)
and the browser saves the answer as a file. The page must still have its kernel (after an idle
release the page offers a reload; a click with no answer says so).

Usage::

    link = CsvDownloadLink("Download metrics CSV")
    link.set_csv("date,WTI\\n2025-01-02,73.1\\n", "wti.csv")   # the link becomes active
    link.disable("nothing to download yet")                  # greyed out, with the reason
"""

from __future__ import annotations

import logging
from typing import Any

import anywidget
import traitlets

__all__ = ["CsvDownload", "CsvDownloadLink"]

log = logging.getLogger(__name__)

#: The view: an ``a.enb-csv-link`` that asks the kernel for the CSV and saves the answer, or a
#: greyed-out ``span.enb-csv-disabled`` with the reason.
_ESM = """
const NO_ANSWER_MS = 15000;
function render({ model, el }) {
  const box = document.createElement("span");
  el.appendChild(box);
  let pending = null;
  const paint = () => {
    box.replaceChildren();
    const label = model.get("label"), filename = model.get("filename");
    if (!filename) {
      const off = document.createElement("span");
      off.className = "enb-csv-disabled";
      off.style.color = "#999";
      off.textContent = `${label} (${model.get("reason")})`;
      box.appendChild(off);
      return;
    }
    const link = document.createElement("a");
    link.className = "enb-csv-link";
    link.href = "#";
    link.setAttribute("role", "button");
    link.title = `Save ${filename}`;
    link.style.cssText = "padding:4px 10px;border:1px solid #888;border-radius:4px;" +
                         "text-decoration:none;cursor:pointer";
    link.textContent = label;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      link.setAttribute("aria-busy", "true");
      clearTimeout(pending);
      pending = setTimeout(() => {
        pending = null;
        link.removeAttribute("aria-busy");
        note.textContent = " no answer from the server: reload the page to download";
      }, NO_ANSWER_MS);
      model.send({ type: "csv" });
    });
    const note = document.createElement("span");
    note.className = "enb-csv-name";
    note.style.color = "#666";
    note.textContent = " " + filename;
    box.append(link, note);
  };
  const received = (msg) => {
    if (pending === null || !msg || msg.type !== "csv") return;
    clearTimeout(pending);
    pending = null;
    const link = box.querySelector(".enb-csv-link");
    if (link) link.removeAttribute("aria-busy");
    const url = URL.createObjectURL(new Blob([msg.text], { type: "text/csv;charset=utf-8" }));
    const save = document.createElement("a");
    save.href = url;
    save.download = msg.filename;
    save.style.display = "none";
    document.body.appendChild(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  };
  model.on("change:label change:filename change:reason", paint);
  model.on("msg:custom", received);
  paint();
  return () => {
    clearTimeout(pending);
    model.off("change:label change:filename change:reason", paint);
    model.off("msg:custom", received);
  };
}
export default { render };
"""


class CsvDownload(anywidget.AnyWidget):
    """The link's widget: its synced state is the label, the file name and the reason only.

    Traits (synced):
        label: the link's text.
        filename: the suggested file name; ``""`` when there is nothing to download.
        reason: why the link is disabled (shown beside the greyed-out label).
    """

    _esm = _ESM
    label = traitlets.Unicode("Download CSV").tag(sync=True)
    filename = traitlets.Unicode("").tag(sync=True)
    reason = traitlets.Unicode("").tag(sync=True)


class CsvDownloadLink:
    """A "Download CSV" link; the CSV stays in the kernel until the link is clicked.

    Args:
        label: the link's text.

    Attributes:
        widget: the :class:`CsvDownload` widget (class ``enb-download``).
        csv_text: what the link downloads (``None`` when disabled).
    """

    def __init__(self, label: str = "Download CSV") -> None:
        self.label = label
        self.widget = CsvDownload(label=label)
        self.widget.add_class("enb-download")
        self.widget.on_msg(self._answer)
        self.csv_text: str | None = None
        self.disable("nothing to download yet")

    @property
    def filename(self) -> str | None:
        """The suggested file name (``None`` when disabled)."""
        return self.widget.filename or None

    @property
    def reason(self) -> str:
        """Why the link is disabled (``""`` when active)."""
        return self.widget.reason

    def set_csv(self, csv_text: str, filename: str) -> None:
        """Point the link at new CSV content.

        Args:
            csv_text: the CSV.
            filename: the suggested file name (``.csv``).
        """
        if not filename:
            raise ValueError("a CSV download needs a file name")
        self.csv_text = csv_text
        with self.widget.hold_sync():
            self.widget.reason = ""
            self.widget.filename = filename

    def disable(self, reason: str) -> None:
        """Show the link greyed out with the reason, downloading nothing."""
        self.csv_text = None
        with self.widget.hold_sync():
            self.widget.filename = ""
            self.widget.reason = reason

    def answer(self, request: Any) -> dict[str, str] | None:
        """The message that answers a request from the link in the browser.

        Args:
            request: the custom message the browser sent (``{"type": "csv"}``).

        Returns:
            ``{"type": "csv", "filename", "text"}``; ``None`` for a request that is not one
            (logged and ignored) or while the link is disabled.
        """
        if not isinstance(request, dict) or request.get("type") != "csv":
            log.warning("CSV download: ignored a message that is not a CSV request: %.200r",
                        request)
            return None
        if self.csv_text is None:
            return None
        return {"type": "csv", "filename": self.filename, "text": self.csv_text}

    def _answer(self, widget: CsvDownload, content: Any, buffers: list | None) -> None:
        message = self.answer(content)
        if message is not None:
            widget.send(message)
