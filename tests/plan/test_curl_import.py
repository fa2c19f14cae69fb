"""``step_from_curl``: commands as browsers copy them become steps that make the same request.

The round-trip tests run the imported plan against the demo API's ``/echo``,
which answers with the request it received, so what is compared is what
the server saw, not what the importer wrote.
"""

from __future__ import annotations

import base64
import os

import pytest

import orchestra
from orchestra.demo import DemoAPI
from orchestra.errors import RequestImportError
from orchestra.plan import load_plan, step_from_curl

CHROME = r"""curl '{url}/echo/v1/users?limit=10&cursor=abc%20def&tag=a&tag=b' \
  -H 'accept: application/json, text/plain, */*' \
  -H 'accept-language: en-GB,en;q=0.9' \
  -H 'authorization: Bearer tok-3f9a1c' \
  -H 'content-type: application/json' \
  -H 'sec-ch-ua: "Chromium";v="131", "Not_A Brand";v="24"' \
  -H 'sec-fetch-mode: cors' \
  -H 'x-request-source: {{builder}}' \
  --data-raw \
  $'{{"name":"O\'Brien {{me}}","tags":["a","b"],"n":3,"ok":true,"note":"caf\u00e9\\n"}}' \
  --compressed"""


def echo(imported: orchestra.plan.Imported, api: DemoAPI) -> dict:
    """Run the imported step against the demo API; the request the server saw."""
    result = orchestra.run(imported.plan(), db=None, environ={**os.environ, **imported.secrets})
    assert result.ok, result.error
    return result.records[0].data


def test_a_chrome_copy_with_headers_query_and_json_body(demo_api: DemoAPI):
    imported = step_from_curl(CHROME.format(url=demo_api.url))
    step = imported.step
    assert step["url"] == f"{demo_api.url}/echo/v1/users"
    assert step["method"] == "POST"
    assert step["params"] == {"limit": "10", "cursor": "abc def", "tag": ["a", "b"]}
    assert step["body"] == {
        "name": "O'Brien {{me}}",  # a literal brace, not a template
        "tags": ["a", "b"],
        "n": 3,
        "ok": True,
        "note": "café\n",
    }
    assert step["headers"] == {
        "accept": "application/json, text/plain, */*",
        "accept-language": "en-GB,en;q=0.9",
        "x-request-source": "{{builder}}",
    }
    assert imported.auth == {"type": "bearer", "token": {"env": "API_TOKEN"}}
    assert imported.secrets == {"API_TOKEN": "tok-3f9a1c"}
    assert "tok-3f9a1c" not in repr(imported) and "tok-3f9a1c" not in str(imported.plan())
    assert any("sec-ch-ua" in note and "sec-fetch-mode" in note for note in imported.notes)
    load_plan(imported.plan())  # a valid plan

    seen = echo(imported, demo_api)
    assert seen["method"] == "POST" and seen["path"] == "/echo/v1/users"
    assert seen["query"] == {"limit": "10", "cursor": "abc def", "tag": ["a", "b"]}
    assert seen["headers"]["authorization"] == "Bearer tok-3f9a1c"
    assert seen["headers"]["x-request-source"] == "{builder}"
    assert seen["headers"]["content-type"].startswith("application/json")
    assert seen["body"] == {"name": "O'Brien {me}", "tags": ["a", "b"], "n": 3, "ok": True,
                            "note": "café\n"}  # fmt: skip


def test_a_form_post_with_basic_auth_cookie_and_secret_field(demo_api: DemoAPI):
    text = (
        f"curl -sSL -XPOST {demo_api.url}/echo/login -u 'demo:pa ss:word' "
        "-d 'user=ann' -d 'password=hunter2' --data-urlencode 'note=a&b c' -b 'sid=s-1; x=2' "
        "-A 'orchestra-test'"
    )
    imported = step_from_curl(text)
    assert imported.step["form"] == {
        "user": "ann",
        "password": "{config.password}",
        "note": "a&b c",
    }
    assert imported.auth == {"type": "basic", "username": "demo",
                             "password": {"env": "API_PASSWORD"}}  # fmt: skip
    assert imported.config == {"password": {"env": "PASSWORD"}, "cookie": {"env": "COOKIE"}}
    assert imported.secrets == {"API_PASSWORD": "pa ss:word", "PASSWORD": "hunter2",
                                "COOKIE": "sid=s-1; x=2"}  # fmt: skip
    seen = echo(imported, demo_api)
    assert seen["form"] == {"user": "ann", "password": "hunter2", "note": "a&b c"}
    expected = base64.b64encode(b"demo:pa ss:word").decode()
    assert seen["headers"]["authorization"] == f"Basic {expected}"
    assert seen["headers"]["cookie"] == "sid=s-1; x=2"
    assert seen["headers"]["user-agent"] == "orchestra-test"


