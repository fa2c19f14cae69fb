"""The ``%flow`` line commands (``%flow help`` lists them; ``_help.py`` documents them).

:class:`LineCommands` is a mixin of :class:`~orchestra.notebook._magic.FlowMagic`:
``line_command`` splits the line, finds the command (or names the closest
one) and calls ``cmd_<name>`` with the rest of the words. Each command
returns its result, so Jupyter shows it and binds it to ``_``.
"""

from __future__ import annotations

import getpass
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import StdinNotImplementedError, UsageError

from orchestra.capture import CaptureStore, RunNotFound
from orchestra.errors import PlanError
from orchestra.notebook import _export
from orchestra.notebook._args import Parser, assignments, command_name, expand, split
from orchestra.notebook._errors import FlowError
from orchestra.notebook._help import COMMANDS, command_help, line_help
from orchestra.notebook._secrets import masked
from orchestra.notebook._views import FlowGraph, FlowView
from orchestra.plan import decode_plan, load_plan, parse_text

if TYPE_CHECKING:
    from orchestra.notebook._magic import FlowMagic

RUN_COLUMNS = [
    "run_id", "plan_key", "mode", "status", "started_at", "duration_ms", "requests",
    "errors", "records", "error",
]  # fmt: skip
MIN_SECRET_LENGTH = 4
_SQL_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_SQL_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def _parser(command: str, *options: tuple[tuple[str, ...], dict[str, Any]]) -> Parser:
    parser = Parser(command)
    for flags, kwargs in options:
        parser.add_argument(*flags, **kwargs)
    return parser


