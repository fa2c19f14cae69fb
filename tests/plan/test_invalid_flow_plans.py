"""Invalid shapes of parallel, choice, compensate, circuit_breaker, OAuth2/flow auth,
persistent_context and steps.<name> references: (plan, fragments of the message)."""

import pytest

from orchestra import load_plan
from orchestra.errors import ExpressionSyntaxError, PlanError


def step(name, url="http://x/", **fields):
    return {"name": name, "url": url, **fields}


def plan(*steps, **top):
    return {"key": "p", "steps": list(steps), **top}


OAUTH = {
    "type": "oauth2_client_credentials",
    "token_url": "http://x/token",
    "client_id": "id",
    "client_secret": "secret",
}

CASES = [
    # -- parallel -----------------------------------------------------------
    pytest.param(
        plan({"name": "g", "parallel": []}),
        ["steps[0].parallel", "'g'", "at least 1 item"],
        id="parallel-empty",
    ),
    pytest.param(
        plan({"name": "g", "parallel": [step("a")], "on_error": "abort"}),
        ["steps[0].on_error", "'wait', 'cancel' or 'continue'"],
        id="parallel-on-error",
    ),
    pytest.param(
        plan({"name": "g", "parallel": [step("a")], "url": "http://x"}),
        ["steps[0].url", "unknown field 'url'", "valid fields here: name, on_error, parallel"],
        id="parallel-with-url",
    ),
    pytest.param(
        plan({"name": "g", "parallel": [step("a", metod="GET")]}),
        ["steps[0].parallel[0].metod", "(step 'a')", "did you mean 'method'"],
        id="parallel-child-typo",
    ),
    pytest.param(
        plan({"name": "g", "paralel": [step("a")]}),
        ["steps[0].paralel", "did you mean 'parallel'"],
        id="parallel-misspelt",
    ),
    # -- choice -------------------------------------------------------------
    pytest.param(
        plan({"name": "c", "choice": [{"steps": [step("a")]}]}),
        ["steps[0].choice[0].when", "required field 'when'"],
        id="choice-without-when",
    ),
    pytest.param(
        plan({"name": "c", "choice": [{"when": "`true`", "steps": []}]}),
        ["steps[0].choice[0].steps", "at least 1 item"],
        id="choice-branch-empty",
    ),
    pytest.param(
        plan({"name": "c", "otherwise": [step("a")]}),
        ["steps[0].choice", "required field 'choice'"],
        id="otherwise-without-choice",
    ),
    pytest.param(
        plan({"name": "c", "choice": [{"when": "`true`", "steps": [step("a")], "then": 1}]}),
        ["steps[0].choice[0].then", "unknown field 'then'"],
        id="choice-branch-unknown-field",
    ),
    # -- duplicate names across the steps namespace -------------------------
    pytest.param(
        plan(step("a"), {"name": "g", "parallel": [step("a")]}),
        ["steps[1].parallel[0].name", "duplicate step name 'a'", "first used at steps[0]"],
        id="duplicate-in-parallel",
    ),
    pytest.param(
        plan(
            {
                "name": "c",
                "choice": [{"when": "`true`", "steps": [step("a")]}],
                "otherwise": [step("a")],
            }
        ),
        ["steps[0].otherwise[0].name", "duplicate step name 'a'", "steps[0].choice[0].steps[0]"],
        id="duplicate-across-branches",
    ),
    pytest.param(
        plan(step("g"), {"name": "g", "parallel": [step("a")]}),
        ["steps[1].name", "duplicate step name 'g'"],
        id="duplicate-group-name",
    ),
    # -- references -----------------------------------------------------------
    pytest.param(
        plan(step("users"), step("b", "http://x/{steps.user.body.id}")),
        ["steps[1].url (step 'b')", "there is no step 'user'", "did you mean 'users'"],
        id="ref-missing",
    ),
    pytest.param(
        plan(step("a", "http://x/{steps.b.body.id}"), step("b")),
        ["steps[0].url (step 'a')", "'b' runs later (at steps[1])", "move 'b' before"],
        id="ref-later",
    ),
    pytest.param(
        plan(step("a", "http://x/{steps.a.body.next}")),
        ["steps[0].url", "refers to itself", "prev"],
        id="ref-self",
    ),
    pytest.param(
        plan({"name": "g", "parallel": [step("a"), step("b", "http://x/{steps.a.body}")]}),
        ["steps[0].parallel[1].url (step 'b')", "runs at the same time", "parallel group 'g'"],
        id="ref-parallel-sibling",
    ),
    pytest.param(
        plan(
            {
                "name": "c",
                "choice": [{"when": "`true`", "steps": [step("a")]}],
                "otherwise": [step("b", "http://x/{steps.a.body}")],
            }
        ),
        ["steps[0].otherwise[0].url", "another branch of choice 'c'"],
        id="ref-other-branch",
    ),
    pytest.param(
        plan({"name": "g", "parallel": [step("a", "http://x/{steps.g.status}")]}),
        ["steps[0].parallel[0].url", "'g' contains this step"],
        id="ref-enclosing-group",
    ),
    pytest.param(
        plan(step("a", "http://x/{steps.b.body}"), step("b", "http://x/{steps.a.body}")),
        ["steps[0].url (step 'a')", "cycle: a → b → a", "break the cycle"],
        id="ref-cycle",
    ),
    pytest.param(
        plan(
            step("a", "http://x/{steps.c.body}"),
            step("b", "http://x/{steps.a.body}"),
            step("c", "http://x/{steps.b.body}"),
        ),
        ["cycle: a → c → b → a"],
        id="ref-cycle-of-three",
    ),
    pytest.param(
        plan(
            {"name": "c", "choice": [{"when": "steps.z.status == 'ok'", "steps": [step("a")]}]},
            step("z"),
        ),
        ["steps[0].choice[0].when (step 'c')", "'z' runs later"],
        id="ref-in-when",
    ),
    pytest.param(
        plan(step("a", **{"while": "steps.b.body.more"}), step("b")),
        ["steps[0].while (step 'a')", "'b' runs later"],
        id="ref-in-condition",
    ),
    pytest.param(
        plan(step("a", headers={"X-Id": "{steps.b.body.id}"}), step("b")),
        ["steps[0].headers.X-Id (step 'a')", "'b' runs later"],
        id="ref-in-header",
    ),
    pytest.param(
        plan(step("a", extract={"n": "length(steps.b.body)"}), step("b")),
        ["steps[0].extract.n (step 'a')", "'b' runs later"],
        id="ref-in-function-argument",
    ),
    pytest.param(
        plan(step("a", sub_steps=[{"name": "d", "url": "http://y"}]), step("b", "{steps.d.url}")),
        ["steps[1].url", "'d' is a sub-step", "extract values on the parent step"],
        id="ref-to-sub-step",
    ),
    pytest.param(
        plan(
            step("a", sub_steps=[{"name": "d", "url": "http://y/{steps.a.body.id}"}]),
        ),
        ["steps[0].sub_steps[0].url (step 'a')", "refers to itself"],
        id="ref-sub-step-to-its-parent",
    ),
    # -- compensation -------------------------------------------------------
    pytest.param(
        plan(step("a", compensate={"url": "http://x/{steps.b.body}"}), step("b")),
        ["steps[0].compensate.url (step 'a')", "'b' runs later"],
        id="compensation-refers-later",
    ),
    pytest.param(
        plan(step("a", compensate={"url": "http://x", "while": "x"})),
        ["steps[0].compensate.while", "unknown field 'while'", "valid fields here"],
        id="compensation-is-a-request",
    ),
    pytest.param(
        plan(step("a", compensate={"method": "DELETE"})),
        ["steps[0].compensate.url", "required field 'url'"],
        id="compensation-without-url",
    ),
    pytest.param(
        plan(step("a", compensate={"url": "http://x"}, sub_steps=[step("compensate")])),
        ["steps[0].sub_steps[0]", "clashes with the step's compensation path a.compensate"],
        id="compensation-path-clash",
    ),
    # -- nesting --------------------------------------------------------------
    pytest.param(
        plan(
            {
                "name": "g",
                "parallel": [
                    {
                        "name": "c",
                        "choice": [
                            {"when": "`true`", "steps": [{"name": "h", "parallel": [step("a")]}]}
                        ],
                    }
                ],
            },
            limits={"max_nesting_depth": 2},
        ),
        ["steps[0].parallel[0].choice[0].steps[0].parallel[0]", "3 levels deep", "limit is 2"],
        id="nesting-too-deep",
    ),
    # -- circuit breaker ------------------------------------------------------
    pytest.param(
        plan(step("a"), circuit_breaker={"failure_threshold": 0}),
        ["circuit_breaker.failure_threshold", "greater than or equal to 1"],
        id="breaker-threshold",
    ),
    pytest.param(
        plan(step("a"), circuit_breaker={"cooldown": 3}),
        ["circuit_breaker.cooldown", "did you mean 'cooldown_seconds'"],
        id="breaker-misspelt",
    ),
    # -- auth -----------------------------------------------------------------
    pytest.param(
        plan(step("a"), auth={"type": "oauth2_client_credentials", "token_url": "http://x"}),
        ["auth.oauth2_client_credentials.client_id", "required field 'client_id'"],
        id="oauth-missing-client",
    ),
    pytest.param(
        plan(step("a"), auth={**OAUTH, "client_auth": "header"}),
        ["auth.oauth2_client_credentials.client_auth", "'basic' or 'body'"],
        id="oauth-client-auth",
    ),
    pytest.param(
        plan(step("a"), auth={**OAUTH, "scope": "read"}),
        ["auth.oauth2_client_credentials.scope", "did you mean 'scopes'"],
        id="oauth-misspelt-scopes",
    ),
    pytest.param(
        plan(step("a"), auth={**OAUTH, "type": "oauth2_refresh_token"}),
        ["auth.oauth2_refresh_token.refresh_token", "required field 'refresh_token'"],
        id="refresh-token-missing",
    ),
    pytest.param(
        plan(step("a"), auth={"type": "flow", "steps": [step("login")]}),
        ["auth.flow.token_path", "required field 'token_path'"],
        id="flow-without-token-path",
    ),
    pytest.param(
        plan(
            step("a"),
            auth={
                "type": "flow",
                "steps": [step("login", "http://x/{steps.a.body}")],
                "token_path": "response.body.t",
            },
        ),
        ["auth.steps[0].url (step 'login')", "auth steps run before the plan's steps"],
        id="flow-refers-to-plan-step",
    ),
    pytest.param(
        plan(
            step("a"),
            auth={"type": "flow", "steps": [step("login")], "token_path": "steps.logn.body.t"},
        ),
        ["auth.token_path", "no auth step 'logn'", "auth steps are: login"],
        id="flow-token-path-refers-to-nothing",
    ),
    # -- persistent context ---------------------------------------------------
    pytest.param(
        plan(step("a"), persistent_context=["last-sync"]),
        ["persistent_context", "'last-sync' must be an identifier"],
        id="persistent-bad-name",
    ),
    pytest.param(
        plan(step("a"), persistent_context=["since", "since"]),
        ["persistent_context", "'since' is listed twice"],
        id="persistent-twice",
    ),
    pytest.param(
        plan(step("a"), limits={"max_context_field_bytes": 0}),
        ["limits.max_context_field_bytes", "greater than or equal to 1"],
        id="context-limit",
    ),
]


