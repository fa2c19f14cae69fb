"""Valid parallel, choice, compensate, breaker, OAuth2/flow auth plans: how they compile."""

from orchestra import load_plan, plan_json_schema
from orchestra.plan import (
    CompiledChoice,
    CompiledParallel,
    CompiledStep,
    FlowAuth,
    OAuth2ClientCredentials,
    ParallelStep,
)

BASE = "{config.base_url}"

SEED_000 = {
    "key": "user-stats",
    "config": {"base_url": "https://api.example.com"},
    "steps": [
        {"name": "fetch_user", "url": f"{BASE}/users/123"},
        {
            "name": "check_user_type",
            "choice": [
                {
                    "when": "steps.fetch_user.body.type == 'admin'",
                    "steps": [
                        {
                            "name": "fetch_admin",
                            "url": f"{BASE}/admin/{{steps.fetch_user.body.id}}/stats",
                        }
                    ],
                }
            ],
            "otherwise": [
                {
                    "name": "fetch_user_stats",
                    "url": f"{BASE}/users/{{steps.fetch_user.body.id}}/stats",
                }
            ],
        },
        {
            "name": "extras",
            "parallel": [
                {"name": "notifs", "url": f"{BASE}/notifs"},
                {"name": "tasks", "url": f"{BASE}/tasks"},
            ],
        },
        {"name": "summary", "url": f"{BASE}/echo", "body": {"n": "{steps.notifs.body}"}},
    ],
}


def test_seed_000_flow_compiles_to_nodes_with_paths():
    compiled = load_plan(SEED_000)
    kinds = [(node.path, node.kind) for node in compiled.walk()]
    assert kinds == [
        ("fetch_user", "http"),
        ("check_user_type", "choice"),
        ("check_user_type.fetch_admin", "http"),
        ("check_user_type.fetch_user_stats", "http"),
        ("extras", "parallel"),
        ("extras.notifs", "http"),
        ("extras.tasks", "http"),
        ("summary", "http"),
    ]
    choice = compiled.find("check_user_type")
    assert isinstance(choice, CompiledChoice)
    assert [b.label for b in choice.branches] == ["when[0]"]
    assert choice.branches[0].when.search({"steps": {"fetch_user": {"body": {"type": "admin"}}}})
    group = compiled.find("extras")
    assert isinstance(group, CompiledParallel)
    assert group.on_error == "wait"
    assert isinstance(group.model, ParallelStep)
    assert compiled.find("notifs").plan_path == "steps[2].parallel[0]"


def test_the_plan_dumps_back_to_what_was_written():
    assert load_plan(SEED_000).to_dict() == SEED_000


def test_unnamed_children_get_names_from_their_container():
    plan = {
        "key": "p",
        "steps": [
            {"parallel": [{"url": "http://x/1"}, {"url": "http://x/2"}]},
            {
                "name": "c",
                "choice": [{"when": "`true`", "steps": [{"url": "http://x/3"}]}],
                "otherwise": [{"url": "http://x/4"}],
            },
        ],
    }
    paths = [node.path for node in load_plan(plan).walk()]
    assert paths == [
        "step_1",
        "step_1.step_1_1",
        "step_1.step_1_2",
        "c",
        "c.c_1_1",
        "c.c_otherwise_1",
    ]


def test_compensation_is_compiled_with_its_own_path_and_is_not_a_plan_step():
    plan = {
        "key": "saga",
        "steps": [
            {
                "name": "create_order",
                "method": "post",
                "url": "http://x/orders",
                "compensate": {
                    "method": "delete",
                    "url": "http://x/orders/{steps.create_order.body.id}",
                },
            }
        ],
    }
    compiled = load_plan(plan)
    step = compiled.find("create_order")
    assert isinstance(step, CompiledStep)
    comp = step.compensate
    assert comp is not None
    assert (comp.path, comp.kind, comp.model.method) == (
        "create_order.compensate",
        "compensation",
        "DELETE",
    )
    assert comp.url.render_url({"steps": {"create_order": {"body": {"id": "o 1"}}}}) == (
        "http://x/orders/o%201"
    )
    assert [n.path for n in compiled.walk()] == ["create_order"]
    assert comp.emits is False


def test_oauth2_compiles_one_token_request():
    plan = {
        "key": "o",
        "config": {"base_url": "http://api"},
        "auth": {
            "type": "oauth2_client_credentials",
            "token_url": "{config.base_url}/oauth/token",
            "client_id": "{config.client_id}",
            "client_secret": {"env": "SECRET"},
            "scopes": "read write",
            "extra_params": {"audience": "api"},
        },
        "steps": [{"name": "a", "url": "{config.base_url}/a", "headers": {"X": "{auth.token}"}}],
    }
    compiled = load_plan(plan)
    auth = compiled.auth
    assert auth is not None and isinstance(auth.model, OAuth2ClientCredentials)
    assert auth.model.scopes == ["read", "write"]
    (token,) = auth.token_steps
    assert (token.path, token.kind, token.model.method) == ("auth", "auth", "POST")
    assert token.url.render_url({"config": {"base_url": "http://api"}}) == "http://api/oauth/token"
    form = token.form.render(
        {"oauth": {"grant_type": "client_credentials", "extra": {"audience": "api"}}}
    )
    assert form == {"grant_type": "client_credentials", "audience": "api"}
    assert auth.token_path.source == "response.body.access_token"


def test_flow_auth_compiles_its_steps_under_auth():
    plan = {
        "key": "f",
        "auth": {
            "type": "flow",
            "steps": [
                {"name": "login", "method": "POST", "url": "http://x/login", "body": {"u": "me"}},
                {"name": "session", "url": "http://x/s/{steps.login.body.id}"},
            ],
            "token_path": "steps.session.body.token",
            "expires_in_path": "response.body.ttl",
        },
        "steps": [{"name": "a", "url": "http://x/a"}],
    }
    auth = load_plan(plan).auth
    assert isinstance(auth.model, FlowAuth)
    assert [s.path for s in auth.token_steps] == ["auth.login", "auth.session"]
    assert all(s.kind == "auth" for s in auth.token_steps)


def test_schema_describes_the_new_shapes():
    schema = plan_json_schema()
    defs = schema["$defs"]
    for name in (
        "ParallelStep",
        "ChoiceStep",
        "Branch",
        "Compensation",
        "CircuitBreaker",
        "OAuth2ClientCredentials",
        "OAuth2RefreshToken",
        "FlowAuth",
    ):
        assert name in defs, name
    assert "parallel" in defs["ParallelStep"]["properties"]
    assert set(defs["ParallelStep"]["properties"]["on_error"]["enum"]) == {
        "wait",
        "cancel",
        "continue",
    }
    assert "persistent_context" in schema["properties"]
