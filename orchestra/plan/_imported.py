"""``Imported``: one HTTP request, read from a curl command or a HAR entry, as a plan step.

Both importers (``_curl_import.py``, ``_har_import.py``) read their input
into a :class:`RawRequest` and hand it to :func:`imported_step`, which writes
the step the plan format would have a person write:

* the query string becomes ``params:``, a JSON body ``body:`` (an object, not
  a string), a form body ``form:``; literal braces are doubled (``{{``) so that
  nothing imported is read as a ``{template}``;
* ``Authorization: Bearer …`` / ``Basic …`` (and ``curl -u``, or a user and
  password in the URL) become the plan's ``auth:`` (with no password, as in
  ``-u KEY:``, the user name is the secret), a lone API-key header an
  ``api_key`` auth; cookies and
  other sensitive headers, query or form fields, and JSON body fields named
  like secrets (``password``, ``client_secret`` …) become ``config`` values —
  each secret as an ``{env: NAME}`` reference, its value kept apart in
  :attr:`Imported.secrets` (for the caller to put in the environment or a
  notebook's secrets), never in the plan; a secret written as a shell
  variable (``Bearer $API_TOKEN``, ``${API_TOKEN}``) is that ``{env: NAME}``
  reference, with no value to keep;
* headers a client computes itself (``Host``, ``Content-Length``,
  ``Accept-Encoding`` …) and browser-only ones (``sec-ch-*``, ``sec-fetch-*``)
  are left out, and :attr:`Imported.notes` says so.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit, urlunsplit

from orchestra.masking import is_sensitive_header, is_sensitive_param

# Computed by the client from the URL, the body or the connection; never written in a plan.
_COMPUTED_HEADERS = frozenset(
    {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te",
     "upgrade", "proxy-connection", "trailer", "accept-encoding"}
)  # fmt: skip
_BROWSER_ONLY = re.compile(r"^(sec-ch-|sec-fetch-|priority$|:)", re.IGNORECASE)
_ENV_NAME = re.compile(r"[^A-Z0-9]+")
_NAME_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass
class RawRequest:
    """A request as an importer read it: nothing interpreted yet."""

    url: str
    method: str = "GET"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None
    json_body: bool = False  # the body is JSON whatever the headers say (curl --json)
    basic: tuple[str, str] | None = None  # curl -u user:password
    bearer: str | None = None  # curl --oauth2-bearer
    timeout_seconds: float | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Imported:
    """A step made from an imported request, with the plan settings it needs.

    ``step`` is a step of the plan format; ``auth`` the plan's ``auth:`` it
    needs (None: none); ``config`` the plan ``config:`` values its templates
    read (secrets as ``{"env": NAME}``); ``secrets`` maps each such NAME to the
    value that was in the request — kept out of every plan, and out of this
    object's ``repr``; ``notes`` says what was left out and why.
    """

    step: dict[str, Any]
    auth: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)

    def plan(self, key: str = "imported") -> dict[str, Any]:
        """A whole plan holding this one step (``orchestra import`` prints it)."""
        plan: dict[str, Any] = {"key": key}
        if self.config:
            plan["config"] = dict(self.config)
        if self.auth is not None:
            plan["auth"] = dict(self.auth)
        plan["steps"] = [dict(self.step)]
        return plan


def literal(value: Any) -> Any:
    """A value read from a request, with every brace doubled so no template is seen in it."""
    if isinstance(value, str):
        return value.replace("{", "{{").replace("}", "}}")
    if isinstance(value, list):
        return [literal(item) for item in value]
    if isinstance(value, dict):
        return {key: literal(item) for key, item in value.items()}
    return value


def name_from_url(url: str) -> str:
    """A step name from the last word of a URL's path: ``/v1/user-search`` → ``user_search``."""
    path = urlsplit(url).path
    for word in reversed([part for part in path.split("/") if part]):
        if _NAME_WORD.fullmatch(word):
            return word.replace("-", "_").lower()
    return "request"


