"""The one curl writer: a request as a runnable ``curl`` command line.

Used by the capture's exports (a captured exchange, ``orchestra export
--format curl``) and by :func:`orchestra.plan.step_to_curl` (a plan step
before it runs), so both write commands the same way:

* ``-X METHOD`` (``--head`` for HEAD), the URL (with ``--globoff`` when it holds
  ``{}[]``, which curl would otherwise expand as a pattern), one ``-H`` per header, the body
  as ``--data-raw``, or through ``base64 -d`` for a body stored as base64;
* headers curl computes itself or that belong to one connection (``Host``,
  ``Content-Length``, hop-by-hop ones) are left out, and ``Accept-Encoding``
  becomes ``--compressed`` so curl asks for and decodes compressed bodies;
* ``${NAME}`` references (a secret read from the environment) stay in double
  quotes for the shell to expand; everything else is quoted literally.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

# Headers a replayed request must not carry: connection-level (hop-by-hop,
# RFC 9110 §7.6.1), computed by curl from the body (content-length) or from the
# URL (host — a stale Host breaks a command whose URL was edited).
SKIPPED_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
    }
)
SECRET_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""A secret read from the environment, as masked text shows it: ``${NAME}``."""


def _double_quoted(text: str) -> str:
    """``text`` in double quotes with ``${NAME}`` references left for the shell to expand.

    Everything else is literal: ``\\``, ``"``, ``$`` and backtick are escaped,
    and ``!`` is spliced in single quotes (an interactive bash would expand
    ``!`` inside double quotes as history).
    """

    def literal(part: str) -> str:
        for char in ("\\", '"', "$", "`"):
            part = part.replace(char, "\\" + char)
        return part.replace("!", "\"'!'\"")

    out, position = ['"'], 0
    for match in SECRET_REFERENCE.finditer(text):
        out.append(literal(text[position : match.start()]))
        out.append(match.group(0))
        position = match.end()
    out.append(literal(text[position:]))
    out.append('"')
    return "".join(out)


def shell_quote(text: str) -> str:
    """One shell word for ``text``: ``${NAME}`` references expand, nothing else does."""
    if SECRET_REFERENCE.search(text):
        return _double_quoted(text)
    return shlex.quote(text)


def curl_text(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: str | None = None,
    *,
    base64_body: bool = False,
    user: str | None = None,
) -> str:
    """The ``curl`` command for one request, one option per line (``\\`` continued).

    ``body`` is the request body as text; with ``base64_body`` it is base64 that
    the command decodes (``printf … | base64 -d | curl --data-binary @-``);
    ``user`` (``name:password``) is sent as HTTP Basic with ``-u``.
    """
    method = (method or "GET").upper()
    verb = "--head" if method == "HEAD" else f"-X {method}"
    args = [f"curl {verb} {shell_quote(url)}"]
    if any(char in SECRET_REFERENCE.sub("", url) for char in "{}[]"):
        args.append("--globoff")  # curl would read them as a URL pattern ({a,b}, [1-9])
    if user is not None:
        args.append(f"-u {shell_quote(user)}")
    compressed = False
    for name, value in headers.items():
        lower = name.lower()
        if lower in SKIPPED_HEADERS:
            continue
        if lower == "accept-encoding":
            compressed = True  # let curl ask for (and decode) compressed bodies itself
            continue
        header = f"{name}: {value}" if value else f"{name};"  # "name;" sends an empty header
        args.append(f"-H {shell_quote(header)}")
    if compressed:
        args.append("--compressed")
    prefix = ""
    if body is not None:
        if base64_body:
            prefix = f"printf %s {shlex.quote(body)} | base64 -d | "
            args.append("--data-binary @-")
        else:
            args.append(f"--data-raw {shell_quote(body)}")
    return prefix + " \\\n  ".join(args)
