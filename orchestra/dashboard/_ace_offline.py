"""The YAML editor inline in a notebook: ace's mode, theme and worker travel with the output.

Panel's ``CodeEditor`` is ace. ace loads a language mode (``ace/mode/yaml``),
a theme (``ace/theme/github_light_default``) and the mode's syntax-check
worker (``ace/mode/yaml_worker``) when the editor first asks for them, by a
URL next to the ``<script src=…/ace.js>`` it was loaded from. The Panel server
serves those files, so the served dashboard highlights YAML. Inline
(``pn.extension(..., inline=True)``) ace.js has no ``src``: ace logs "Unable to
infer path to ace", asks for ``mode-yaml.js`` and the theme relative to the
notebook's page (JupyterLab answers with its own HTML, a second console error)
and the YAML is shown unhighlighted.

:func:`ace_modules_html` gives a ``<script>`` to put before the view's embed
script. It defines the mode and the theme modules from the files Panel ships
(``panel/dist/bundled/aceplot/…``) with ``ace.define``, so ace finds them
defined and fetches nothing, and points the worker at a ``blob:`` URL holding
the worker's code, so the syntax check runs too. Nothing goes to the network:
it works offline and in any frontend that runs an output's scripts.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from panel.io.resources import DIST_DIR
from panel.models.ace import AcePlot

ACE_DIR: Path = DIST_DIR / "bundled" / "aceplot" / AcePlot.__tarball__["dest"]

# Runs before the embed script. ace.js comes with Panel's inline resources, in
# the extension's output above this one; poll briefly in case it is not run yet.
_SCRIPT = """<script type="application/javascript">(function(root) {
  function install(ace) {
    var defined = function(name) {
      try { return !!ace.require(name); } catch (e) { return false; }
    };
%(modules)s
    var worker = %(worker_name)s, code = %(worker_code)s;
    if (code && !ace.config.$orchestraWorkers) { ace.config.$orchestraWorkers = {}; }
    if (code && !ace.config.$orchestraWorkers[worker]) {
      var blob = new Blob([code], {type: "application/javascript"});
      ace.config.$orchestraWorkers[worker] = root.URL.createObjectURL(blob);
      ace.config.setModuleUrl(worker, ace.config.$orchestraWorkers[worker]);
    }
  }
  if (root.ace && root.ace.define) { install(root.ace); return; }
  var tries = 0;
  var timer = setInterval(function() {
    if (root.ace && root.ace.define) { clearInterval(timer); install(root.ace); }
    else if (++tries > 400) { clearInterval(timer); }
  }, 5);
})(window);</script>
"""

_MODULE = """    if (!defined(%(name)s)) {
%(code)s
    }
"""


def ace_modules_html(language: str, theme: str) -> str:
    """A ``<script>`` defining ace's ``language`` mode and ``theme`` and serving its worker.

    Empty when Panel ships neither file (an unknown language or theme: ace then
    asks for it by URL, as before).
    """
    return _ace_modules_html(language, theme)


@functools.cache
def _ace_modules_html(language: str, theme: str) -> str:
    modules = [
        _MODULE % {"name": _js_string(f"ace/{kind}/{name}"), "code": code}
        for kind, name in (("mode", language), ("theme", theme))
        if (code := _ace_file(f"{kind}-{name}.js")) is not None
    ]
    if not modules:
        return ""
    worker_path = ACE_DIR / f"worker-{language}.js"
    worker = worker_path.read_text(encoding="utf-8") if worker_path.is_file() else None
    return _SCRIPT % {
        "modules": "".join(modules),
        "worker_name": _js_string(f"ace/mode/{language}_worker"),
        "worker_code": _js_string(worker) if worker is not None else "null",
    }


def _ace_file(name: str) -> str | None:
    """One of ace's modules as Panel ships it, if it exists and can sit in a ``<script>``."""
    path = ACE_DIR / name
    if not path.is_file():
        return None
    code = path.read_text(encoding="utf-8")
    return None if "</" in code else code


def _js_string(text: str) -> str:
    """``text`` as a JavaScript string literal that cannot end the ``<script>`` it sits in."""
    return json.dumps(text).replace("</", "<\\/")


def with_ace_modules(bundle: Any, language: str, theme: str) -> Any:
    """``bundle`` (a mimebundle dict or ``(data, metadata)``) with the ace modules' script
    at the start of its HTML, so it runs before the embed script renders the editor."""
    data, metadata = bundle if isinstance(bundle, tuple) else (bundle, None)
    html = (data or {}).get("text/html")
    script = ace_modules_html(language, theme)
    if not isinstance(html, str) or not script:
        return bundle
    data = {**data, "text/html": script + html}
    return data if metadata is None else (data, metadata)
