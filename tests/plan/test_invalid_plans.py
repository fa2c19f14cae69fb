"""Invalid plans as data: (plan, error type, fragments the message must hold)."""

import pytest

from orchestra import load_plan
from orchestra.errors import ExpressionSyntaxError, PlanError

GOOD_STEP = {"name": "s", "url": "http://x/"}

CASES = [
    pytest.param(
        {"key": "p", "steps": [{"name": "users", "url": "http://x/", "metod": "GET"}]},
        PlanError,
        ["steps[0].metod", "'users'", "did you mean 'method'"],
        id="misspelt-step-field",
    ),
    pytest.param(
        {
            "key": "p",
            "steps": [
                GOOD_STEP,
                {"url": "http://x/", "sub_steps": [{"url": "http://y", "concurrency": "ten"}]},
            ],
        },
        PlanError,
        ["steps[1].sub_steps[0].concurrency", "valid integer", "'ten'"],
        id="bad-type-deep",
    ),
    pytest.param(
        {"key": "p", "stepz": [GOOD_STEP]},
        PlanError,
        ["stepz", "unknown field", "did you mean 'step'"],
        id="misspelt-top-level",
    ),
    pytest.param(
        {"key": "p", "steps": [GOOD_STEP], "limits": {"max_loop": 2}},
        PlanError,
        ["limits.max_loop", "did you mean 'max_loops'"],
        id="misspelt-limit",
    ),
    pytest.param(
        {"key": "p", "steps": [{**GOOD_STEP, "retry": {"backoff": "linear"}}]},
        PlanError,
        ["steps[0].retry.backoff", "fibonacci"],
        id="bad-backoff",
    ),
    pytest.param(
        {"steps": [GOOD_STEP]}, PlanError, ["key", "required field 'key'"], id="missing-key"
    ),
    pytest.param({"key": "p"}, PlanError, ["exactly one of 'step'", "'steps'"], id="no-steps"),
    pytest.param(
        {"key": "p", "step": GOOD_STEP, "steps": [GOOD_STEP]},
        PlanError,
        ["exactly one of"],
        id="both-roots",
    ),
    pytest.param(
        {"key": "p", "steps": [GOOD_STEP, GOOD_STEP]},
        PlanError,
        ["steps[1].name", "duplicate step name 's'"],
        id="duplicate-names",
    ),
    pytest.param(
        {"key": "p", "steps": [{"name": "bad name", "url": "http://x"}]},
        PlanError,
        ["steps[0].name", "must start with a letter"],
        id="bad-name",
    ),
    pytest.param(
        {"key": "p", "steps": [GOOD_STEP], "auth": {"type": "bearer", "tokn": "x"}},
        PlanError,
        ["auth.bearer.tokn", "did you mean 'token'"],
        id="misspelt-auth",
    ),
    pytest.param(
        {"key": "p", "steps": [{**GOOD_STEP, "secrets": ["response.body.token ||"]}]},
        ExpressionSyntaxError,
        ["steps[0].secrets[0]", "^"],
        id="secrets-syntax",
    ),
    pytest.param(
        {"key": "p", "steps": [{"name": "s", "url": "{config.base_url ||}/x"}]},
        ExpressionSyntaxError,
        ["steps[0].url", "ends too early", "^"],
        id="url-syntax",
    ),
    pytest.param(
        {"key": "p", "steps": [{**GOOD_STEP, "while": "response.body.next =="}]},
        ExpressionSyntaxError,
        ["steps[0].while", "ends too early"],
        id="while-syntax",
    ),
    pytest.param(
        {
            "key": "p",
            "steps": [{**GOOD_STEP, "sub_steps": [{"url": "http://y", "iterate_over": "items[?"}]}],
        },
        PlanError,
        ["steps[0].sub_steps[0].iterate_over"],
        id="iterate-over-syntax",
    ),
    pytest.param(
        {"key": "p", "steps": [{**GOOD_STEP, "context_updates": {"next": "a b"}}]},
        PlanError,
        ["steps[0].context_updates.next", "unexpected 'b'"],
        id="context-update-syntax",
    ),
    pytest.param(
        {"key": "p", "steps": [{**GOOD_STEP, "emit": True, "emit_to_kafka": False}]},
        PlanError,
        ["either 'emit' or its alias"],
        id="emit-twice",
    ),
]


@pytest.mark.parametrize(("plan", "error_type", "fragments"), CASES)
def test_invalid_plan(plan, error_type, fragments):
    with pytest.raises(error_type) as info:
        load_plan(plan)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


def test_every_problem_is_reported_at_once():
    plan = {
        "key": "p",
        "steps": [{"name": "a", "url": "http://x", "metod": "GET", "timeout_seconds": -1}],
        "limits": {"max_loops": 0},
    }
    with pytest.raises(PlanError) as info:
        load_plan(plan)
    paths = {issue.path.split(" ")[0] for issue in info.value.issues}
    assert paths == {"steps[0].metod", "steps[0].timeout_seconds", "limits.max_loops"}


def test_nesting_deeper_than_the_limit_is_rejected():
    step = {"url": "http://x"}
    for _ in range(3):
        step = {"url": "http://x", "sub_steps": [step]}
    plan = {"key": "p", "step": step, "limits": {"max_nesting_depth": 2}}
    with pytest.raises(PlanError) as info:
        load_plan(plan)
    assert "step.sub_steps[0].sub_steps[0].sub_steps[0]" in str(info.value)
    assert "max_nesting_depth" in str(info.value)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("key: p\nsteps:\n  - name: a\n    url: [unclosed\n")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert "line" in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file():
    with pytest.raises(PlanError, match="does not exist"):
        load_plan("/nonexistent/plan.json")
