"""Values a step keeps (``extract``, ``context_updates``) are copies, never the scope itself."""

import httpx

import orchestra


def _transport() -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, json={"n": 1}))


def test_a_context_update_that_selects_the_context_does_not_make_it_contain_itself() -> None:
    plan = {
        "key": "self",
        "steps": [
            {
                "name": "a",
                "url": "http://api.test/a",
                "context_updates": {"page": "`1`", "saved": "context", "everything": "@"},
                "extract": {"all": "@"},
            },
            {"name": "b", "url": "http://api.test/b/{context.saved.page || `0`}"},
        ],
    }

    result = orchestra.run(plan, transport=_transport())  # captured: masking and JSON walk it

    assert result.status == orchestra.RunStatus.SUCCEEDED, result.error
    # each update sees the context as it was when it was evaluated (in order), as a copy
    assert result.context["saved"] == {"page": 1}
    assert result.context["everything"]["context"] == {"page": 1, "saved": {"page": 1}}