def env_name(*parts: str) -> str:
    """``API_TOKEN``-style environment variable name from words."""
    text = "_".join(part for part in parts if part)
    name = _ENV_NAME.sub("_", text.upper()).strip("_")
    return name if name and not name[0].isdigit() else f"API_{name}"


# A secret written as a shell variable (`-H "Authorization: Bearer ${API_TOKEN}"`, as API
# docs and `step_to_curl` write it) names the environment variable that holds it.
_SHELL_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


class _Secrets:
    """Hands out ``{env: NAME}`` references and remembers their values."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.config: dict[str, Any] = {}

    def reference(self, name: str, value: str) -> dict[str, str]:
        placeholder = _SHELL_VARIABLE.fullmatch(value)
        if placeholder is not None:  # `$TOKEN` / `${TOKEN}`: already a reference, no value
            return {"env": placeholder.group(1) or placeholder.group(2)}
        unique, number = name, 2
        while unique in self.values and self.values[unique] != value:
            unique, number = f"{name}_{number}", number + 1
        self.values[unique] = value
        return {"env": unique}

    def config_value(self, words: str, value: str) -> str:
        """A secret kept as a config value: the template that reads it."""
        base = key = env_name(words).lower()
        number = 2
        while key in self.config:
            key, number = f"{base}_{number}", number + 1
        self.config[key] = self.reference(env_name(key), value)
        return "{config." + key + "}"


def imported_step(request: RawRequest, name: str | None = None) -> Imported:
    """The step (and auth, config, secrets) for ``request``; see the module docstring."""
    secrets = _Secrets()
    notes = list(request.notes)
    step: dict[str, Any] = {}
    if name:
        step["name"] = name
    method = request.method.upper()
    request = _credentials_out_of_url(request)
    url, params = _split_url(request.url, secrets)
    step["url"] = url
    if method != "GET":
        step["method"] = method
    if params:
        step["params"] = params
    auth = _basic_or_bearer(request, secrets)
    request_headers = _merged(request.headers)
    for header, value in request_headers:  # Authorization first: it decides the auth
        if auth is None and header.lower() == "authorization":
            auth = _auth_header(value, secrets)
    headers: dict[str, Any] = {}
    content_type = ""
    dropped: list[str] = []
    for header, value in request_headers:
        lower = header.lower()
        if lower == "content-type":
            content_type = value
        if lower in _COMPUTED_HEADERS or _BROWSER_ONLY.match(lower):
            dropped.append(header)
        elif lower == "authorization" and auth is not None:
            continue  # it is the plan's auth now
        elif auth is None and lower.endswith("-key") and is_sensitive_header(lower):
            auth = {"type": "api_key", "name": header,
                    "value": secrets.reference(env_name(header), value)}  # fmt: skip
        elif is_sensitive_header(lower):
            headers[header] = secrets.config_value(header, value)
        else:
            headers[header] = literal(value)
    if dropped:
        notes.append("left out headers the client sets itself: " + ", ".join(dropped))
    body_fields = _body(request, content_type, secrets, notes)
    if "body" in body_fields or "form" in body_fields:
        headers = {
            k: v
            for k, v in headers.items()
            if k.lower() != "content-type" or not _sets_own_type(body_fields, v)
        }
    if headers:
        step["headers"] = headers
    step.update(body_fields)
    if request.timeout_seconds is not None:
        step["timeout_seconds"] = request.timeout_seconds
    return Imported(step, auth, secrets.config, secrets.values, notes)


def _merged(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """One header per name (any case, first spelling kept), as a server reads repeats:
    cookies joined with ``; `` (``-H 'Cookie: …' -b …``, a browser's split HTTP/2
    cookies), other values with ``, ``."""
    merged: dict[str, tuple[str, list[str]]] = {}
    for header, value in headers:
        merged.setdefault(header.lower(), (header, []))[1].append(value)
    return [
        (header, ("; " if header.lower() == "cookie" else ", ").join(values))
        for header, values in merged.values()
    ]


def _sets_own_type(body_fields: dict[str, Any], content_type: str) -> bool:
    """Whether the engine sends this content type itself for the step's body."""
    lowered = content_type.lower()
    if "form" in body_fields:
        return "x-www-form-urlencoded" in lowered
    return isinstance(body_fields.get("body"), (dict, list)) and lowered.startswith(
        "application/json"
    )


