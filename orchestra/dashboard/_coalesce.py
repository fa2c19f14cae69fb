"""One page layout per batch of updates, not one per changed view, in the browser.

BokehJS lays out the whole page again, synchronously, each time any view asks
(``invalidate_layout``: a changed ``visible``, size, CSS class, a Tabulator that
got new rows, a figure whose tick labels grew), and each layout measures every
view and repaints every figure, reading computed styles that the changes just
made stale. BokehJS does not throttle this (bokeh/bokeh#8085, #12129), so a run
switch, whose one patch message changes several views, paid for two to four
whole-page layouts of 130-300 ms each in Chromium's profile.

:func:`coalesce_layouts` attaches a small script to a figure of the dashboard:
the first time that figure is laid out it finds the root view of the figure's
page and makes its ``invalidate_layout`` deferred to a microtask, so every
request made while one message is applied (one ``pn.io.hold`` batch) ends in
one layout, run before the browser paints; a view that lays the page out itself
(``compute_layout``: a re-rendered widget) while that layout is queued is
covered by it. A view that asks again while that layout runs gets another one,
as it would have without the script.
"""

from __future__ import annotations

from bokeh.models import CustomJS, Model

# cb_obj: the figure whose inner_width the browser just set (first layout or a resize)
COALESCE_JS = """
const index = window.Bokeh != null ? window.Bokeh.index : null;
if (index == null) { return; }
for (const root of index.roots) {
  if (root.model.document !== cb_obj.document || root._orchestra_coalesced) { continue; }
  if (typeof root.invalidate_layout !== "function") { continue; }
  root._orchestra_coalesced = true;
  const layout = root.invalidate_layout.bind(root);
  const compute = root.compute_layout.bind(root);
  let queued = false;
  root.invalidate_layout = () => {
    if (queued) { return; }
    queued = true;
    queueMicrotask(() => {
      queued = false;
      if (!root.is_destroyed) { layout(); }
    });
  };
  // a view that lays the page out itself (a re-rendered button) while a layout is queued:
  // the queued one covers it
  root.compute_layout = () => {
    if (!queued) { compute(); }
  };
}
"""


def coalesce_layouts(figure: Model) -> None:
    """Make the page that shows ``figure`` lay itself out once per batch of updates."""
    figure.js_on_change("inner_width", CustomJS(code=COALESCE_JS))
