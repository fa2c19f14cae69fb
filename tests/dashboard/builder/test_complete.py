"""JMESPath completion in the builder's expression fields."""

from __future__ import annotations

from typing import Any

from orchestra.dashboard import FlowBuilder
from orchestra.dashboard._builder._complete import complete
from orchestra.dashboard._builder._state import completes

PLAN: dict[str, Any] = {
    "key": "complete",
    "config": {"base_url": "http://127.0.0.1:1", "page_size": 10},
    "steps": [
        {"name": "items", "url": "{config.base_url}/items", "records": "items"},
        {"name": "users", "url": "{config.base_url}/users"},
    ],
}
BODY = {"items": [{"id": 1, "detail-url": "/x"}], "total": 1, "next_offset": None}


def test_completions_come_from_the_scopes_the_plan_and_the_last_response() -> None:
    def done(text: str, **options: Any) -> list[str]:
        return complete(text, plan=PLAN, response=BODY, **options)

    assert done("re") == ["response."]
    assert "steps." in done("") and "config." in done("")
    assert done("steps.") == ["steps.items", "steps.users"]
    assert done("steps.it") == ["steps.items"]
    assert "steps.items.body" in done("steps.items.")
    assert done("config.") == ["config.base_url", "config.page_size"]
    assert done("response.body.") == [
        "response.body.items", "response.body.total", "response.body.next_offset"
    ]  # fmt: skip
    assert done("response.body.items[].") == [
        'response.body.items[].id', 'response.body.items[].\"detail-url\"'
    ]  # fmt: skip
    assert done("response.body.items[0].i") == ["response.body.items[0].id"]
    assert done("length(response.body.it") == ["length(response.body.items"]
    # a field over the page body; a template's open expression; nothing after a closed one
    assert done("it", body_relative=True) == ["items"]
    assert done("items[].", body_relative=True) == ["items[].id", 'items[]."detail-url"']
    assert done("{config.base_url}/items/{res") == ["{config.base_url}/items/{response."]
    assert done("{config.base_url}/items") == []
    assert done("{config.ba", template=True) == ["{config.base_url"]
    assert done("co", template=True) == [] and done("co") == ["config.", "context."]
    assert done("response.body.nothing.") == [] and done("5") == []


def test_expression_fields_offer_completions_that_replace_their_value() -> None:
    assert completes("iterate_over") and completes("records") and completes("choice[0].when")
    assert completes("@plan.auth.token_path") and completes("url")
    assert not completes("name") and not completes("method")
    builder = FlowBuilder(PLAN, db=":memory:")
    state = builder.state
    state.selected = "steps[0]"
    state.response = BODY
    builder._focus("while")
    state.expression = "response.body.next_"
    assert state.completions == ["response.body.next_offset"]
    (button,) = builder.completions.select(
        lambda w: "orchestra-completion" in (getattr(w, "css_classes", None) or [])
    )
    button.clicks += 1
    assert state.plan["steps"][0]["while"] == "response.body.next_offset"
    assert not state.issues
    builder._focus("name")
    state.expression = "st"
    assert state.completions == [] and not builder.completions.objects
