"""What a notebook knows to be secret, and the masker every value it shows goes through.

A run's masker knows the secrets of that run only, but a notebook shows
values between runs (``%flow eval``, ``%flow show``, results bound to
variables, error messages) and hands one run's results to the next through
``steps.<name>``. So the flow keeps one :class:`KnownSecrets` that learns

* ``%flow secret`` values (shown as ``${NAME}``);
* the values of the ``{env: NAME}`` references in the flow's settings and
  steps, resolved from the kernel's environment as soon as the flow names
  them (before anything runs);
* whatever each run's masker learnt (fetched tokens, a step's ``secrets``);

and :meth:`KnownSecrets.arm` gives all of it to every new run's masker before
the run starts, so a later run's capture and output also mask a token an
earlier cell obtained.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd

from orchestra.engine import is_secret_ref
from orchestra.masking import MASK, Masker, env_reference


def env_references(value: Any) -> Iterator[str]:
    """The NAMEs of every ``{"env": NAME}`` reference inside a plan fragment."""
    if is_secret_ref(value):
        yield value["env"]
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from env_references(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from env_references(item)


class KnownSecrets:
    """The notebook's secret values (with how each is shown) and their :class:`Masker`."""

    def __init__(self) -> None:
        self.masker = Masker()
        self._values: dict[str, str | None] = {}  # value -> reference (None: shown as ***)

    def __len__(self) -> int:
        return len(self._values)

    def add(self, value: Any, reference: str | None = None) -> None:
        """Remember a secret value; a reference (``${NAME}``), once given, is kept."""
        text = str(value)
        if text in self._values and (reference is None or self._values[text] == reference):
            return
        self._values[text] = reference
        self.masker.add(text, reference)

    def learn_references(self, fragments: Any, environ: Mapping[str, str]) -> None:
        """Register the values of the ``{env: NAME}`` references found in ``fragments``."""
        for name in env_references(fragments):
            if name in environ:
                self.add(environ[name], env_reference(name))

    def learn(self, masker: Masker) -> None:
        """Take over what a run's masker learnt (each form it masks, with its replacement)."""
        for form in sorted(masker.secrets, key=len):  # raw values first: fewer new forms
            replacement = masker.text(form)
            if self.masker.text(form) == replacement:
                continue  # already masked the same way
            self.add(form, None if replacement == MASK else replacement)

    def arm(self, masker: Masker) -> None:
        """Give every known secret to a run's masker before the run starts."""
        for value, reference in self._values.items():
            masker.add(value, reference)


def masked(value: Any, masker: Masker) -> Any:
    """A value about to be shown or bound to a variable, with every known secret masked.

    Text (``ExportedText`` keeps its type), JSON-like values and DataFrames
    (their text and JSON cells) are masked; other objects mask themselves.
    """
    if isinstance(value, str):
        shown = masker.text(value)
        return value if shown == value else type(value)(shown)
    if isinstance(value, Mapping | list | tuple):
        return masker.value(value)
    if isinstance(value, pd.DataFrame):
        frame = value.copy()
        for column in frame.select_dtypes(include=["object", "string"]).columns:
            frame[column] = frame[column].map(lambda cell: _cell(cell, masker), na_action="ignore")
        return frame
    return value


def _cell(cell: Any, masker: Masker) -> Any:
    if isinstance(cell, str | Mapping | list):
        return masker.value(cell)
    return cell
