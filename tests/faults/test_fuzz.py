"""Fuzzing the loader, the template compiler and run-time rendering (hypothesis).

The property: whatever a plan file, a template or the data holds, Orchestra
answers with one of its documented errors (``orchestra.errors``: a
``PlanError`` — ``ExpressionSyntaxError`` included — when loading or
compiling, a ``RunError`` when a run meets the data) and never with anything
else: no ``UnicodeDecodeError``, ``RecursionError``, ``ValueError`` from a huge
integer, jmespath's own exceptions or "internal error".

Every test is derandomized (the same examples on every run, so CI is
reproducible and a failure reproduces locally) and bounded by
``max_examples`` so the file takes about a minute on two loaded cores.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jmespath.functions
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import orchestra
from orchestra.errors import PlanError, RunError
from orchestra.expressions import compile_expression, compile_template, compile_value
from orchestra.plan import HttpStep, Plan, load_plan


def bounded(max_examples: int) -> settings:
    """Reproducible (derandomized, no example database) and bounded in examples, not time."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# jmespath warns (PendingDeprecationWarning) on the old `raw` literal form the fuzzer writes
pytestmark = pytest.mark.filterwarnings("ignore:deprecated string literal syntax")

# --- strategies -----------------------------------------------------------------------------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=12,
)

FUNCTIONS = [*sorted(jmespath.functions.Functions.FUNCTION_TABLE), "nope", "lenght"]
PATHS = ["response.body", "response.body.items", "response.body.a.b", "response.status_code",
         "response.headers", "config.value", "context.page", "@", "prev",
         "steps.source.body"]  # fmt: skip
LITERALS = ["`1`", '`"s"`', "`[1, 2]`", '`{"a": 1}`', "'raw'", "`null`", "true", "false", "`-3.5`"]
EXPRESSION_TOKENS = ["{", "}", "{{", "}}", "'", '"', "`", "\\", ".", "[", "]", "*", "?", "|",
                     "||", "&&", "!", "==", "!=", "<", ">=", "(", ")", ",", "@", "&", ":", "$",
                     " ", "0", "-1", "[?", "[*]", "[0]", "[-1:]", "abs", "length(", "keys",
                     "sort_by(", "&id", "response", "body", "config", "item", "steps.", "`1`",
                     "'lit'", "true", "null", "é", "\x00", "\n"]  # fmt: skip
YAML_TOKENS = ["{", "}", "[", "]", ": ", "- ", "\n", "  ", "&a ", "*a", "<<: *a", "!!str ",
               "!!python/object/apply:os.system ", "key", "steps", "url", "name", "config",
               "'", '"', "#", "|", ">", ", ", "? ", "---\n", "...\n", "1e999", "9" * 5000,
               "0x_1", "true", "null", "~", "\t", "%YAML 1.2\n", "\\u0000", "\ufeff", "é",
               "{config.x}", "{", "`"]  # fmt: skip


def expressions() -> st.SearchStrategy[str]:
    """JMESPath expressions over Orchestra's scopes, made of real grammar."""
    leaves = st.one_of(st.sampled_from(PATHS), st.sampled_from(LITERALS))

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.builds(
                lambda f, args: f"{f}({', '.join(args)})",
                st.sampled_from(FUNCTIONS),
                st.lists(children, max_size=3),
            ),
            st.builds(
                lambda a, op, b: f"{a} {op} {b}",
                children,
                st.sampled_from(["||", "&&", "==", "!=", "<", ">=", "|"]),
                children,
            ),
            st.builds(lambda a, i: f"{a}[{i}]", children, st.sampled_from(["0", "-1", "*", "1:"])),
            st.builds(lambda a, b: f"{a}[?{b}]", children, children),
            st.builds(lambda a: f"!{a}", children),
            st.builds(lambda a, b: f"{{x: {a}, y: {b}}}", children, children),
            st.builds(lambda a: f"&{a}", children),
        )

    return st.recursive(leaves, extend, max_leaves=6)


def token_text(tokens: list[str], max_size: int = 12) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(tokens), max_size=max_size).map("".join)


def hostile_documents() -> st.SearchStrategy[bytes]:
    """Texts known to hurt loaders: nesting, aliases, huge integers, encodings."""
    depth = st.integers(min_value=1, max_value=20_000)
    return st.one_of(
        depth.map(lambda n: ("[" * n + "]" * n).encode()),
        depth.map(lambda n: ('{"a":' * n + "1" + "}" * n).encode()),
        depth.map(lambda n: ("- " * n + "x").encode()),
        st.integers(min_value=1, max_value=50_000).map(
            lambda n: f'{{"key": "k", "config": {{"n": {"7" * n}}}}}'.encode()
        ),
        st.integers(min_value=1, max_value=12).map(alias_bomb),
        st.just(b"key: &a [*a]\n"),
        st.sampled_from(["utf-16", "utf-32", "utf-8-sig", "latin-1"]).map(
            lambda codec: 'key: "k\u00e9"\nstep: {url: "http://x"}\n'.encode(codec)
        ),
        st.binary(max_size=64).map(lambda junk: b'{"key": "' + junk + b'"}'),
    )


def alias_bomb(levels: int) -> bytes:
    lines = ["key: bomb", "config:", '  l0: &l0 ["ha", "ha", "ha", "ha", "ha", "ha", "ha"]']
    for level in range(1, levels):
        refs = ", ".join([f"*l{level - 1}"] * 7)
        lines.append(f"  l{level}: &l{level} [{refs}]")
    lines.append('step: {url: "http://example.invalid"}')
    return "\n".join(lines).encode()


