"""Persistent context in the capture file (seed 002 ``{context.*}`` fields).

Implements the engine's :class:`~orchestra.engine.ContextStore` protocol on the
``contexts`` table: one row per plan key and config fingerprint, replaced after
each successful run, with the id of the run that saved it (``run_id``: set
by :func:`orchestra._run.build_runner`, which makes one store per run).
Values are masked before they are written, like everything else in the file:
a context field that holds a secret is stored as its mask (and a warning says
so), never as the secret. Values are JSON by the rule of :mod:`orchestra._json`
(an integer beyond 64 bits is stored, and so loaded again, as a string).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from orchestra._json import json_text
from orchestra.capture._connection import Database
from orchestra.masking import Masker

logger = logging.getLogger("orchestra.capture")


class CaptureContextStore:
    """Persistent context kept in a capture file's ``contexts`` table."""

    def __init__(self, database: Database, masker: Masker | None = None, run_id: str | None = None):
        self.database = database
        self.masker = masker or Masker()
        self.run_id = run_id  # the run whose save() writes the row (contexts.run_id)

    def load(self, plan_key: str, config_fingerprint: str) -> dict[str, Any]:
        if not self.database.exists:
            return {}
        try:
            with self.database.connect() as connection:
                row = connection.execute(
                    "SELECT context_values FROM contexts WHERE plan_key = ? "
                    "AND config_fingerprint = ?",
                    [plan_key, config_fingerprint],
                ).fetchone()
        except FileNotFoundError:
            return {}
        return {} if row is None else orjson.loads(row[0])

    def save(self, plan_key: str, config_fingerprint: str, values: dict[str, Any]) -> None:
        masked = self.masker.value(values)
        for key in values:
            if masked.get(key) != values[key]:
                logger.warning(
                    "persistent context field %r holds a secret; it is stored masked", key
                )
        with self.database.connect(write=True) as connection:
            connection.execute(
                "INSERT OR REPLACE INTO contexts VALUES (?, ?, ?, make_timestamp(?), ?)",
                [plan_key, config_fingerprint, self.run_id, int(time.time() * 1e6),
                 json_text(masked)],
            )  # fmt: skip
