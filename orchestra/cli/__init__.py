"""The ``orchestra`` command line: ``run``, ``runs``, ``export``, ``validate``, ``schema``,
``demo-api``.

``main`` is the click group behind the ``orchestra`` console script and
``python -m orchestra``.
"""

from orchestra.cli._app import main

__all__ = ["main"]
