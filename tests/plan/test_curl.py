"""The one curl writer (``orchestra.plan.curl_text``, ``shell_quote``), run through bash.

The capture's curl export and ``step_to_curl`` both write with it; the
capture's own tests (tests/capture/test_export.py) check its commands
against a server, these check the quoting and the command's shape.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest

from orchestra.plan import curl_text, shell_quote


def _bash(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=30, check=False
    )


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "Bearer ${TOKEN_A}",
        'a "quoted" ${TOKEN_A}$HOME `id` $(id) \\ back \\${TOKEN_A} !x ${TOKEN_B}',
        "${not a ref} $TOKEN_A '${TOKEN_A}' ${TOKEN_A}${TOKEN_B}",
        "new\nline ${TOKEN_A} tab\tend",
        "",
    ],
)
def test_shell_quote_expands_only_references(text: str) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": "/home/x", "TOKEN_A": "v@l a", "TOKEN_B": "b!"}
    expected = text.replace("${TOKEN_A}", "v@l a").replace("${TOKEN_B}", "b!")

    command = f"printf %s {shell_quote(text)}"

    result = _bash(command, env)
    # as pasted into an interactive bash: history expansion of "!" is on there
    interactive = subprocess.run(
        ["bash", "--norc"], input=f"set -o history -H\n{command}\n", env=env,
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout == expected
    assert (interactive.stdout, interactive.stderr) == (expected, "")


def _argv(command: str, env: dict[str, str]) -> list[str]:
    """The argv bash hands to curl, with ``curl`` replaced by a Python argv printer."""
    printer = f"{shlex.quote(sys.executable)} -c 'import json,sys; print(json.dumps(sys.argv[1:]))'"
    result = _bash(f'curl() {{ {printer} "$@"; }}\n{command}', env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_curl_text_writes_one_option_a_line_and_skips_what_curl_computes() -> None:
    command = curl_text(
        "post",
        "https://api.test/a?q=${QUERY}",
        {"Host": "x", "Content-Length": "3", "Accept-Encoding": "gzip", "X-A": "it's",
         "X-Empty": ""},
        '{"k": "${TOKEN}"}',
    )  # fmt: skip
    assert command.splitlines()[0] == 'curl -X POST "https://api.test/a?q=${QUERY}" \\'
    env = {"PATH": os.environ["PATH"], "QUERY": "a b", "TOKEN": "t$1"}
    assert _argv(command, env) == [
        "-X", "POST", "https://api.test/a?q=a b", "-H", "X-A: it's", "-H", "X-Empty;",
        "--compressed", "--data-raw", '{"k": "t$1"}',
    ]  # fmt: skip


def test_a_base64_body_is_decoded_by_the_command_and_head_uses_head() -> None:
    command = curl_text("PUT", "http://x.test", {}, "AAEC", base64_body=True)
    assert command.startswith("printf %s AAEC | base64 -d | curl -X PUT")
    assert "--data-binary @-" in command
    assert curl_text("head", "http://x.test", {}) == "curl --head http://x.test"