def _split_url(url: str, secrets: _Secrets) -> tuple[str, dict[str, Any]]:
    parts = urlsplit(url)
    params: dict[str, Any] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if is_sensitive_param(key):
            found: Any = secrets.config_value(key, value)
        else:
            found = literal(value)
        if key in params:
            earlier = params[key]
            params[key] = [*earlier, found] if isinstance(earlier, list) else [earlier, found]
        else:
            params[key] = found
    bare = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return literal(bare), params


def _credentials_out_of_url(request: RawRequest) -> RawRequest:
    """``https://user:password@host/…`` as curl sends it: the URL without its user
    information, which becomes the request's HTTP Basic credentials (unless ``-u`` gave
    others)."""
    parts = urlsplit(request.url)
    if "@" not in parts.netloc:
        return request
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    url = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    basic = request.basic or (unquote(user), unquote(password))
    return replace(request, url=url, basic=basic)


def _basic(user: str, password: str, secrets: _Secrets) -> dict[str, Any]:
    """Basic auth with the password as a secret; with no password (``-u KEY:``, Stripe's
    way) the user name is the credential, and is the secret instead."""
    if not password:
        return {"type": "basic", "username": secrets.reference("API_USERNAME", user),
                "password": ""}  # fmt: skip
    username = (
        secrets.reference("API_USERNAME", user)
        if _SHELL_VARIABLE.fullmatch(user)
        else literal(user)
    )
    return {"type": "basic", "username": username,
            "password": secrets.reference("API_PASSWORD", password)}  # fmt: skip


def _basic_or_bearer(request: RawRequest, secrets: _Secrets) -> dict[str, Any] | None:
    if request.basic is not None:
        return _basic(*request.basic, secrets)
    if request.bearer is not None:
        return {"type": "bearer", "token": secrets.reference("API_TOKEN", request.bearer)}
    return None


def _auth_header(value: str, secrets: _Secrets) -> dict[str, Any] | None:
    scheme, _, credential = value.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() == "bearer" and credential:
        return {"type": "bearer", "token": secrets.reference("API_TOKEN", credential)}
    if scheme.lower() == "basic" and credential:
        try:
            decoded = base64.b64decode(credential, validate=True).decode("utf-8")
        except ValueError:
            return None
        user, sep, password = decoded.partition(":")
        if sep:
            return _basic(user, password, secrets)
    return None


def _body(
    request: RawRequest, content_type: str, secrets: _Secrets, notes: list[str]
) -> dict[str, Any]:
    body = request.body
    if body is None:
        return {}
    lowered = content_type.lower()
    if request.json_body or "json" in lowered:
        try:
            return {"body": _json_secrets(json.loads(body), secrets)}
        except ValueError:
            return {"body": literal(body)}
    if "x-www-form-urlencoded" in lowered:
        try:
            fields = parse_qsl(body, keep_blank_values=True, strict_parsing=True)
        except ValueError:
            fields = []
        if fields and len({key for key, _ in fields}) == len(fields):
            return {
                "form": {
                    key: secrets.config_value(key, value)
                    if is_sensitive_param(key)
                    else literal(value)
                    for key, value in fields
                }
            }
        return {"body": _raw_form_secrets(body, secrets, notes)}  # sent as written, secrets out
    return {"body": literal(body)}


def _json_secrets(value: Any, secrets: _Secrets) -> Any:
    """A JSON body as written (braces doubled), each string under a sensitive key
    (``password``, ``client_secret``, ``refresh_token`` …) as a config secret."""
    if isinstance(value, dict):
        return {
            key: secrets.config_value(key, item)
            if isinstance(item, str) and item and is_sensitive_param(key)
            else _json_secrets(item, secrets)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_json_secrets(item, secrets) for item in value]
    return literal(value)


