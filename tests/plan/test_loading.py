"""Loading plans: JSON, YAML, seed-002 examples, round trip, JSON Schema."""

import json
import re
from pathlib import Path

import jsonschema
import pytest

from orchestra import load_plan, plan_json_schema

ROOT = Path(__file__).resolve().parents[2]
SEED_002 = ROOT.parent / "shared" / "reference" / "seeds" / "002_83cc88d3ace0bb01.txt"
SEED_TEMPLATES = [
    ROOT / "templates" / "seed-002-basic.json",
    ROOT / "templates" / "seed-002-fanout.json",
]


@pytest.mark.parametrize("path", SEED_TEMPLATES, ids=lambda p: p.name)
def test_seed_examples_load_unchanged(path):
    plan = load_plan(path)
    # exported plans spell the seed's `emit_to_kafka` as its canonical name `emit`
    expected = path.read_text().replace('"emit_to_kafka"', '"emit"')
    assert plan.to_dict() == json.loads(expected)


@pytest.mark.skipif(not SEED_002.exists(), reason="shared/ seeds not beside the checkout")
def test_templates_are_the_seed_text_verbatim():
    blocks = re.findall(r"```json\n(.*?)```", SEED_002.read_text(), re.S)
    plans = [json.loads(b) for b in blocks if '"key"' in b and '"step"' in b]
    assert plans == [json.loads(p.read_text()) for p in SEED_TEMPLATES]
    for plan in plans:
        load_plan(plan)


def test_seed_fanout_structure():
    plan = load_plan(SEED_TEMPLATES[1])
    main = plan.steps[0]
    assert [s.path for s in plan.walk()] == ["main", "main.sub_1"]
    sub = main.sub_steps[0]
    assert sub.concurrency == 50
    assert sub.model.emit is True
    assert plan.model.rate_limits[0].scope == "per_config"


def test_yaml_and_json_give_the_same_plan(tmp_path):
    yaml_text = """
key: users
config:
  base_url: http://x
  token: {env: API_TOKEN}
steps:
  - name: users
    url: "{config.base_url}/users"
    while: response.body.next != null
    sub_steps:
      - name: detail
        iterate_over: response.body.items
        url: "{config.base_url}/users/{item.id}"
        concurrency: 5
"""
    path = tmp_path / "plan.yaml"
    path.write_text(yaml_text)
    from_yaml = load_plan(path)
    from_json = load_plan(json.dumps(from_yaml.to_dict()))
    assert from_json.to_dict() == from_yaml.to_dict()
    assert from_yaml.to_dict()["config"]["token"] == {"env": "API_TOKEN"}


def test_unnamed_steps_get_stable_names():
    plan = load_plan({"key": "p", "steps": [{"url": "http://a"}, {"url": "http://b"}]})
    assert [s.name for s in plan.steps] == ["step_1", "step_2"]


def test_emit_to_kafka_is_an_alias_of_emit():
    plan = load_plan({"key": "p", "step": {"url": "http://a", "emit_to_kafka": False}})
    assert plan.steps[0].model.emit is False


def test_schema_validates_the_seed_examples():
    schema = plan_json_schema()
    assert "properties" in schema and "key" in schema["required"]
    for path in SEED_TEMPLATES:
        jsonschema.validate(json.loads(path.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"key": "p", "steps": [{"url": "x", "metod": "GET"}]}, schema)
