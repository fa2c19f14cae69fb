"""The persistent-context seam: a ContextStore carries marked context fields between runs."""

from __future__ import annotations

import httpx
import pytest

import orchestra
from orchestra import InMemoryContextStore, LimitExceeded, RunStatus
from orchestra.engine import ContextStore, config_fingerprint, persistent_values


def sync_plan(**top):
    return {
        "key": "incremental",
        "persistent_context": ["last_sync_time"],
        "steps": [
            {
                "name": "sync",
                "url": "{config.base_url}/echo/sync",
                "params": {"since": "{context.last_sync_time}", "now": "{context.now}"},
                "context_updates": {
                    "last_sync_time": "response.body.query.now",
                    "scratch": "`1`",
                },
            }
        ],
        **top,
    }


def test_persistent_context_carries_a_value_into_the_next_run(demo_api):
    store = InMemoryContextStore()
    config = {"base_url": demo_api.url}
    first = orchestra.run(sync_plan(), config, context={"now": "t1"}, context_store=store)
    second = orchestra.run(sync_plan(), config, context={"now": "t2"}, context_store=store)
    assert first.ok and second.ok, (first.error, second.error)
    assert "since" not in first.records[0].data["query"]  # nothing stored yet: param left out
    assert second.records[0].data["query"]["since"] == "t1"
    assert store.load("incremental", config_fingerprint(config)) == {
        "last_sync_time": "t2"  # only the listed field is kept
    }


def test_values_are_saved_only_after_a_successful_run(run_mock):
    store = InMemoryContextStore()

    def handler(request):
        return httpx.Response(500 if "fail" in str(request.url) else 200, json={"now": "x"})

    plan = sync_plan()
    plan["steps"].append(
        {"name": "end", "url": "{config.base_url}/{config.end}", "retry": {"max_attempts": 1}}
    )
    config = {"base_url": "http://api", "end": "fail"}
    failed = run_mock(plan, handler, config=config, context={"now": "n"}, context_store=store)
    assert failed.status is RunStatus.FAILED
    assert len(store) == 0
    config["end"] = "ok"
    ok = run_mock(plan, handler, config=config, context={"now": "n"}, context_store=store)
    assert ok.ok and len(store) == 1


def test_explicit_context_wins_over_the_stored_one_and_config_keys_the_store(run_mock):
    seen = []

    def handler(request):
        seen.append(request.url.params.get("since"))
        return httpx.Response(200, json={"query": {"now": "next"}})

    store = InMemoryContextStore()
    plan = {**sync_plan(), "config": {"base_url": "http://api", "token": {"env": "TOKEN"}}}
    plan["steps"][0]["context_updates"] = {"last_sync_time": "response.body.query.now"}
    options = {"context_store": store, "environ": {"TOKEN": "secret-1"}}
    run_mock(plan, handler, **options)
    run_mock(plan, handler, **options, context={"last_sync_time": "given"})
    rotated = {**options, "environ": {"TOKEN": "secret-2"}}
    run_mock(plan, handler, **rotated)  # a new secret value: same fingerprint
    run_mock(plan, handler, **options, config={"base_url": "http://other"})  # new config
    assert seen == [None, "given", "next", None]


def test_the_fingerprint_hashes_secret_references_not_values():
    a = config_fingerprint({"base_url": "x", "key": {"env": "K"}})
    assert a == config_fingerprint({"key": {"env": "K"}, "base_url": "x"})
    assert a != config_fingerprint({"base_url": "y", "key": {"env": "K"}})
    assert len(a) == 32


def test_size_limits_fail_the_run_with_the_field_named(run_mock):
    store = InMemoryContextStore()
    plan = {
        "key": "big",
        "persistent_context": ["blob", "small"],
        "limits": {"max_context_field_bytes": 100, "max_context_total_bytes": 150},
        "steps": [
            {
                "name": "s",
                "url": "http://api/x",
                "context_updates": {"blob": "response.body.blob", "small": "response.body.small"},
            }
        ],
    }

    def answer(blob):
        return lambda request: httpx.Response(200, json={"blob": blob, "small": "s" * 60})

    too_big = run_mock(plan, answer("x" * 200), context_store=store)
    assert too_big.status is RunStatus.FAILED
    assert isinstance(too_big.error, LimitExceeded)
    assert "persistent context field 'blob' is 202 bytes" in str(too_big.error)
    assert "max_context_field_bytes" in str(too_big.error)
    in_all = run_mock(plan, answer("x" * 90), context_store=store)
    assert "over the 150-byte limit" in str(in_all.error)
    assert len(store) == 0
    assert run_mock(plan, answer("x"), context_store=store).ok


def test_seed_002_defaults_are_64_kb_per_field_and_1_mb_in_all():
    limits = orchestra.load_plan({"key": "p", "step": {"url": "http://x"}}).model.limits
    assert (limits.max_context_field_bytes, limits.max_context_total_bytes) == (65536, 1048576)
    fields = {f"f{i}": "x" * 60_000 for i in range(18)}
    with pytest.raises(LimitExceeded, match="in all"):
        persistent_values(fields, list(fields), field_limit=65536, total_limit=1048576)
    with pytest.raises(LimitExceeded, match="'f0'"):
        persistent_values({"f0": "x" * 70_000}, ["f0"], field_limit=65536, total_limit=1048576)


def test_the_in_memory_store_is_a_context_store():
    assert isinstance(InMemoryContextStore(), ContextStore)