def test_get_with_data_moves_it_into_the_query(demo_api: DemoAPI):
    imported = step_from_curl(
        f"curl -G --url '{demo_api.url}/echo/search?x=1' --data-urlencode 'q=hello world' -d n=2"
    )
    assert "method" not in imported.step and "form" not in imported.step
    assert imported.step["params"] == {"x": "1", "q": "hello world", "n": "2"}
    assert echo(imported, demo_api)["query"] == {"x": "1", "q": "hello world", "n": "2"}


def test_json_option_and_other_bodies(demo_api: DemoAPI):
    imported = step_from_curl(f"""curl --json '{{"a": [1, 2]}}' {demo_api.url}/echo""")
    assert imported.step["body"] == {"a": [1, 2]} and imported.step["method"] == "POST"
    assert echo(imported, demo_api)["body"] == {"a": [1, 2]}
    xml = step_from_curl(
        f"curl -X PUT {demo_api.url}/echo -H 'Content-Type: text/xml' --data-binary '<a>1</a>'"
    )
    assert xml.step["body"] == "<a>1</a>" and xml.step["headers"] == {"Content-Type": "text/xml"}
    assert echo(xml, demo_api)["body"] == "<a>1</a>"


def test_an_api_key_header_becomes_api_key_auth():
    imported = step_from_curl("curl https://api.test/items -H 'X-API-Key: k-123'")
    assert imported.auth == {"type": "api_key", "name": "X-API-Key",
                             "value": {"env": "X_API_KEY"}}  # fmt: skip
    assert imported.secrets == {"X_API_KEY": "k-123"}


def test_firefox_copy_with_line_continuations_and_double_quotes():
    text = (
        'curl "https://api.test/a" \\\n  -X "DELETE" \\\r\n  -H "Accept: */*" '
        '-H "X-Note: say \\"hi\\" for \\$5"'
    )
    step = step_from_curl(text).step
    assert step["method"] == "DELETE"
    assert step["headers"] == {"Accept": "*/*", "X-Note": 'say "hi" for $5'}


@pytest.mark.parametrize(
    ("text", "message", "fix"),
    [
        ("curl -Z --frobnicate https://x.test -q", "unknown curl options: -Z, --frobnicate, -q",
         "remove them"),
        ("wget https://x.test", "starts with 'curl', this one with 'wget'", "Copy as cURL"),
        ("curl 'https://x.test", "single quote at character 6 is not closed", "quotes"),
        ("curl -d @body.json https://x.test", "-d '@body.json' reads the value from a file",
         "paste the file's content"),
        ("curl -F 'f=@a.png' https://x.test", "multipart form", "form:"),
        ("curl -H", "option -H needs a value", "-H VALUE"),
        ("curl -H 'nocolon' https://x.test", "is not a header", "-H 'Name: value'"),
        ("curl -X POST", "has no URL", "add the URL"),
        ("curl https://a.test https://b.test", "has 2 URLs", "one URL at a time"),
        ("curl -u bob https://x.test", "-u gives no password", "-u user:password"),
    ],
)  # fmt: skip
def test_what_cannot_be_read_is_named_with_the_fix(text: str, message: str, fix: str):
    with pytest.raises(RequestImportError) as caught:
        step_from_curl(text)
    assert message in caught.value.message
    assert fix in (caught.value.fix or "")
    assert str(caught.value).startswith("curl command: ")


def test_credentials_in_the_url_become_basic_auth_and_leave_the_plan(demo_api: DemoAPI):
    url = demo_api.url.replace("://", "://ann:pw%2Fs3cret-9@", 1)
    imported = step_from_curl(f"curl '{url}/echo/a?x=1'")
    assert imported.step["url"] == f"{demo_api.url}/echo/a"
    assert imported.auth == {"type": "basic", "username": "ann",
                             "password": {"env": "API_PASSWORD"}}  # fmt: skip
    assert imported.secrets == {"API_PASSWORD": "pw/s3cret-9"}
    assert "s3cret" not in str(imported.plan())
    seen = echo(imported, demo_api)
    expected = base64.b64encode(b"ann:pw/s3cret-9").decode()
    assert seen["headers"]["authorization"] == f"Basic {expected}"