STEP_FIELDS = [name if name != "while_" else "while" for name in HttpStep.model_fields]
PLAN_FIELDS = list(Plan.model_fields)
FIELD_VALUES = st.one_of(
    JSON_VALUES,
    token_text(EXPRESSION_TOKENS),
    expressions(),
    expressions().map(lambda e: "{" + e + "}"),
    st.sampled_from(["http://example.invalid/{config.value}", "GET", "POST", "json", "continue"]),
)


def random_steps() -> st.SearchStrategy[list[dict[str, Any]]]:
    step = st.dictionaries(st.sampled_from(STEP_FIELDS), FIELD_VALUES, max_size=6).map(
        lambda fields: {"url": "http://example.invalid/x", **fields}
    )
    return st.lists(step, max_size=3)


def random_plans() -> st.SearchStrategy[dict[str, Any]]:
    top = st.dictionaries(st.sampled_from(PLAN_FIELDS), FIELD_VALUES, max_size=4)
    return st.builds(lambda fields, steps: {"key": "fuzz", "steps": steps, **fields},
                     top, random_steps())  # fmt: skip


# --- (a) the loader ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="orchestra-fuzz-") as directory:
        yield Path(directory)


def load_file(directory: Path, data: bytes) -> None:
    path = directory / "plan.yaml"
    path.write_bytes(data)
    with contextlib.suppress(PlanError):  # documented: the loader's error, file and position
        load_plan(path)


@bounded(200)
@given(data=st.one_of(hostile_documents(), st.binary(max_size=200)))
def test_loader_answers_any_file_with_a_plan_error(scratch: Path, data: bytes) -> None:
    load_file(scratch, data)


@bounded(400)
@given(text=token_text(YAML_TOKENS, max_size=30))
def test_loader_answers_yaml_ish_text_with_a_plan_error(scratch: Path, text: str) -> None:
    load_file(scratch, text.encode("utf-8", "surrogatepass"))


@bounded(300)
@given(plan=random_plans())
def test_loader_answers_random_plan_dicts_with_a_plan_error(plan: dict[str, Any]) -> None:
    with contextlib.suppress(PlanError):
        load_plan(plan)


@bounded(150)
@given(plan=random_plans())
def test_loader_reads_dumped_plans_as_their_dicts_do(scratch: Path, plan: dict[str, Any]) -> None:
    """A plan written as JSON or YAML loads (or fails) exactly as the dict does."""
    try:
        expected: Any = load_plan(plan).model.model_dump()
    except PlanError:
        expected = PlanError
    for text in (json.dumps(plan), yaml.safe_dump(plan)):
        path = scratch / "dumped.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            got: Any = load_plan(path).model.model_dump()
        except PlanError:
            got = PlanError
        assert got == expected, text


# --- (b) the template compiler ----------------------------------------------------------------


@bounded(1500)
@given(text=st.one_of(token_text(EXPRESSION_TOKENS, max_size=16), st.text(max_size=30)))
def test_template_compiler_answers_with_expression_errors(text: str) -> None:
    for compile_ in (compile_template, compile_expression):
        try:
            compile_(text, path="steps[0].url")
        except PlanError as error:
            assert "steps[0].url" in str(error)


@bounded(600)
@given(expression=expressions())
def test_grammatical_expressions_compile_or_fail_at_load(expression: str) -> None:
    try:
        compile_value({"a": ["{" + expression + "}", "x-{" + expression + "}-y"]}, path="body")
    except PlanError as error:
        assert "body" in str(error)


# --- (c) run-time rendering -------------------------------------------------------------------


def rendering_plan(expression: str, config_value: Any) -> dict[str, Any]:
    """A source step, then a step evaluating ``expression`` in every kind of place."""
    template = "{" + expression + "}"
    return {
        "key": "fuzz-render",
        "config": {"value": config_value},
        "steps": [
            {"name": "source", "url": "http://fuzz.test/source"},
            {
                "name": "use",
                "method": "POST",
                "url": "http://fuzz.test/use/" + template,
                "params": {"whole": template, "inside": "p-" + template},
                "headers": {"X-Inside": "h-" + template},
                "body": {"whole": template, "list": [template, "b-" + template]},
                "extract": {"x": expression},
                "context_updates": {"page": expression},
                "break_when": expression,
                "expect": {"that": [expression]},
                "on_error": "continue",
            },
        ],
    }


def transport_answering(body: Any) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body, headers={"X-Rate": "1"})

    return httpx.MockTransport(answer)


@bounded(1000)
@given(expression=expressions(), body=JSON_VALUES, config_value=JSON_VALUES)
def test_rendering_any_data_ends_the_run_with_a_documented_error(
    expression: str, body: Any, config_value: Any
) -> None:
    try:
        plan = load_plan(rendering_plan(expression, config_value))
    except PlanError:
        return  # rejected at load time (unknown function, wrong arity …): documented
    result = orchestra.run(plan, db=None, transport=transport_answering(body))
    assert str(result.status) in ("succeeded", "failed"), result.error
    if result.error is not None:
        assert isinstance(result.error, RunError), repr(result.error)
        assert "internal error" not in str(result.error)
        assert result.error.step_path == "use", result.error
