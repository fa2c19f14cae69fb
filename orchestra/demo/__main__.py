"""``python -m orchestra.demo``: serve the demo API in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence

from orchestra.demo._server import serve_forever
from orchestra.demo._state import DemoSettings

_DEFAULTS = DemoSettings()
_TYPES = {"int": int, "float": float, "str": str}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options; every :class:`DemoSettings` field has a flag."""
    parser = argparse.ArgumentParser(
        prog="python -m orchestra.demo", description="Serve the Orchestra demo API."
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=8765, help="port, 0 for any free one (default: 8765)"
    )
    for field in dataclasses.fields(DemoSettings):
        default = getattr(_DEFAULTS, field.name)
        parser.add_argument(
            f"--{field.name.replace('_', '-')}",
            dest=field.name,
            type=_TYPES[str(field.type)],
            default=default,
            help=f"default: {default}",
        )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until SIGINT/SIGTERM; returns the exit status."""
    args = vars(parse_args(argv))
    host, port = args.pop("host"), args.pop("port")
    try:
        serve_forever(host, port, **args)
    except OSError as exc:
        print(f"Cannot serve the demo API on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