@pytest.mark.parametrize(("data", "fragments"), CASES)
def test_invalid_flow_plan(data, fragments):
    with pytest.raises(PlanError) as info:
        load_plan(data)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


SYNTAX_CASES = [
    pytest.param(
        plan({"name": "c", "choice": [{"when": "a ==", "steps": [step("a")]}]}),
        "steps[0].choice[0].when",
        id="when",
    ),
    pytest.param(
        plan(step("a"), auth={**OAUTH, "token_path": "body.["}), "auth.token_path", id="tp"
    ),
    pytest.param(
        plan(step("a"), auth={**OAUTH, "token_url": "{config.x"}), "auth.token_url", id="tu"
    ),
    pytest.param(
        plan(step("a", compensate={"url": "http://x/{steps.a.body.id"})),
        "steps[0].compensate.url",
        id="compensation-url",
    ),
    pytest.param(
        plan(step("a"), auth={"type": "bearer", "token": "{config.t"}), "auth.token", id="b"
    ),
]


@pytest.mark.parametrize(("data", "path"), SYNTAX_CASES)
def test_syntax_errors_in_new_places_point_at_the_column(data, path):
    with pytest.raises(ExpressionSyntaxError) as info:
        load_plan(data)
    assert info.value.path == path
    assert "^" in str(info.value)


def test_every_reference_problem_is_reported_at_once():
    data = plan(
        step("a", "http://x/{steps.b.body}/{steps.nope.x}"),
        step("b"),
        {"name": "g", "parallel": [step("c"), step("d", "http://x/{steps.c.body}")]},
    )
    with pytest.raises(PlanError) as info:
        load_plan(data)
    assert len(info.value.issues) == 3


def test_known_steps_may_be_referred_to():
    data = plan(step("b", "http://x/{steps.from_an_earlier_cell.body.id}"))
    with pytest.raises(PlanError):
        load_plan(data)
    assert load_plan(data, known_steps=["from_an_earlier_cell"]).find("b").name == "b"
