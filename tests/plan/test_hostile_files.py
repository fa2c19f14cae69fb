"""Plan files written to hurt the loader: each is a PlanError (CLI exit 2) with the file,
the position and a fix, quickly and in bounded memory.

The table holds (file name, bytes, fragments the message must hold). Each file
is loaded in-process (timed, peak memory traced) and all of them go through
one ``orchestra validate`` subprocess, as a user would run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from orchestra import load_plan
from orchestra.errors import PlanError
from orchestra.plan import MAX_ALIASES, MAX_NESTING

REPO = Path(__file__).resolve().parents[2]
STEPS = "steps:\n  - name: a\n    url: http://127.0.0.1:9/health\n"
SAVE_AS_UTF8 = "save the file as UTF-8"


def _yaml(config: str) -> bytes:
    return f"key: hostile\nconfig:\n{config}{STEPS}".encode()


def _billion_laughs() -> bytes:
    lines = ["  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"]
    for level in range(1, 10):
        refs = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"  l{level}: &l{level} [{refs}]\n")
    return _yaml("".join(lines))


def _alias_chain(levels: int) -> bytes:
    chain = "".join(f"  a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, levels))
    return _yaml("  a0: &a0 [1]\n" + chain)


HOSTILE = [
    ("billion-laughs.yaml", _billion_laughs(), ["line 8, column 7", "expand the plan beyond",
                                                "nest fewer aliases"]),
    ("recursive-alias.yaml", b"key: hostile\nconfig: &a\n  self: *a\n" + STEPS.encode(),
     ["line 3, column 9", "alias *a is inside its own anchor &a", "copy the values"]),
    ("alias-chain.yaml", _alias_chain(MAX_NESTING + 50),
     [f"more than {MAX_NESTING} levels deep", "nest at most"]),
    ("many-aliases.yaml", _yaml("  a: &a 1\n  b: [" + ", ".join(["*a"] * (MAX_ALIASES + 1))
                                + "]\n"), [f"more than {MAX_ALIASES} uses of YAML aliases"]),
    ("deep.json", b'{"key": "h", "config": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
     ["line 1, column 128", f"more than {MAX_NESTING} levels deep"]),
    ("deep-objects.json", b'{"key": "h", "config": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_001,
     [f"more than {MAX_NESTING} levels deep"]),
    ("deep.yaml", _yaml("  x: " + "[" * 100_000 + "]" * 100_000 + "\n"),
     ["line 3, column 106", f"more than {MAX_NESTING} levels deep"]),
    ("deep-block.yaml", _yaml("".join("  " * (i + 1) + f"k{i}:\n" for i in range(300))),
     [f"more than {MAX_NESTING} levels deep"]),
    ("invalid-utf8.yaml", _yaml("  name: caf\xe9\n").replace(b"\xc3\xa9", b"\xe9"),
     ["line 3, column 12 (byte 32 of the file)", "bytes e9 are not UTF-8", SAVE_AS_UTF8]),
    ("utf16.yaml", _yaml("  a: 1\n").decode().encode("utf-16"),
     ["the file is UTF-16", SAVE_AS_UTF8]),
    ("utf32.yaml", _yaml("  a: 1\n").decode().encode("utf-32"),
     ["the file is UTF-32", SAVE_AS_UTF8]),
    ("utf16-no-bom.yaml", _yaml("  a: 1\n").decode().encode("utf-16-le"),
     ["NUL bytes", SAVE_AS_UTF8]),
    ("long-integer.yaml", _yaml("  n: " + "9" * 5_000 + "\n"),
     ["line 3, column 6", "an integer with more than 4300 digits", "write it as a string"]),
    ("long-hex-integer.yaml", _yaml("  n: 0x" + "f" * 5_000 + "\n"),
     ["line 3, column 6", "more than 4300 digits"]),
    ("long-integer.json", b'{"key": "h", "config": {"n": ' + b"7" * 5_000 + b"}}",
     ["line 1, column 30", "more than 4300 digits"]),
    ("python-tag.yaml", _yaml("  x: !!python/object/apply:os.system ['echo pwned']\n"),
     ["line 3, column 6", "python/object/apply:os.system", "remove the tag"]),
    ("binary-tag.yaml", _yaml("  x: !!binary aGVsbG8=\n"), ["builds no JSON value"]),
    ("set-tag.yaml", _yaml("  x: !!set {a: null}\n"), ["builds no JSON value"]),
    ("control-character.yaml", _yaml("  x: a\x07b\n"),
     ["line 3, column 7", "not allowed in YAML"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "data", "fragments"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_file_is_a_plan_error_with_position_and_fix(tmp_path, name, data, fragments):
    path = tmp_path / name
    path.write_bytes(data)

    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(PlanError) as caught:
            load_plan(path)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    message = str(caught.value)
    assert str(path) in message
    assert "fix:" in message
    for fragment in fragments:
        assert fragment in message
    assert elapsed < 1.0, f"{name} took {elapsed:.2f}s"
    assert peak < 64 * 2**20, f"{name} peaked at {peak / 2**20:.0f} MiB"


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + _yaml("  a: 1\n"))
    assert load_plan(path).model.config == {"a": 1}


def test_aliases_within_the_budgets_still_load(tmp_path):
    path = tmp_path / "anchors.yaml"
    path.write_bytes(
        b"key: anchors\nconfig:\n  headers: &h {Accept: application/json}\n"
        b"steps:\n  - {name: a, url: 'http://x/a', headers: *h}\n"
        b"  - {name: b, url: 'http://x/b', headers: *h}\n"
    )
    plan = load_plan(path)
    assert [step.model.headers for step in plan.steps] == [{"Accept": "application/json"}] * 2


def test_nesting_at_the_limit_loads_and_one_more_level_does_not():
    def nested(levels: int) -> str:  # the plan object is level 1, config level 2
        inner = "[" * (levels - 2) + "]" * (levels - 2)
        return '{"key": "n", "config": {"x": ' + inner + '}, "steps": [{"url": "http://x/"}]}'

    load_plan(nested(MAX_NESTING))
    with pytest.raises(PlanError, match="levels deep"):
        load_plan(nested(MAX_NESTING + 1))


def test_orchestra_validate_exits_2_for_every_hostile_file(tmp_path):
    paths = []
    for name, data, _ in HOSTILE:
        paths.append(tmp_path / name)
        paths[-1].write_bytes(data)

    done = subprocess.run(
        [sys.executable, "-m", "orchestra", "validate", *map(str, paths)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip

    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{len(HOSTILE)} of {len(HOSTILE)} plans are invalid" in done.stderr
    for path in paths:
        assert f"Invalid plan {str(path)!r}" in done.stderr


def test_orchestra_validate_exits_2_for_a_bad_function_call(tmp_path):
    path = tmp_path / "arity.yaml"
    path.write_text(
        "key: arity\nsteps:\n  - name: a\n    url: http://x/\n"
        "    extract: {n: 'abs(response.body.n, `1`)'}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "orchestra", "validate", str(path)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 2
    assert "steps[0].extract.n: invalid expression: abs() takes 1 argument, got 2" in done.stderr
    assert "      abs(response.body.n, `1`)\n      ^" in done.stderr
