"""``%flow sql [--out VAR] QUERY``: any SQL over the capture, as a pandas DataFrame.

The rest of the line is the query as written: ``$name`` outside quotes is a
DuckDB named parameter, bound to the variable ``name`` as Python sees it at
the line: a local of the function running ``%flow sql``, else the notebook's.
"""

from __future__ import annotations

import re
from typing import Any

from IPython.core.error import UsageError

from orchestra.notebook._errors import FlowError
from orchestra.notebook._secrets import masked
from orchestra.notebook.commands._command import Command
from orchestra.notebook.commands._context import CommandContext

_SQL_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_SQL_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def sql(ctx: CommandContext, rest: str) -> Any:
    words = rest.split()
    out = None
    if len(words) >= 2 and words[0] == "--out":
        out = words[1]
        rest = rest.split(None, 2)[2] if len(words) > 2 else ""
    elif words and words[0].startswith("--"):
        raise UsageError(
            f"sql: unknown option {words[0]!r}; did you mean '--out'? (see %flow help sql)"
        )
    if not rest.strip():
        raise UsageError("sql: give a query, e.g. %flow sql SELECT * FROM runs")
    try:
        frame = ctx.store().sql(rest, parameters(ctx, rest) or None)
    except FileNotFoundError as error:
        raise FlowError(str(error)) from None
    except Exception as error:  # duckdb's errors say what is wrong with the query
        if type(error).__module__.startswith("duckdb") or "duckdb" in repr(type(error)):
            raise FlowError(f"{type(error).__name__}: {error}") from None
        raise
    frame = masked(frame, ctx.flow.masker)
    ctx.bind(out, frame)
    return frame


def parameters(ctx: CommandContext, query: str) -> dict[str, Any]:
    """DuckDB's named parameters (``$name`` outside quotes) taken from the notebook."""
    names = _SQL_PARAMETER.findall(_SQL_QUOTED.sub("''", query))
    values: dict[str, Any] = {}
    for name in dict.fromkeys(names):
        try:
            value = ctx.variable(name)
        except KeyError:
            raise UsageError(f"sql: ${name} is not a variable of the notebook") from None
        values[name] = value if isinstance(value, int | float | str | bool) else str(value)
    return values


SQL = Command(
    "sql",
    sql,
    usage="sql [--out VAR] QUERY",
    what="Any SQL over the capture, returned as a pandas DataFrame. Tables: runs, plans, "
    "steps, exchanges, records, errors (see the README). The rest of the line is the "
    "query; $name (DuckDB's named parameter) takes the notebook variable name.",
    example="%flow sql SELECT status_code, count(*) AS n FROM exchanges WHERE run_id = $run_id "
    "GROUP BY 1",
    raw=True,
)