class LineCommands:
    """``%flow COMMAND …`` handlers, mixed into ``FlowMagic``."""

    def line_command(self: FlowMagic, line: str) -> Any:
        text = line.strip()
        if not text:
            return _export.ExportedText(line_help())
        word, _, rest = text.partition(" ")
        name = command_name(word, list(COMMANDS))
        if name == "sql":
            return self.cmd_sql(rest)
        if name == "eval":
            return self.cmd_eval(rest)
        words = expand(split(rest), self.evaluate)  # sql binds $name, eval is JMESPath
        return getattr(self, f"cmd_{name.replace('-', '_')}")(words)

    def store(self: FlowMagic) -> CaptureStore:
        db = self.database()
        if db is None:
            raise FlowError("capture is off (%config FlowMagic.capture = True turns it on)")
        return CaptureStore(db)

    # -- running ------------------------------------------------------------------------

    def cmd_run(self: FlowMagic, words: list[str]) -> Any:
        args = _parser(
            "run",
            (("file",), {"nargs": "?"}),
            (("--config", "-c"), {"action": "append", "default": []}),
            (("--replay",), {}),
            (("--out",), {}),
            (("--quiet",), {"action": "store_true"}),
        ).parse(words)
        overrides = assignments(args.config)
        if args.file is None:
            if overrides or args.replay:
                raise UsageError("run: --config and --replay go with a FILE (use %flow config)")
            return self.run_flow(out=args.out, quiet=args.quiet)
        file = Path(args.file)
        try:
            compiled = load_plan(file)
        except PlanError as error:
            raise FlowError(str(error)) from None
        source = decode_plan(file.read_bytes(), source=str(file))
        _, view = self.run_plan(
            compiled,
            title=f"plan {file.name}",
            sources={node.name: source for node in compiled.steps},
            config=overrides,
            replay=args.replay,
        )
        return self.finish(view, out=args.out, quiet=args.quiet)

    def cmd_load(self: FlowMagic, words: list[str]) -> FlowView:
        args = _parser("load", (("file",), {})).parse(words)
        file = Path(args.file)
        try:
            load_plan(file)  # validate before the current flow is replaced
        except PlanError as error:
            raise FlowError(str(error)) from None
        source = decode_plan(file.read_bytes(), source=str(file))
        self.current.replace_all(parse_text(source, source=str(file)), source=source)
        return FlowView.of(self.current)

    # -- looking at the flow ------------------------------------------------------------

    def cmd_show(self: FlowMagic, words: list[str]) -> FlowView:
        args = _parser("show", (("--format",), {"choices": ["yaml", "json"], "default": "yaml"}))
        return FlowView.of(self.current, args.parse(words).format)

    def cmd_graph(self: FlowMagic, words: list[str]) -> FlowGraph:
        _parser("graph").parse(words)
        return FlowGraph(self.current)

    def cmd_export(self: FlowMagic, words: list[str]) -> Any:
        args = _parser(
            "export",
            (("file",), {"nargs": "?"}),
            (("--format", "-f"), {"default": None}),
            (("--run",), {}),
            (("--out",), {}),
        ).parse(words)
        fmt = args.format or _format_from_name(args.file)
        if fmt not in _export.FORMATS:
            raise _unknown_format(fmt)
        try:
            if fmt == "plan":
                if args.run:
                    content: Any = self.store().plan(args.run)
                else:
                    content = _export.plan_of(self.current)
            else:
                store = self.store()
                runs = _export.flow_runs(self.current, store, args.run)
                if fmt == "har":
                    content = _export.har_of(store, runs)
                else:
                    content = _export.ExportedText(_export.curl_of(store, runs))
        except (RunNotFound, FileNotFoundError, PlanError) as error:
            raise FlowError(str(error)) from None
        content = masked(content, self.current.masker)
        self.bind(args.out, content)
        if args.file is None:
            return content
        target = Path(args.file)
        _export.write(content, target, fmt)
        return _export.ExportedText(f"exported {fmt} to {target}")

    def cmd_sql(self: FlowMagic, rest: str) -> Any:
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
            frame = self.store().sql(rest, self.sql_parameters(rest) or None)
        except FileNotFoundError as error:
            raise FlowError(str(error)) from None
        except Exception as error:  # duckdb's errors say what is wrong with the query
            if type(error).__module__.startswith("duckdb") or "duckdb" in repr(type(error)):
                raise FlowError(f"{type(error).__name__}: {error}") from None
            raise
        frame = masked(frame, self.current.masker)
        self.bind(out, frame)
        return frame

    def sql_parameters(self: FlowMagic, query: str) -> dict[str, Any]:
        """DuckDB's named parameters (``$name`` outside quotes) taken from the notebook."""
        names = _SQL_PARAMETER.findall(_SQL_QUOTED.sub("''", query))
        values: dict[str, Any] = {}
        for name in dict.fromkeys(names):
            if name not in self.shell.user_ns:
                raise UsageError(f"sql: ${name} is not a variable of the notebook")
            value = self.shell.user_ns[name]
            values[name] = value if isinstance(value, int | float | str | bool) else str(value)
        return values

    def cmd_runs(self: FlowMagic, words: list[str]) -> Any:
        args = _parser(
            "runs",
            (("--limit", "-n"), {"type": int, "default": 20}),
            (("--all",), {"action": "store_true"}),
        ).parse(words)
        try:
            frame = self.store().runs(
                plan_key=None if args.all else self.current.key, limit=args.limit
            )
        except FileNotFoundError as error:
            raise FlowError(str(error)) from None
        return masked(frame[[c for c in RUN_COLUMNS if c in frame.columns]], self.current.masker)

    # -- settings -----------------------------------------------------------------------

    def cmd_config(self: FlowMagic, words: list[str]) -> Any:
        args = _parser(
            "config", (("pairs",), {"nargs": "*"}), (("--unset",), {"action": "append"})
        ).parse(words)
        config = self.current.config
        for key in args.unset or []:
            target = config
            *parents, last = key.split(".")
            for part in parents:
                target = target.get(part, {})
            if last not in target:
                raise UsageError(f"config: {key!r} is not set")
            del target[last]
        _merge(config, assignments(args.pairs))
        return _ConfigView(masked(config, self.current.masker))

    def cmd_secret(self: FlowMagic, words: list[str]) -> Any:
        args = _parser("secret", (("name",), {}), (("--config",), {"dest": "key"})).parse(words)
        name = args.name
        if not name.isidentifier():
            raise UsageError(f"secret: {name!r} is not a valid name (letters, digits, '_')")
        try:
            value = getpass.getpass(f"{name}: ")
        except StdinNotImplementedError:
            raise FlowError(
                f"secret: this frontend cannot prompt; set the environment variable {name} "
                f"before starting the kernel and use {{env: {name}}}"
            ) from None
        if len(value) < MIN_SECRET_LENGTH:
            raise FlowError(
                f"secret: the value is shorter than {MIN_SECRET_LENGTH} characters; it could "
                "not be masked safely, so it was not kept"
            )
        self.current.keep_secret(name, value)
        self.current.config[args.key or name] = {"env": name}
        return _export.ExportedText(
            f"secret {name} kept in memory; runs read it as {{env: {name}}} and "
            f"{{config.{args.key or name}}}"
        )

    def cmd_reset(self: FlowMagic, words: list[str]) -> Any:
        args = _parser("reset", (("--secrets",), {"action": "store_true"})).parse(words)
        self.end_debug_session()
        self.breakpoints.clear()
        self.current.reset(secrets=args.secrets)
        kept = "" if args.secrets or not self.current.secrets else " (secrets kept)"
        return _export.ExportedText(f"the flow is empty{kept}")

    def cmd_help(self: FlowMagic, words: list[str]) -> Any:
        args = _parser("help", (("command",), {"nargs": "?"})).parse(words)
        if args.command is None:
            from orchestra.notebook._help import DOC

            return _export.ExportedText(DOC)
        return _export.ExportedText(command_help(command_name(args.command, list(COMMANDS))))


class _ConfigView(dict):
    """A masked copy of the flow's config; secrets appear as their ``{"env": NAME}``
    references (and a value known to be secret as ``${NAME}`` or ``***``)."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        import json

        printer.text("config: " + json.dumps(dict(self), indent=2, default=str))


def _merge(target: dict[str, Any], updates: dict[str, Any]) -> None:
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict) and value:
            _merge(target[key], value)
        else:
            target[key] = value


def _format_from_name(file: str | None) -> str:
    if file and file.lower().endswith(".har"):
        return "har"
    if file and file.lower().endswith((".sh", ".curl")):
        return "curl"
    return "plan"


def _unknown_format(fmt: str) -> UsageError:
    from orchestra.notebook._errors import unknown

    return unknown("format", fmt, _export.FORMATS, "%flow export --format")
