"""Keeping secrets out of other libraries' logs.

httpx logs every request (``HTTP Request: GET <url> "HTTP/1.1 200 OK"``) at
INFO on the ``httpx`` logger, with the URL unmasked — an API key in a query
parameter would reach any INFO handler (``logging.basicConfig`` in a notebook,
a CI log). While runs are active, a filter on that logger passes every record
through the maskers of the active runs.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Callable

from orchestra.masking import Masker

_WATCHED_LOGGERS = ("httpx", "httpcore", "httpx_aiohttp")
_URL = re.compile(r"https?://[^\s\"'<>]+")


class _MaskingFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.maskers: weakref.WeakSet[Masker] = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        maskers = list(self.maskers)
        if not maskers:
            return True
        message = record.getMessage()
        masked = message
        for masker in maskers:
            masked = _URL.sub(_url_masked_by(masker), masked)
            masked = masker.text(masked)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


_filter = _MaskingFilter()
_installed = False
_lock = threading.Lock()


def mask_library_logs(masker: Masker) -> None:
    """Mask ``masker``'s secrets in httpx's log records (for as long as it lives)."""
    global _installed
    with _lock:
        if not _installed:
            for name in _WATCHED_LOGGERS:
                logging.getLogger(name).addFilter(_filter)
            _installed = True
        _filter.maskers.add(masker)


def _url_masked_by(masker: Masker) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` replacement masking each URL found with ``masker``."""
    return lambda match: masker.url(match.group(0))
