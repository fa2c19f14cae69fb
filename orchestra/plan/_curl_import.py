"""``step_from_curl``: a curl command, as browsers copy it, becomes a plan step.

Reads what Chrome's and Firefox's "Copy as cURL (bash)" write, and the curl
options people type: ``-X``, ``-H``, ``-d``/``--data``/``--data-raw``/
``--data-binary``/``--data-ascii``/``--data-urlencode``, ``--json``, ``-G``,
``-u``, ``--oauth2-bearer``, ``-b``, ``-A``, ``-e``, ``-I``, ``-m``,
``--url``, ``--compressed`` and the output and connection switches that do not
change the request (``-s``, ``-L``, ``-k`` …). Short options may be joined
(``-sSL``, ``-XPOST``). Quoting is bash's, ``$'…'`` included
(:mod:`orchestra.plan._shell_words`). What curl would read from a file
(``-d @body.json``, ``-F``, ``-K``) cannot be imported; every option that is
not known is listed in one :class:`~orchestra.errors.RequestImportError`.
The request becomes a step as described in :mod:`orchestra.plan._imported`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote_plus, urlsplit, urlunsplit

from orchestra.errors import RequestImportError
from orchestra.masking import Masker
from orchestra.plan._imported import Imported, RawRequest, imported_step
from orchestra.plan._shell_words import ShellSyntaxError, split_words

SOURCE = "curl command"

# option -> its canonical name, for options that take a value
_WITH_VALUE = {
    "-X": "request", "--request": "request",
    "-H": "header", "--header": "header",
    "-d": "data", "--data": "data", "--data-ascii": "data",
    "--data-raw": "data-raw", "--data-binary": "data-binary",
    "--data-urlencode": "data-urlencode", "--json": "json",
    "-u": "user", "--user": "user", "--oauth2-bearer": "bearer",
    "-b": "cookie", "--cookie": "cookie",
    "-A": "user-agent", "--user-agent": "user-agent",
    "-e": "referer", "--referer": "referer",
    "--url": "url", "-m": "max-time", "--max-time": "max-time",
    "--connect-timeout": "ignored-value", "--retry": "ignored-value",
    "-o": "ignored-value", "--output": "ignored-value",
    "-w": "ignored-value", "--write-out": "ignored-value",
    "-F": "form-file", "--form": "form-file", "-T": "form-file", "--upload-file": "form-file",
    "-K": "config-file", "--config": "config-file",
}  # fmt: skip
# switches without a value: what they mean for the request, if anything
_SWITCHES = {
    "-G": "get", "--get": "get", "-I": "head", "--head": "head",
    "--compressed": "compressed",
    "-k": "insecure", "--insecure": "insecure",
    "-L": "location", "--location": "location",
    "-s": "", "--silent": "", "-S": "", "--show-error": "", "-v": "", "--verbose": "",
    "-i": "", "--include": "", "-f": "", "--fail": "", "--fail-with-body": "",
    "-g": "", "--globoff": "", "-N": "", "--no-buffer": "", "--http1.1": "", "--http2": "",
    "--http2-prior-knowledge": "", "--http3": "", "-#": "", "--progress-bar": "",
    "-0": "", "--http1.0": "", "--path-as-is": "", "--no-progress-meter": "",
}  # fmt: skip
_SHORT_WITH_VALUE = {flag[1] for flag in _WITH_VALUE if len(flag) == 2}
_SHORT_SWITCHES = {flag[1] for flag in _SWITCHES if len(flag) == 2}


@dataclass
class _Parsed:
    urls: list[str] = field(default_factory=list)
    method: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    json: bool = False
    get: bool = False
    head: bool = False
    user: str | None = None
    bearer: str | None = None
    timeout: float | None = None
    notes: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def step_from_curl(text: str, *, name: str | None = None) -> Imported:
    """The step (with auth, config and secrets) that makes the request ``text`` makes.

    Raises :class:`~orchestra.errors.RequestImportError` naming what could not
    be read and how to fix it.
    """
    try:
        words = split_words(text.strip())
    except ShellSyntaxError as error:
        raise RequestImportError(
            f"cannot read the command: {error}",
            fix="paste the whole command as copied (Copy as cURL (bash)), quotes included",
            source=SOURCE,
        ) from None
    if not words or words[0] not in ("curl", "curl.exe"):
        start = words[0] if words else "nothing"
        raise RequestImportError(
            f"a curl command starts with 'curl', this one with {start!r}",
            fix="copy the request with your browser's Copy as cURL (bash)",
            source=SOURCE,
        )
    parsed = _parse(words[1:])
    return imported_step(_request(parsed), name=name)


def _parse(words: list[str]) -> _Parsed:
    parsed = _Parsed()
    position = 0
    while position < len(words):
        word = words[position]
        position += 1
        if word == "--":  # what follows is URLs only
            parsed.urls.extend(words[position:])
            break
        if not word.startswith("-") or word == "-":
            parsed.urls.append(word)
            continue
        for flag, value in _options(word, words, position, parsed):
            if value == _NEXT:
                value = words[position]
                position += 1
            _apply(parsed, flag, value)
    if parsed.unknown:
        listed = ", ".join(dict.fromkeys(parsed.unknown))
        raise RequestImportError(
            f"unknown curl option{'s' if len(parsed.unknown) > 1 else ''}: {listed}",
            fix="remove them from the command (the options a browser copies are all known), "
            "or write the step by hand",
            source=SOURCE,
        )
    return parsed


_NEXT = "\0next"  # the option's value is the next word


def _options(
    word: str, words: list[str], position: int, parsed: _Parsed
) -> list[tuple[str, str | None]]:
    """The options in ``word``: ``[(flag, value or _NEXT or None)]``."""
    if word.startswith("--"):
        if word in _WITH_VALUE:
            return [(word, _needs(word, words, position))]
        if word in _SWITCHES:
            return [(word, None)]
        parsed.unknown.append(word)
        return []
    found: list[tuple[str, str | None]] = []
    letters = word[1:]
    for index, letter in enumerate(letters):
        flag = "-" + letter
        if letter in _SHORT_WITH_VALUE:
            rest = letters[index + 1 :]
            found.append((flag, rest if rest else _needs(flag, words, position)))
            return found
        if letter in _SHORT_SWITCHES:
            found.append((flag, None))
        else:
            parsed.unknown.append(flag)
    return found


def _needs(flag: str, words: list[str], position: int) -> str:
    if position >= len(words):
        raise RequestImportError(
            f"option {flag} needs a value and is the last word",
            fix=f"give {flag} its value, as in {flag} VALUE",
            source=SOURCE,
        )
    return _NEXT


def _apply(parsed: _Parsed, flag: str, value: str | None) -> None:
    kind = _WITH_VALUE.get(flag) if value is not None else _SWITCHES.get(flag)
    if value is None:
        _switch(parsed, flag, kind or "")
        return
    if kind == "request":
        parsed.method = value.upper()
    elif kind == "header":
        header, sep, content = value.partition(":")
        if not sep and header.endswith(";"):  # "Name;" sends the header empty
            header, content = header[:-1], ""
        elif not sep:  # its text is not shown: it may be a credential that lost its name
            raise RequestImportError(
                f"the value of -H number {len(parsed.headers) + 1} is not a header (no ':')",
                fix="write headers as -H 'Name: value'",
                source=SOURCE,
            )
        parsed.headers.append((header.strip(), content.strip()))
    elif kind in ("data", "data-raw", "data-binary", "json"):
        if value.startswith("@") and kind != "data-raw":
            raise _from_file(flag, value)
        if kind == "data":
            value = value.replace("\r", "").replace("\n", "")  # as curl -d does
        parsed.data.append(value)
        if kind == "json":
            parsed.json = True
    elif kind == "data-urlencode":
        parsed.data.append(_urlencoded(flag, value))
    elif kind == "user":
        parsed.user = value
    elif kind == "bearer":
        parsed.bearer = value
    elif kind == "cookie":
        if "=" not in value:
            raise _from_file(flag, value)
        parsed.headers.append(("Cookie", value))
    elif kind == "user-agent":
        parsed.headers.append(("User-Agent", value))
    elif kind == "referer":
        parsed.headers.append(("Referer", value))
    elif kind == "url":
        parsed.urls.append(value)
    elif kind == "max-time":
        try:
            parsed.timeout = float(value)
        except ValueError:
            raise RequestImportError(
                f"{flag} {value!r} is not a number of seconds",
                fix=f"write {flag} 30",
                source=SOURCE,
            ) from None
    elif kind in ("form-file", "config-file"):
        raise _from_file(flag, value)
    # ignored-value: output and connection settings that do not change the request


def _switch(parsed: _Parsed, flag: str, kind: str) -> None:
    if kind == "get":
        parsed.get = True
    elif kind == "head":
        parsed.head = True
    elif kind == "insecure":
        parsed.notes.append(f"{flag} left out: Orchestra always verifies TLS certificates")


def _from_file(flag: str, value: str) -> RequestImportError:
    if flag in ("-F", "--form"):  # a field's value may be a secret: name the field only
        name, sep, _ = value.partition("=")
        value = f"{name}=…" if sep else "…"
    if flag in ("-F", "--form", "-T", "--upload-file"):
        what = "uploads a file or a multipart form, which a plan step cannot send"
        fix = "send the fields as form: or body: in the step, written by hand"
    elif flag in ("-K", "--config"):
        what = "reads more options from a file"
        fix = "paste the options from that file into the command"
    else:
        what = "reads the value from a file"
        fix = f"paste the file's content instead, as {flag} '…'"
    return RequestImportError(f"{flag} {value!r} {what}", fix=fix, source=SOURCE)


def _urlencoded(flag: str, value: str) -> str:
    """One ``--data-urlencode`` value as curl sends it: ``[name]=content`` encoded."""
    if value.startswith("@") or ("@" in value and "=" not in value.partition("@")[0]
                                 and "=" not in value):  # fmt: skip
        raise _from_file(flag, value)
    name, sep, content = value.partition("=")
    if not sep:
        return quote_plus(value)
    return f"{name}={quote_plus(content)}" if name else quote_plus(content)


def _shown_url(url: str) -> str:
    """A URL fit for a message: no user information, secret query parameters masked."""
    prefix = "" if "://" in url else "http://"
    parts = urlsplit(prefix + url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc="…@" + parts.netloc.rpartition("@")[2])
    return Masker().url(urlunsplit(parts)[len(prefix) :])


def _request(parsed: _Parsed) -> RawRequest:
    if not parsed.urls:
        raise RequestImportError(
            "the command has no URL", fix="add the URL, as in curl 'https://…'", source=SOURCE
        )
    if len(parsed.urls) > 1:
        shown = ", ".join(_shown_url(url) for url in parsed.urls)
        raise RequestImportError(
            f"the command has {len(parsed.urls)} URLs ({shown}); a step makes one request",
            fix="import one URL at a time",
            source=SOURCE,
        )
    url = parsed.urls[0]
    if "://" not in url:
        url = "http://" + url  # curl's default scheme
    headers = list(parsed.headers)
    names = {header.lower() for header, _ in headers}
    body = "&".join(parsed.data) if parsed.data else None
    if parsed.json and body is not None:
        if "content-type" not in names:
            headers.append(("Content-Type", "application/json"))
        if "accept" not in names:
            headers.append(("Accept", "application/json"))
    elif body is not None and "content-type" not in names:
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))  # curl's default
    method = parsed.method or ("HEAD" if parsed.head else "POST" if body is not None else "GET")
    if parsed.get and body is not None:  # -G: the data goes into the query string
        parts = urlsplit(url)
        query = "&".join(part for part in (parts.query, body) if part)
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
        body = None
        headers = [(h, v) for h, v in headers if h.lower() != "content-type"]
        method = parsed.method or ("HEAD" if parsed.head else "GET")
    basic = None
    if parsed.user is not None:
        user, sep, password = parsed.user.partition(":")
        if not sep:  # not shown: it is often an API key (`-u KEY:` with the ':' lost)
            raise RequestImportError(
                "-u gives no password (no ':'; curl would ask for it)",
                fix="write -u user:password (or -u KEY: for a key with no password); "
                "the credential becomes an {env: …} secret",
                source=SOURCE,
            )
        basic = (user, password)
    return RawRequest(
        url=url,
        method=method,
        headers=headers,
        body=body,
        json_body=parsed.json,
        basic=basic,
        bearer=parsed.bearer,
        timeout_seconds=parsed.timeout,
        notes=parsed.notes,
    )