def _raw_form_secrets(body: str, secrets: _Secrets, notes: list[str]) -> str:
    """A form body that is not one field per name (a repeated name, a stray ``&``) kept
    as its text, each sensitive field's value (still encoded, so the bytes sent are the
    same) a config secret."""
    parts = []
    for segment in body.split("&"):
        name, sep, value = segment.partition("=")
        if sep and value and is_sensitive_param(unquote_plus(name)):
            parts.append(literal(name) + "=" + secrets.config_value(unquote_plus(name), value))
            notes.append(
                "the form body is kept as text (a field name repeats, or it is not one "
                f"name=value per field): the secret of {unquote_plus(name)!r} is its value "
                "form-encoded, as it stands in the body"
            )
        else:
            parts.append(literal(segment))
    return "&".join(parts)


@dataclass
class ImportedPlan:
    """Several imported steps as one plan (``orchestra import har``), secrets kept apart."""

    plan: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)


def combined_plan(imports: list[Imported], key: str = "imported") -> ImportedPlan:
    """One plan of every imported step: their config merged (a name two steps use for
    different secrets is numbered), the first step's auth (later ones noted if different).
    Every environment variable holds one value: a config secret and the auth's token that
    came out with the same name (``?api_token=`` and a bearer ``API_TOKEN``) are numbered
    apart, never one read for the other."""
    config: dict[str, Any] = {}
    secrets: dict[str, str] = {}  # env name -> value, one value per name

    def claim(env: str, value: str) -> str:
        name, number = env, 2
        while name in secrets and secrets[name] != value:
            name, number = f"{env}_{number}", number + 1
        secrets[name] = value
        return name

    notes: list[str] = []
    auth: dict[str, Any] | None = None
    first_auth: tuple[dict[str, Any], dict[str, str]] | None = None
    steps = []
    for index, imported in enumerate(imports):
        step = imported.step
        if imported.auth is not None:
            own = {name: imported.secrets[name] for name in _env_names(imported.auth)}
            if first_auth is None:
                first_auth, auth = (imported.auth, own), imported.auth
                for name, value in own.items():
                    auth = renamed_env(auth, name, claim(name, value))
            elif (imported.auth, own) != first_auth:
                notes.append(
                    f"step {step.get('name') or index} used other credentials; the plan has "
                    "one auth, the first step's"
                )
        for config_key, reference in imported.config.items():
            value = imported.secrets.get(reference["env"], "")
            target, number = config_key, 2
            while target in config and secrets.get(config[target]["env"]) != value:
                target, number = f"{config_key}_{number}", number + 1
            if target != config_key:
                step = renamed_config(step, config_key, target)
            if target not in config:
                env = reference["env"] if target == config_key else env_name(target)
                config[target] = {"env": claim(env, value)}
        notes.extend(imported.notes)
        steps.append(step)
    plan: dict[str, Any] = {"key": key}
    if config:
        plan["config"] = config
    if auth is not None:
        plan["auth"] = auth
    plan["steps"] = steps
    return ImportedPlan(plan, secrets, list(dict.fromkeys(notes)))


def _env_names(value: Any) -> list[str]:
    if isinstance(value, dict):
        if set(value) == {"env"}:
            return [value["env"]]
        return [name for item in value.values() for name in _env_names(item)]
    return []


def renamed_config(value: Any, old: str, new: str) -> Any:
    """``value`` with the template ``{config.old}`` reading ``{config.new}`` instead."""
    if isinstance(value, str):
        return value.replace("{config." + old + "}", "{config." + new + "}")
    if isinstance(value, list):
        return [renamed_config(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: renamed_config(item, old, new) for key, item in value.items()}
    return value


def renamed_env(value: Any, old: str, new: str) -> Any:
    """``value`` with every ``{"env": old}`` reference reading ``new`` instead."""
    if isinstance(value, dict):
        if value == {"env": old}:
            return {"env": new}
        return {key: renamed_env(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [renamed_env(item, old, new) for item in value]
    return value
