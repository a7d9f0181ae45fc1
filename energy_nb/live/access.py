"""Who may use the live server's port: the API key and Origin rules, shared by the WebSocket
handshake and the HTTP API so both apply exactly the same ones. Pure functions.

Usage::

    >>> api_key_refusal("s3cret", ["s3cret"], [])
    >>> api_key_refusal("s3cret", [], [])[0]
    401
    >>> origin_allowed([None], None), origin_allowed([None], "https://evil.example")
    (True, False)
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

#: Text of the 401 refusal (also sent before a WebSocket upgrade).
WRONG_KEY = "missing or wrong API key (api_key query or X-API-Key)"
#: Text of the 400 refusal when the key is sent more than once.
KEY_TWICE = "send the API key once (one X-API-Key header)"


def api_key_refusal(expected: str | None, headers: Sequence[str],
                    queries: Sequence[str]) -> tuple[int, str] | None:
    """Why a request lacks a valid API key, or None when it may pass.

    Args:
        expected: the server's key (None or empty: no key needed).
        headers: every ``X-API-Key`` header value of the request.
        queries: every ``api_key`` query value.

    Returns:
        ``(HTTP status, text)`` or None.
    """
    if not expected:
        return None
    if len(headers) > 1 or len(queries) > 1:
        return HTTPStatus.BAD_REQUEST.value, KEY_TWICE
    given = (list(headers) or list(queries) or [""])[0]
    if hmac.compare_digest(given.encode(), expected.encode()):
        return None
    return HTTPStatus.UNAUTHORIZED.value, WRONG_KEY


def origin_allowed(origins: Sequence[Any] | None, origin: str | None) -> bool:
    """Whether a request's ``Origin`` passes the allowlist, as websockets checks it.

    Args:
        origins: ``LiveConfig.origins()``: None (any), or entries that are None (no Origin
            header), exact strings or compiled patterns (full match).
        origin: the request's Origin header, or None.

    Returns:
        True when allowed.
    """
    if origins is None:
        return True
    for entry in origins:
        if entry is None:
            if origin is None:
                return True
        elif origin is not None and (
                entry == origin or (isinstance(entry, re.Pattern) and entry.fullmatch(origin))):
            return True
    return False
