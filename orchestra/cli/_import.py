"""``orchestra import curl|har``: a copied request, or a HAR file, printed as a plan.

The plan (YAML, or JSON with ``--format json``) goes to stdout or
``--output``, so it can be saved and run with ``orchestra run``. Secrets met in
the request are never printed: the plan reads them as ``{env: NAME}`` and
stderr lists the NAMEs to set (with ``export NAME=…`` lines to fill in), and
what was left out of the request (browser-only headers …).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from orchestra.errors import RequestImportError
from orchestra.plan import ImportedPlan, combined_plan, step_from_curl, steps_from_har

_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
EXIT_INVALID = 2


class ImportFailed(click.ClickException):
    """The input cannot be imported: ``Error: …`` on stderr and exit code 2."""

    exit_code = EXIT_INVALID


_FORMAT = click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(("yaml", "json")),
    default="yaml",
    show_default=True,
    help="How the plan is printed.",
)
_KEY = click.option("--key", default="imported", show_default=True, help="The plan's key.")
_OUTPUT = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the plan to this file instead of stdout.",
)


@click.group("import", context_settings=_SETTINGS)
def import_command() -> None:
    """Turn a copied curl command or a HAR file into a plan.

    \b
    Examples:
      orchestra import curl "curl 'https://api.example.com/users' -H 'Authorization: Bearer …'"
      pbpaste | orchestra import curl - --output users.yaml
      orchestra import har session.har --entry 3
    """


@import_command.command("curl", context_settings=_SETTINGS)
@click.argument("command", metavar="COMMAND")
@click.option("--name", help="Name of the step (default: the step is unnamed).")
@_KEY
@_FORMAT
@_OUTPUT
def import_curl(command: str, name: str | None, key: str, fmt: str, output: Path | None) -> None:
    """Print the plan whose one step makes COMMAND's request ('-': read it from stdin).

    COMMAND is a curl command as a browser copies it (Copy as cURL (bash)),
    in one argument (quote it) or on stdin. Secrets (Authorization, cookies,
    API keys, password fields) become {env: NAME} references: stderr names
    the variables to set before `orchestra run`.
    """
    text = sys.stdin.read() if command == "-" else command
    try:
        imported = step_from_curl(text, name=name)
    except RequestImportError as error:
        raise ImportFailed(str(error)) from None
    _emit(ImportedPlan(imported.plan(key), imported.secrets, imported.notes), fmt, output)


@import_command.command("har", context_settings=_SETTINGS)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--entry",
    type=int,
    metavar="N",
    help="Import only entry N (from 0; negative counts from the end). Without it every "
    "API call (a browser's xhr/fetch entries, else every entry) becomes a step.",
)
@_KEY
@_FORMAT
@_OUTPUT
def import_har(file: Path, entry: int | None, key: str, fmt: str, output: Path | None) -> None:
    """Print the plan whose steps make the requests of the HAR FILE."""
    try:
        imports = steps_from_har(file.read_bytes(), entry=entry)
    except RequestImportError as error:
        raise ImportFailed(f"{file}: {error}") from None
    _emit(combined_plan(imports, key=key), fmt, output)


def plan_text(plan: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(plan, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(plan, sort_keys=False, allow_unicode=True, width=100)


def _emit(imported: ImportedPlan, fmt: str, output: Path | None) -> None:
    text = plan_text(imported.plan, fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as error:
            raise ImportFailed(f"--output {str(output)!r}: cannot write it: {error}") from None
        click.echo(f"wrote {output}", err=True)
    for note in imported.notes:
        click.echo(f"note: {note}", err=True)
    if imported.secrets:
        names = ", ".join(sorted(imported.secrets))
        click.echo(
            f"secrets: the plan reads {names} from the environment; set "
            f"{'it' if len(imported.secrets) == 1 else 'them'} before running it:",
            err=True,
        )
        for secret in sorted(imported.secrets):
            click.echo(f"  export {secret}=…", err=True)