def test_a_key_given_as_the_user_with_no_password_is_the_secret(demo_api: DemoAPI):
    key = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
    for command in (
        f"curl {demo_api.url}/echo/v1/charges -u {key}:",
        f"curl {demo_api.url}/echo/v1/charges -H 'Authorization: Basic "
        f"{base64.b64encode(f'{key}:'.encode()).decode()}'",
    ):
        imported = step_from_curl(command)
        assert imported.auth == {"type": "basic", "username": {"env": "API_USERNAME"},
                                 "password": ""}  # fmt: skip
        assert imported.secrets == {"API_USERNAME": key}
        assert key not in str(imported.plan())
        seen = echo(imported, demo_api)
        assert seen["headers"]["authorization"] == (
            "Basic " + base64.b64encode(f"{key}:".encode()).decode()
        )


def test_secret_fields_of_a_json_body_become_config_secrets(demo_api: DemoAPI):
    body = '{"user":"ann","password":"hunter22","client":{"client_secret":"cs-9f1","n":[1]}}'
    imported = step_from_curl(f"curl {demo_api.url}/echo/login --json '{body}'")
    assert imported.step["body"] == {
        "user": "ann",
        "password": "{config.password}",
        "client": {"client_secret": "{config.client_secret}", "n": [1]},
    }
    assert imported.secrets == {"PASSWORD": "hunter22", "CLIENT_SECRET": "cs-9f1"}
    assert "hunter22" not in str(imported.plan()) and "cs-9f1" not in str(imported.plan())
    assert echo(imported, demo_api)["body"] == {
        "user": "ann", "password": "hunter22", "client": {"client_secret": "cs-9f1", "n": [1]}
    }  # fmt: skip


@pytest.mark.parametrize(
    "form",
    [
        "grant_type=password&password=hunter%2622&scope=a&scope=b",  # a name repeats
        "password=hunter%2622&",  # a stray '&': not one name=value per field
    ],
)
def test_a_form_body_kept_as_text_keeps_its_secrets_apart(demo_api: DemoAPI, form: str):
    imported = step_from_curl(f"curl {demo_api.url}/echo/token -d '{form}'")
    assert "hunter" not in str(imported.plan())
    assert imported.secrets == {"PASSWORD": "hunter%2622"}  # as it stands in the body
    assert any("form-encoded" in note for note in imported.notes)
    assert echo(imported, demo_api)["body"] == form  # the same bytes reach the server


@pytest.mark.parametrize(
    "text",
    [
        "curl -u sk_live_S3CRETKEY https://x.test",  # a key whose ':' was lost
        "curl -H 'Authorization Bearer S3CRETKEY' https://x.test",  # a header's ':' lost
        "curl 'https://x.test/a?token=S3CRETKEY' https://y.test",
        "curl 'https://ann:S3CRETKEY@x.test/a' https://y.test",
        "curl -F 'api_key=S3CRETKEY' https://x.test",
    ],
)
def test_an_error_never_shows_a_secret_of_the_command(text: str):
    with pytest.raises(RequestImportError) as caught:
        step_from_curl(text)
    assert "S3CRETKEY" not in str(caught.value)
    assert caught.value.fix


def test_repeated_headers_are_sent_joined_not_dropped(demo_api: DemoAPI):
    headers = "-H 'Cookie: sid=s-1' -b 'theme=dark' -H 'X-Tag: a' -H 'x-tag: b'"
    imported = step_from_curl(f"curl {demo_api.url}/echo {headers}")
    assert imported.step["headers"] == {"Cookie": "{config.cookie}", "X-Tag": "a, b"}
    assert imported.secrets == {"COOKIE": "sid=s-1; theme=dark"}
    seen = echo(imported, demo_api)["headers"]
    assert seen["cookie"] == "sid=s-1; theme=dark" and seen["x-tag"] == "a, b"


def test_an_escape_beyond_unicode_stays_as_written():
    imported = step_from_curl("curl $'https://x.test/a\\U00110000'")
    assert imported.step["url"] == "https://x.test/a\\U00110000"


def test_a_secret_written_as_a_shell_variable_is_a_reference_with_no_value():
    imported = step_from_curl(
        "curl -u '${USER_NAME}:$PASSWORD' 'https://api.example.com/a?api_key=${KEY}' "
        "-H 'Cookie: ${SESSION}'"
    )
    assert imported.auth == {
        "type": "basic",
        "username": {"env": "USER_NAME"},
        "password": {"env": "PASSWORD"},
    }
    assert imported.config == {"api_key": {"env": "KEY"}, "cookie": {"env": "SESSION"}}
    assert imported.secrets == {}
