"""The dashboard inline in a notebook with no internet: every stylesheet travels with it.

``pn.extension(..., inline=True)`` puts BokehJS, Panel and Tabulator into the
notebook output, and Panel inlines its own stylesheets (``loading.css``, the
theme, ``markdown.css`` …) when a view is first rendered and when a layout gets
new children. But when a pane's object changes later (a new run picked: the
header, the metrics, the inspector's labels), Panel 1.9 sends the pane's
stylesheets again as links to ``cdn.holoviz.org`` (or to the Panel server's
``static/extensions/panel/``, which a Jupyter server does not serve), so an
offline browser cannot load them. :func:`keep_stylesheets_inline` makes every
component of a view send those stylesheets inline, read from Panel's own
``dist`` directory as Panel does for the first render, now and for components
added later (a hook on the view's root runs whenever its layouts change).
"""

from __future__ import annotations

import functools
from typing import Any

import panel as pn
from bokeh.models import ImportedStyleSheet, InlineStyleSheet
from panel.io.resources import CDN_DIST, DIST_DIR, LOCAL_DIST
from panel.reactive import Reactive

_MARK = "_orchestra_inline_css"


def keep_stylesheets_inline(view: pn.viewable.Viewable) -> None:
    """Make every component of ``view`` (and those added later) send inline stylesheets."""
    _wrap_all(view)
    view._hooks.append(lambda viewable, root: _wrap_all(view))


def _wrap_all(view: pn.viewable.Viewable) -> None:
    for component in view.select(Reactive):
        if isinstance(component, Reactive) and not getattr(component, _MARK, False):
            _wrap(component)


def _wrap(component: Reactive) -> None:
    process = component._process_param_change

    def inline(params: dict[str, Any]) -> dict[str, Any]:
        properties = process(params)
        sheets = properties.get("stylesheets")
        if sheets:
            properties["stylesheets"] = [
                _inline(sheet) if isinstance(sheet, ImportedStyleSheet) else sheet
                for sheet in sheets
            ]
        return properties

    component._process_param_change = inline  # type: ignore[method-assign]
    setattr(component, _MARK, True)


def _inline(sheet: ImportedStyleSheet) -> ImportedStyleSheet | InlineStyleSheet:
    """A link to one of Panel's own stylesheets (CDN or server path) as its inline text."""
    url = sheet.url.split("?")[0]
    for prefix in (CDN_DIST, LOCAL_DIST):
        if url.startswith(prefix):
            css = _dist_css(url[len(prefix) :])
            if css is not None:
                return InlineStyleSheet(css=css)
    return sheet


@functools.cache
def _dist_css(relative: str) -> str | None:
    path = DIST_DIR / relative
    return path.read_text(encoding="utf-8") if path.is_file() else None
