"""The masker: every form a secret takes on the way out is replaced."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import orjson
import pytest

from orchestra.masking import MASK, Masker

TOKEN = "eyJhbGciOi/Jz+dW5=/signed"  # base64-ish: slashes, plus, equals
UNICODE = 'pässwörd-"quoted"/x'


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(TOKEN, id="raw"),
        pytest.param(json.dumps(TOKEN)[1:-1], id="json"),
        pytest.param(json.dumps(TOKEN)[1:-1].replace("/", "\\/"), id="json-escaped-slashes"),
        pytest.param(quote(TOKEN, safe=""), id="percent"),
        pytest.param(quote_plus(TOKEN), id="percent-plus"),
    ],
)
def test_each_outgoing_form_of_a_token_is_masked(form):
    masker = Masker([TOKEN])
    text = masker.text(f'{{"echo": "{form}", "other": 1}}')
    assert form not in text and MASK in text


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(json.dumps({"v": UNICODE}), id="ascii-json"),
        pytest.param(json.dumps({"v": UNICODE}, ensure_ascii=False), id="utf8-json"),
        pytest.param(orjson.dumps({"v": UNICODE}).decode(), id="orjson"),
        pytest.param(
            json.dumps({"v": UNICODE}, ensure_ascii=False).replace("/", "\\/"), id="php-json"
        ),
    ],
)
def test_a_secret_with_quotes_and_non_ascii_is_masked_in_any_json(encoded):
    masker = Masker([UNICODE])
    masked = masker.text(encoded)
    assert json.loads(masked) == {"v": MASK}


def test_a_reference_replaces_every_form():
    masker = Masker()
    masker.add(TOKEN, reference="${API_TOKEN}")
    php = json.dumps(TOKEN)[1:-1].replace("/", "\\/")
    assert masker.text(f"a={quote_plus(TOKEN)} b={php}") == "a=${API_TOKEN} b=${API_TOKEN}"


def test_short_values_are_not_secrets():
    masker = Masker(["ab"])
    assert masker.text("abc") == "abc"
