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

:func:`local_axis_layouts` handles the other source of whole-page layouts: a
figure whose tick labels changed width (a run with 100,000 requests after one
with 6, other step names in the lanes) finds out when it paints, in its own
animation-frame callback, and then lays out the whole page (BokehJS
``PlotView._invalidate_layout_if_needed`` -> ``compute_layout``), 4-6 times a
run switch. The dashboard's figures stretch to their column's width and have
a fixed height, so an axis that grew or shrank moves the figure's frame inside
the figure, never the figure's own box: the script lays out that figure alone
then. A figure that needs more than its axes laid out (its own size or
toolbar changed: BokehJS's ``_needs_layout``) still lays out the whole page.
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


# cb_obj: a figure of fixed height stretched to its column's width, just laid out by the browser
LOCAL_AXIS_JS = """
const index = window.Bokeh != null ? window.Bokeh.index : null;
if (index == null) { return; }
const find = (view) => {
  if (view == null) { return null; }
  if (view.model === cb_obj) { return view; }
  for (const child of (view.child_views || [])) {
    const found = find(child);
    if (found != null) { return found; }
  }
  return null;
};
for (const root of index.roots) {
  if (root.model.document !== cb_obj.document) { continue; }
  const plot = find(root);
  if (plot == null || plot._orchestra_local_axes) { continue; }
  if (typeof plot._invalidate_layout_if_needed !== "function") { continue; }
  plot._orchestra_local_axes = true;
  const check = plot._invalidate_layout_if_needed.bind(plot);
  const page_layout = plot.compute_layout.bind(plot);
  let local = false;
  plot.compute_layout = () => {
    if (!local) { page_layout(); return; }
    // the figure's box is its column's width and its fixed height: lay out its inside only
    plot.measure_layout();
    plot.update_bbox();
    plot._compute_layout();
    plot.after_layout();
    plot._layout_computed = true;
  };
  plot._invalidate_layout_if_needed = () => {
    local = !plot._needs_layout && plot.model.sizing_mode === "stretch_width"
      && plot.model.height != null;
    try { check(); } finally { local = false; }
  };
}
"""


def local_axis_layouts(figure: Model) -> None:
    """Lay out only ``figure`` (stretched in width, fixed in height) when its axes resize.

    Once per figure: a view that draws two things in one figure may name it twice."""
    callbacks = figure.js_property_callbacks.get("change:inner_width", [])
    if any(getattr(callback, "code", None) == LOCAL_AXIS_JS for callback in callbacks):
        return
    figure.js_on_change("inner_width", CustomJS(code=LOCAL_AXIS_JS))
