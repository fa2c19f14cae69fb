"""No secret is stored, printed or exported in any form a server echoes it back in.

A real server on 127.0.0.1 (``tests/echo_server.py``) echoes every value it
receives in each form of ``FORMS`` — percent-encoded by different encoders,
form-encoded, JSON-escaped once or twice, ASCII or UTF-8 — plus the raw request
target. Plans send a secret read from the environment (config ``{env: NAME}``)
in a query parameter, a header, a JSON body and as the password of Basic auth,
and keep what comes back in ``response_body``, ``records`` and the persistent
``contexts``. Then every form of the secret (and of the Basic credentials'
base64) is searched for in every text column of every capture table (read with
SQL: DuckDB compresses strings), and, for a few hard secrets run through the
CLI, in its stdout and stderr, the JUnit and records files and every export.

Controls show the searches can see: the same plan with the secret as a plain
config value stores it, and the server did echo it in every form.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import orchestra
from orchestra.cli import main
from tests.echo_server import FORMS, EchoServer, basic_credentials, echo_server, encoded_forms

SECRET_ENV = "ORCH_LEAK_SECRET"
USER = "leak-user"
HARD_SECRETS = ["Zq8+r/T1==", 'a"b\\c', "p&ss w?rd#1", "ünï/cødé+"]


@pytest.fixture(scope="module")
def server() -> Any:
    with echo_server() as running:
        yield running


def leak_plan(
    base_url: str, *, secret: bool = True, header: bool = True, failing: bool = False
) -> dict[str, Any]:
    """Every way to send the secret, echoed back in every form; ``secret=False``: control.

    ``header=False`` leaves out the ``X-Secret`` header (HTTP header values are
    ASCII: the engine refuses a non-ASCII one). ``failing`` adds a step that fails
    (its error message, error row and JUnit failure show the URL); the context is
    saved only when the run succeeds, so without it.
    """
    sent: dict[str, Any] = {
        "method": "POST",
        "params": {"q": "{config.secret}", "note": "x-{config.secret}-y"},
        "headers": {"X-Secret": "{config.secret}"} if header else {},
        "body": {"secret": "{config.secret}", "nested": {"text": "<{config.secret}>"}},
    }
    steps: list[dict[str, Any]] = [
        {"name": f"echo_{index}", "url": f"{{config.base_url}}/echo/{form}", **sent}
        for index, form in enumerate(FORMS)
    ]
    steps.append({
        "name": "target",
        "url": "{config.base_url}/target",
        **sent,
        "context_updates": {"echoed": "response.body"},
    })  # fmt: skip
    steps += [{
        "name": "fails",
        "url": "{config.base_url}/echo/percent-slash-kept",
        **sent,
        "expect": {"status": [201]},
        "on_error": "continue",
    }] if failing else []  # fmt: skip
    return {
        "key": "masking-leaks" if secret else "masking-leaks-control",
        "config": {"base_url": base_url, "user": USER,
                   "secret": {"env": SECRET_ENV} if secret else None},
        "auth": {"type": "basic", "username": "{config.user}", "password": "{config.secret}"},
        "persistent_context": ["echoed"],
        "steps": steps,
    }  # fmt: skip


def forms_to_find(secret: str) -> set[str]:
    """Every form of the secret and of the Basic credentials made with it."""
    basic = base64.b64encode(f"{USER}:{secret}".encode()).decode()
    return encoded_forms(secret) | encoded_forms(basic)


def stored_texts(db: Path) -> dict[str, list[str]]:
    """Every text value of every capture table, read through SQL: ``{table.column: values}``."""
    found: dict[str, list[str]] = {}
    with duckdb.connect(str(db), read_only=True) as connection:
        tables = [
            row[0]
            for row in connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        ]
        for table in tables:
            cursor = connection.execute(f'SELECT * FROM "{table}"')
            names = [column[0] for column in cursor.description]
            for row in cursor.fetchall():
                for name, value in zip(names, row, strict=True):
                    if isinstance(value, str):
                        found.setdefault(f"{table}.{name}", []).append(value)
    return found


def leaks(secret: str, haystacks: dict[str, str]) -> list[str]:
    """Where any form of ``secret`` appears: ``["where: form", …]``."""
    forms = forms_to_find(secret)
    return [
        f"{where}: {form!r}" for where, text in haystacks.items() for form in forms if form in text
    ]


def _flatten(stored: dict[str, list[str]]) -> dict[str, str]:
    return {column: "\n".join(values) for column, values in stored.items()}


def _run_in_process(server: EchoServer, secret: str, db: Path) -> orchestra.RunResult:
    plan = leak_plan(server.url, header=secret.isascii())
    return orchestra.run(plan, db=str(db), environ={SECRET_ENV: secret})


# -- hypothesis: random secrets, in-process runs ------------------------------------

_ALPHABET = st.sampled_from(
    [chr(code) for code in range(0x20, 0x7F)] + list('+/=%"\\&?#  ') + list("üéøß€ħ日本😀")
)
# A marker no innocent text contains keeps the search free of false alarms (a
# drawn secret "0000" would be found in any id), whatever is drawn around it.
_SECRETS = st.builds(
    lambda head, tail: f"{head}§Q{tail}",
    st.text(_ALPHABET, min_size=1, max_size=12),
    st.text(_ALPHABET, min_size=1, max_size=12),
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(secret=_SECRETS)
def test_no_form_of_a_random_secret_is_stored(
    server: EchoServer, tmp_path: Path, secret: str
) -> None:
    db = tmp_path / f"hyp-{abs(hash(secret))}.duckdb"

    result = _run_in_process(server, secret, db)

    assert result.status == "succeeded", result.error
    stored = _flatten(stored_texts(db))
    assert "${" + SECRET_ENV + "}" in stored["contexts.context_values"]
    found = leaks(secret, stored)
    assert not found, f"secret {secret!r} stored in clear:\n" + "\n".join(found[:10])


# -- fixed hard secrets through the CLI: outputs, JUnit, records, exports ----------


def _cli_run(
    tmp_path: Path, plan: dict[str, Any], secret: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Path]]:
    files = {name: tmp_path / name for name in ("capture.duckdb", "junit.xml", "records.jsonl")}
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    command = [sys.executable, "-m", "orchestra", "run", str(plan_file), "--progress",
               "--db", str(files["capture.duckdb"]), "--junit", str(files["junit.xml"]),
               "--records", str(files["records.jsonl"])]  # fmt: skip
    completed = subprocess.run(
        command, env={**os.environ, SECRET_ENV: secret},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return completed, files


def _exports(run_id: str, db: Path) -> dict[str, str]:
    commands: dict[str, list[str]] = {
        f"export {fmt}": ["export", run_id, "--format", fmt] for fmt in ("har", "curl", "plan")
    }
    for table in ("records", "exchanges", "steps", "errors", "events"):
        commands[f"export jsonl {table}"] = [
            "export",
            run_id,
            "--format",
            "jsonl",
            "--table",
            table,
        ]
    outputs = {}
    for name, args in commands.items():
        result = CliRunner().invoke(main, [*args, "--db", str(db)])
        assert result.exit_code == 0, (name, result.output)
        outputs[name] = result.stdout + result.stderr
    return outputs


@pytest.mark.parametrize("secret", HARD_SECRETS)
def test_no_form_of_a_hard_secret_is_stored_printed_or_exported(
    server: EchoServer, tmp_path: Path, secret: str
) -> None:
    completed, files = _cli_run(
        tmp_path, leak_plan(server.url, header=secret.isascii(), failing=True), secret
    )

    assert completed.returncode == 1, completed.stderr  # only "fails" failed (on_error: continue)
    run_id = completed.stdout.split("run id:")[1].split()[0]
    haystacks = _flatten(stored_texts(files["capture.duckdb"]))
    haystacks |= {"cli stdout": completed.stdout, "cli stderr": completed.stderr}
    haystacks |= {
        name: files[name].read_text(encoding="utf-8") for name in ("junit.xml", "records.jsonl")
    }
    haystacks |= _exports(run_id, files["capture.duckdb"])
    for where in ("cli stdout", "junit.xml", "records.jsonl", "export har", "errors.message"):
        assert haystacks[where], f"{where} is empty: nothing was searched"

    found = leaks(secret, haystacks)

    assert not found, f"secret {secret!r} leaked:\n" + "\n".join(found[:20])
    assert f"${{{SECRET_ENV}}}" in haystacks["exchanges.response_body"]


# -- controls: the searches see what is there ---------------------------------------


@pytest.mark.parametrize("secret", HARD_SECRETS)
def test_control_the_server_echoes_every_form_and_a_plain_value_is_found(
    server: EchoServer, tmp_path: Path, secret: str
) -> None:
    """Unregistered (a plain config value), the secret is found in every form."""
    plan = leak_plan(server.url, secret=False, header=secret.isascii())
    plan["config"]["secret"] = secret
    del plan["auth"]  # auth credentials are secret whatever their source: send it by hand
    for step in plan["steps"]:
        step["headers"]["Authorization"] = basic_credentials(USER, secret)
    db = tmp_path / "control.duckdb"

    orchestra.run(plan, db=str(db), environ={})

    bodies = "\n".join(stored_texts(db)["exchanges.response_body"])
    for name, encode in FORMS.items():
        assert encode(secret) in bodies, f"the server did not echo the {name} form"
    basic = base64.b64encode(f"{USER}:{secret}".encode()).decode()
    for name, encode in FORMS.items():
        assert encode(basic) in bodies, (
            f"the server did not echo the Basic credentials' {name} form"
        )
