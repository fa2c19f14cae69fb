"""JavaScript a served page loads only when a part of it is first shown.

Panel puts every extension's scripts into a page's HTML, and the browser runs them on
every load. The builder's YAML editor is ace (``codeeditor``: ~530 KB, ~50 ms of a page
load here), and the builder is a tab most page loads never open. :class:`LoadScripts`
adds such scripts to the page when it is first drawn (the builder tab opening) and tells
Python once they have run, so the editor is made after ace is there.
"""

from __future__ import annotations

import param
from panel.models.ace import AcePlot
from panel.reactive import ReactiveHTML

# Runs in the browser when the component is drawn: each source, in order (ace's
# extensions need ace), as a <script> in the page's <head>; a source the page already
# has (its HTML named it, or an earlier LoadScripts added it) is not loaded twice.
_LOAD = """
const sources = data.sources;
const loaded = (script) => new Promise((resolve, reject) => {
  if (script.dataset.orchestraLoaded !== 'false') { resolve(); return; }
  script.addEventListener('load', () => resolve());
  script.addEventListener('error', () => reject(script.src));
});
const add = (source) => {
  const src = new URL(source, document.baseURI).href;
  const have = Array.from(document.scripts).find((script) => script.src === src);
  if (have) return loaded(have);
  const script = document.createElement('script');
  script.src = src;
  script.dataset.orchestraLoaded = 'false';
  const done = loaded(script).then(() => { script.dataset.orchestraLoaded = 'true'; });
  document.head.appendChild(script);
  return done;
};
(async () => {
  try {
    for (const source of sources) await add(source);
    data.loaded = true;
  } catch (src) {
    data.failed = String(src);
  }
})();
"""


class LoadScripts(ReactiveHTML):
    """Loads ``sources`` (URLs, relative to the page) into the page, then sets ``loaded``.

    ``failed`` names a script the browser could not load (the page's server did not
    serve it); ``loaded`` then stays False.
    """

    sources = param.List(default=[], item_type=str, doc="Script URLs, loaded in order.")
    loaded = param.Boolean(default=False, doc="Every script has run (set by the browser).")
    failed = param.String(default="", doc="The script that did not load (set by the browser).")

    _template = '<div id="scripts" style="display: none"></div>'
    _scripts = {"render": _LOAD}


def code_editor_scripts() -> list[str]:
    """The scripts Panel's ``CodeEditor`` needs (ace and its extensions), as a served page
    names them."""
    return list(AcePlot.__javascript__)
