"""What an exchange list asks for beyond run and step: filters, a body search and a sort.

An :class:`ExchangeFilter` is a plain frozen value (the dashboard keeps one in
its state and compares it); :meth:`~orchestra.capture.CaptureReader.exchange_page`
turns it into SQL whose every user value is a parameter, never text spliced
into the query. The sort names one of ``EXCHANGE_LIST_COLUMNS``, checked
before it reaches the ``ORDER BY``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "none")  # "none": no response at all
ERROR_KIND = "trim(split_part(error, ':', 1))"  # "ReadError: …" -> "ReadError"
_BODY_HAS_TEXT = (
    "(coalesce({side}_body_encoding, '') <> 'base64' "
    "AND contains(lower({side}_body), lower($text)))"
)


@dataclass(frozen=True)
class ExchangeFilter:
    """Narrows an exchange list; an empty field (``None``, ``""``) matches every exchange.

    ``url`` and ``text`` match a substring, ignoring case: ``url`` in the (masked)
    URL, ``text`` in the request or the response body (base64 bodies are not
    searched). ``sort`` is a list column, ``-column`` for descending.
    """

    status_class: str | None = None
    status_code: int | None = None
    error_kind: str | None = None
    url: str = ""
    item_index: int | None = None
    page: int | None = None
    attempt: int | None = None
    text: str = ""
    sort: str = "exchange_id"

    def __post_init__(self) -> None:
        if self.status_class not in (None, "", *STATUS_CLASSES):
            raise ValueError(
                f"status class must be one of {', '.join(STATUS_CLASSES)} "
                f"(got {self.status_class!r})"
            )

    def but(self, **changes: Any) -> ExchangeFilter:
        """A copy with ``changes`` (a filter is immutable, so a state sees each change)."""
        return replace(self, **changes)

    @property
    def sort_column(self) -> str:
        return self.sort.removeprefix("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    def conditions(self) -> tuple[list[str], dict[str, Any]]:
        """SQL conditions over ``exchanges`` and their named parameters."""
        where: list[str] = []
        params: dict[str, Any] = {}
        if self.status_class == "none":
            where.append("status_code IS NULL")
        elif self.status_class:
            where.append("status_code // 100 = $status_class")
            params["status_class"] = int(self.status_class[0])
        for name in ("status_code", "item_index", "page", "attempt"):
            value = getattr(self, name)
            if value is not None:
                where.append(f"{name} = ${name}")
                params[name] = int(value)
        if self.error_kind:
            where.append(f"{ERROR_KIND} = $error_kind")
            params["error_kind"] = self.error_kind
        if self.url:
            where.append("contains(lower(url), lower($url))")
            params["url"] = self.url
        if self.text:
            where.append(
                f"({_BODY_HAS_TEXT.format(side='request')} OR "
                f"{_BODY_HAS_TEXT.format(side='response')})"
            )
            params["text"] = self.text
        return where, params
