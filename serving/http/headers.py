"""Status lines, the ``Date`` header, and the check of every header we send.

A header name is an RFC 9110 token; a value holds no CR, LF or NUL. A header that breaks
either rule would let a value smuggle a second header (or a second response) onto the wire,
so it is refused before anything is written: by the server as a fault of the app (500), by
the client as the caller's mistake (:class:`InvalidHeader`).
"""

from __future__ import annotations

import re
import time
from email.utils import formatdate
from http import HTTPStatus

_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
                        "proxy-connection"})
NO_BODY_STATUS = frozenset({204, 304})

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BAD_VALUE = re.compile(r"[\r\n\x00]")
_checked_names: set[str] = set()  # names repeat request after request: check each once


class InvalidHeader(ValueError):
    """A header name or value that cannot be sent."""


def status_line(code: int) -> str:
    """``"424 Failed Dependency"``: the WSGI status for a code."""
    return _STATUS_LINES.get(code) or f"{code} Unknown"


def check_header(name: str, value: str) -> None:
    """Raise :class:`InvalidHeader` for a name that is not a token or a value with CR, LF or NUL."""
    if name not in _checked_names:
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise InvalidHeader(f"header name {name!r} is not a valid HTTP token")
        if len(_checked_names) < 4096:
            _checked_names.add(name)
    if not isinstance(value, str) or _BAD_VALUE.search(value):
        raise InvalidHeader(f"header {name} has a value that is not text on one line: {value!r:.200}")


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """The ``Date`` header value, formatted once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]
