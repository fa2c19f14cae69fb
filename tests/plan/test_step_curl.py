"""``step_to_curl``: a plan step as a curl command that bash and curl run against the demo API.

The answer curl gets is compared with what ``orchestra.run`` gets for the
same step, so the command is checked by the server, not by its text.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

import orchestra
from orchestra.demo import DemoAPI
from orchestra.errors import PlanError
from orchestra.plan import step_to_curl

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")

PLAN = {
    "key": "curl-export",
    "config": {"base_url": "http://127.0.0.1:9", "token": {"env": "DEMO_TOKEN"}},
    "auth": {"type": "bearer", "token": "{config.token}"},
    "steps": [
        {
            "name": "items",
            "url": "{config.base_url}/protected/items",
            "params": {"limit": 3, "cursor": "{prev.body.next_cursor}"},
            "headers": {"X-Note": "it's {config.base_url}"},
            "sub_steps": [
                {"name": "detail", "iterate_over": "response.body.items",
                 "url": "{config.base_url}/items/{item.id}"},
            ],
        },
        {"name": "order", "method": "POST", "url": "{config.base_url}/echo/orders",
         "body": {"sku": "a b", "qty": 2, "tags": ["x"]}},
        {"name": "login", "method": "POST", "url": "{config.base_url}/echo/login",
         "form": {"user": "ann", "note": "a&b"}},
    ],
}  # fmt: skip


def curl_json(command: str) -> dict:
    env = {"PATH": os.environ["PATH"], "DEMO_TOKEN": "demo-static-token"}
    result = subprocess.run(
        ["bash", "-c", command + " --silent --show-error"],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def orchestra_body(api: DemoAPI, step: str) -> dict:
    plan = {**PLAN, "steps": [s for s in PLAN["steps"] if s["name"] == step]}
    environ = {**os.environ, "DEMO_TOKEN": "demo-static-token"}
    result = orchestra.run(plan, {"base_url": api.url}, db=None, environ=environ)
    assert result.ok, result.error
    return result.records_of(step)[0]


@needs_curl
def test_a_paginated_step_with_a_secret_token_gets_what_the_run_gets(demo_api: DemoAPI):
    command = step_to_curl(PLAN, "items", {"base_url": demo_api.url})
    assert "demo-static-token" not in command and '"Authorization: Bearer ${DEMO_TOKEN}"' in command
    assert "cursor" not in command  # a null whole-value parameter is left out, as on page 1
    assert curl_json(command) == orchestra_body(demo_api, "items")


@needs_curl
def test_json_and_form_bodies(demo_api: DemoAPI):
    order = curl_json(step_to_curl(PLAN, "order", {"base_url": demo_api.url}))
    assert order["body"] == {"sku": "a b", "qty": 2, "tags": ["x"]}
    assert order == {**orchestra_body(demo_api, "order"), "headers": order["headers"]}
    login = curl_json(step_to_curl(PLAN, "login", {"base_url": demo_api.url}))
    assert login["form"] == {"user": "ann", "note": "a&b"}
    assert login["form"] == orchestra_body(demo_api, "login")["form"]


@needs_curl
def test_braces_and_brackets_in_the_url_reach_the_server_as_written(demo_api: DemoAPI):
    plan = {"key": "glob", "steps": [{"name": "find", "url": "{config.base_url}/echo/a[1]",
                                      "params": {"filter": '{{"a":[1,2]}}'}}]}  # fmt: skip
    command = step_to_curl(plan, "find", {"base_url": demo_api.url})
    seen = curl_json(command)
    assert seen["query"] == {"filter": '{"a":[1,2]}'}
    run = orchestra.run(plan, {"base_url": demo_api.url}, db=None)
    assert run.ok
    assert (seen["path"], seen["query"]) == (
        run.records[0].data["path"],
        run.records[0].data["query"],
    )


def test_what_only_a_run_knows_stays_a_template_and_is_named():
    command = step_to_curl(PLAN, "items.detail")
    assert "'http://127.0.0.1:9/items/{item.id}'" in command
    assert "# {item.id} is known only when the flow runs: fill it in" in command.splitlines()


def test_a_whole_value_only_a_run_knows_is_kept_not_dropped():
    plan = {"key": "k", "steps": [
        {"name": "a", "url": "http://api.test/a"},
        {"name": "b", "method": "POST", "url": "http://api.test/b",
         "params": {"owner": "{steps.a.body.id}", "cursor": "{prev.body.next}"},
         "headers": {"X-Parent": "{steps.a.body.etag}"}, "body": {"id": "{steps.a.body.id}"}},
    ]}  # fmt: skip
    command = step_to_curl(plan, "b")
    assert "owner={steps.a.body.id}" in command and "cursor" not in command
    assert "X-Parent: {steps.a.body.etag}" in command
    assert '{"id":"{steps.a.body.id}"}' in command
    lines = command.splitlines()
    assert "# {steps.a.body.id} is known only when the flow runs: fill it in" in lines
    assert "# {steps.a.body.etag} is known only when the flow runs: fill it in" in lines


def test_basic_and_token_auth():
    basic = {**PLAN, "auth": {"type": "basic", "username": "demo",
                              "password": {"env": "DEMO_PASSWORD"}}}  # fmt: skip
    assert '-u "demo:${DEMO_PASSWORD}"' in step_to_curl(basic, "order")
    token = {**PLAN, "auth": {"type": "oauth2_client_credentials", "token_url": "http://t/x",
                              "client_id": "c", "client_secret": {"env": "S"}}}  # fmt: skip
    assert "oauth2_client_credentials gets its token when the flow runs" in step_to_curl(
        token, "order"
    )


def test_an_unknown_step_names_the_steps_there_are():
    with pytest.raises(PlanError, match="no step 'nope'") as caught:
        step_to_curl(PLAN, "nope")
    assert "items, items.detail, order, login" in (caught.value.issues[0].fix or "")
