"""A real HTTP server on 127.0.0.1 answering like FRED and the EIA API v2 (and failing on cue)."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: One response: status, content type, body (bytes) and a delay before answering.
Reply = tuple[int, str, bytes, float]


class SourceServer:
    """Routes keyed by FRED series id (``fred:DCOILWTICO``) or EIA series (``eia:RWTC``).

    Each route holds either a full reply or observations ``[(date, value|None)]`` rendered in the
    real format of that service (FRED: CSV with ``.`` for missing; EIA: paged JSON).
    """

    def __init__(self) -> None:
        self.routes: dict[str, Any] = {}
        self.requests: list[str] = []
        self.page_size = 5000
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                server.requests.append(self.path)
                status, ctype, body, delay = server.reply(self.path)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler

    def reply(self, path: str) -> Reply:
        url = urllib.parse.urlsplit(path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/fred":
            key = f"fred:{query.get('id', [''])[0]}"
            route = self.routes.get(key)
            if route is None:
                return 404, "text/html", b"<html>Not Found</html>", 0
            if isinstance(route, tuple):
                return route
            start = query.get("cosd", [""])[0]
            sid = key.split(":")[1]
            lines = [f"observation_date,{sid}"] + [
                f"{d},{'.' if v is None else v}" for d, v in route if d >= start]
            return 200, "text/csv", ("\n".join(lines) + "\n").encode(), 0
        if url.path.startswith("/eia/") and url.path.endswith("/data/"):
            if query.get("api_key", [""])[0] != "test-key":
                body = {"error": {"code": "API_KEY_INVALID",
                                  "message": "An invalid api_key was supplied."}}
                return 403, "application/json", json.dumps(body).encode(), 0
            key = f"eia:{query.get('facets[series][]', [''])[0]}"
            route = self.routes.get(key)
            if route is None:
                return 404, "application/json", b'{"error": "route not found"}', 0
            if isinstance(route, tuple):
                return route
            start = query.get("start", [""])[0]
            rows = [(d, v) for d, v in route if d >= start]
            offset = int(query.get("offset", ["0"])[0])
            length = min(int(query.get("length", ["5000"])[0]), self.page_size)
            data = [{"period": d, "series": key.split(":")[1], "value": v, "units": "$/BBL"}
                    for d, v in rows[offset:offset + length]]
            body = {"response": {"total": str(len(rows)), "dateFormat": "YYYY-MM-DD",
                                 "frequency": "daily", "data": data}, "apiVersion": "2.1.8"}
            return 200, "application/json", json.dumps(body).encode(), 0
        return 404, "text/plain", b"no such route", 0


@contextmanager
def source_server() -> Iterator[SourceServer]:
    server = SourceServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
