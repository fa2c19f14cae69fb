"""The masker: every form a secret takes on the way out is replaced."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote, quote_plus

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestra.engine._auth import resolve_static_auth
from orchestra.engine._config import resolve_config
from orchestra.masking import MASK, MIN_SECRET_LENGTH, Masker
from orchestra.plan import load_plan
from tests.echo_server import FORMS

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


# -- one rule for every encoding ------------------------------------------------------

HARD_SECRETS = ["Zq8+r/T1==", 'a"b\\c', "p&ss w?rd#1", "ünï/cødé+", "tab\there\n😀"]


@pytest.mark.parametrize("secret", HARD_SECRETS)
@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_an_encoder_writes_is_masked(secret, form):
    encoded = FORMS[form](secret)
    masked = Masker([secret]).text(f"before {encoded} after")
    assert masked == f"before {MASK} after"


@pytest.mark.parametrize("secret", HARD_SECRETS)
def test_json_escaped_twice_stays_valid_json_once_masked(secret):
    inner = json.dumps({"secret": secret, "n": 1})
    for ascii_only in (True, False):
        outer = json.dumps({"body": inner}, ensure_ascii=ascii_only)
        masked = json.loads(Masker([secret]).text(outer))
        assert json.loads(masked["body"]) == {"secret": MASK, "n": 1}


def test_the_basic_credentials_base64_is_masked_in_any_form():
    credentials = base64.b64encode(b"user:Zq8+r/T1==?").decode()
    masker = Masker([credentials])
    for name, encode in FORMS.items():
        assert masker.text(encode(credentials)) == MASK, name


def test_innocent_text_is_left_alone():
    masker = Masker(HARD_SECRETS)
    text = 'a%2Fb "quoted" \\u00fc q=p%26ss+w plus+sign Zq8+r/T1='
    assert masker.text(text) == text


def test_without_secrets_text_is_returned_as_is():
    text = "x" * 20_000
    assert Masker().text(text) is text


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(
        st.sampled_from([chr(c) for c in range(0x20, 0x7F)] + list("üéß€日😀\t")), min_size=4
    )
)
def test_no_form_of_a_random_secret_survives(secret):
    masker = Masker([secret])
    for name, encode in FORMS.items():
        masked = masker.text(f"<{encode(secret)}>")
        assert masked == f"<{MASK}>", (name, encode(secret), masked)


# -- the minimum length --------------------------------------------------------------


def test_a_short_secret_is_not_masked_and_its_source_is_named(caplog):
    caplog.set_level(logging.WARNING, logger="orchestra.masking")
    masker = Masker()
    masker.add("xyz", source="config.token (env API_TOKEN)")
    assert masker.text("xyz") == "xyz"
    [record] = caplog.records
    assert "config.token (env API_TOKEN)" in record.getMessage()
    assert f"shorter than {MIN_SECRET_LENGTH} characters" in record.getMessage()
    assert "xyz" not in record.getMessage()


def test_a_short_env_secret_in_config_warns_with_its_key_and_variable(caplog):
    caplog.set_level(logging.WARNING, logger="orchestra.masking")
    resolve_config({"token": {"env": "SHORT_TOKEN"}}, None, Masker(), {"SHORT_TOKEN": "ab"})
    [record] = caplog.records
    assert "config.token (env SHORT_TOKEN)" in record.getMessage()
    assert "'ab'" not in record.getMessage()


def test_a_short_auth_password_warns_once_with_its_key(caplog):
    caplog.set_level(logging.WARNING, logger="orchestra.masking")
    plan = load_plan({
        "key": "k", "config": {"pw": {"env": "PW"}},
        "auth": {"type": "basic", "username": "user", "password": "{config.pw}"},
        "steps": [{"name": "s", "url": "http://127.0.0.1/x"}],
    })  # fmt: skip
    masker = Masker()
    config = resolve_config(plan.model.config, None, masker, {"PW": "pw1"})
    resolve_static_auth(plan.auth, {"config": config}, masker, {})
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2, messages  # the env value, then the credential rendered from it
    assert "config.pw (env PW)" in messages[0] and "auth.password" in messages[1]
