"""Deterministic data served by the demo API: items, contacts and fixed documents.

Every function here is pure: the same arguments always give the same value,
so tests can predict any response body without calling the server.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import orjson

CATEGORIES = ("alpha", "beta", "gamma")
TICKET_STATUSES = ("open", "pending", "solved")
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
COMPANIES = ("Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries")

_EPOCH_2024 = 1_704_067_200  # 2024-01-01T00:00:00Z
_HOURS_PER_CENTURY = 876_600
MAX_ITEM_ID = 2**53  # the largest integer every JSON client reads exactly


def item(i: int) -> dict[str, Any]:
    """Item ``i`` (any positive integer) as served by the list endpoints."""
    return {
        "id": i,
        "name": f"item-{i}",
        "category": CATEGORIES[i % 3],
        "price": round(i * 1.25, 2),
        "updated_at": updated_at(i),
    }


def updated_at(i: int) -> str:
    """ISO 8601 UTC time ``i`` hours after 2024-01-01 (wrapping after a century)."""
    seconds = _EPOCH_2024 + (i % _HOURS_PER_CENTURY) * 3600
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def parse_time(text: str) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime (naive means UTC); ValueError if bad."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def ticket(i: int) -> dict[str, Any]:
    """Ticket ``i`` as first created: ``updated_at`` is ``i`` hours after 2024-01-01."""
    return {
        "id": i,
        "subject": f"ticket-{i}",
        "status": TICKET_STATUSES[i % len(TICKET_STATUSES)],
        "updated_at": updated_at(i),
    }


def item_detail(i: int) -> dict[str, Any]:
    """Item ``i`` with the extra ``detail`` object of ``GET /items/{id}``."""
    return {
        **item(i),
        "detail": {
            "description": f"Item {i} description",
            "tags": [CATEGORIES[i % 3], f"group-{i % 10}", "even" if i % 2 == 0 else "odd"],
        },
    }


def items(start: int, stop: int) -> list[dict[str, Any]]:
    """Items with ids ``start`` up to but excluding ``stop`` (1-based ids)."""
    return [item(i) for i in range(start, stop)]


def contact(i: int) -> dict[str, Any]:
    """Contact ``c-<i>`` in the shape of ``GET /api/contacts``."""
    first = FIRST_NAMES[i % len(FIRST_NAMES)]
    last = LAST_NAMES[(i // len(FIRST_NAMES)) % len(LAST_NAMES)]
    return {
        "id": f"c-{i}",
        "first_name": first,
        "last_name": last,
        "email": f"{first.lower()}.{last.lower()}.{i}@example.com",
    }


def contact_details(i: int) -> dict[str, Any]:
    """Details of contact ``c-<i>`` in the shape of ``GET /api/contacts/{id}/details``."""
    return {
        "id": f"c-{i}",
        "phone": f"+1-555-{i % 10_000:04d}",
        "company": COMPANIES[i % len(COMPANIES)],
    }


def xml_document(count: int = 5) -> str:
    """A small XML catalogue of ``count`` items using attributes and nested elements."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<catalog total="{count}">']
    for i in range(1, count + 1):
        it = item_detail(i)
        lines.append(f'  <item id="{i}" category={quoteattr(it["category"])}>')
        lines.append(f"    <name>{escape(it['name'])}</name>")
        lines.append(f'    <price currency="EUR">{it["price"]}</price>')
        lines.append(f"    <updated_at>{it['updated_at']}</updated_at>")
        lines.append("    <tags>")
        lines.extend(f"      <tag>{escape(tag)}</tag>" for tag in it["detail"]["tags"])
        lines.append("    </tags>")
        lines.append("  </item>")
    lines.append("</catalog>")
    return "\n".join(lines) + "\n"


def csv_document(count: int = 10) -> str:
    """CSV with header ``id,name,category,price`` and ``count`` item rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "name", "category", "price"])
    for i in range(1, count + 1):
        it = item(i)
        writer.writerow([it["id"], it["name"], it["category"], it["price"]])
    return buffer.getvalue()


def text_document() -> str:
    """The plain-text body of ``GET /text``."""
    return "".join(f"line {i}: {item(i)['name']}\n" for i in range(1, 11))


def binary_document() -> bytes:
    """256 deterministic bytes: every byte value once, in a scrambled order."""
    return bytes((i * 167 + 13) % 256 for i in range(256))


def large_document(kb: int) -> bytes:
    """A JSON object of exactly ``kb * 1024`` bytes built from items and padding.

    Shape: ``{"kb": kb, "items": [...], "padding": "xxx..."}``.
    """
    target = kb * 1024
    overhead = len(orjson.dumps({"kb": kb, "items": [], "padding": ""}))
    used = overhead
    chosen: list[dict[str, Any]] = []
    i = 1
    while True:
        candidate = item(i)
        size = len(orjson.dumps(candidate)) + (1 if chosen else 0)  # comma separator
        if used + size > target:
            break
        chosen.append(candidate)
        used += size
        i += 1
    padding = "x" * max(0, target - used)
    return orjson.dumps({"kb": kb, "items": chosen, "padding": padding})
