"""Scripts loaded when first needed, and parts added after the page is drawn, in Chromium.

A Panel server (a subprocess) serves a page with an ``after_page_drawn`` part and two
:class:`LoadScripts`: ace, as the served dashboard's Builder tab loads it, and a script
the server does not have.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import httpx

from orchestra.dashboard._scripts import code_editor_scripts
from orchestra.dashboard._serving import after_page_drawn, when_served_page_drawn
from tests.dashboard._browser import chromium, free_port, listening_server, serve_dashboard
from tests.dashboard.conftest import Captured

APP = textwrap.dedent(
    """
    import sys

    import panel as pn

    from orchestra.dashboard._scripts import LoadScripts, code_editor_scripts
    from orchestra.dashboard._serving import after_page_drawn, when_served_page_drawn


    def app():
        status = pn.pane.HTML("", css_classes=["status"])
        page = pn.Column(pn.pane.HTML("drawn first"), status)
        after_page_drawn(lambda: page.append(pn.pane.HTML("drawn later")))
        when_served_page_drawn(lambda: page.append(pn.pane.HTML("made for a later click")))
        ace = LoadScripts(sources=code_editor_scripts())
        missing = LoadScripts(sources=["static/extensions/panel/no-such-script.js"])

        def report(event):
            status.object += f" {event.name}={event.new}"

        ace.param.watch(report, "loaded")
        missing.param.watch(report, "failed")
        page.extend([ace, missing])
        return page


    port = int(sys.argv[1])
    pn.serve(app, port=port, address="127.0.0.1", show=False,
             websocket_origin=[f"127.0.0.1:{port}"])
    """
)

# Whether the page's document, when the browser first holds it, has the part added later
# (checked at each animation frame, before the page's own scripts run).
FIRST_SIGHT = """
(() => {
  const has = (text) => [...Bokeh.documents[0]._all_models.values()].some((m) => m.text === text);
  const look = () => {
    if (window.Bokeh && Bokeh.documents && Bokeh.documents.length) {
      window.firstSight = {first: has('drawn first'), later: has('drawn later'),
                           ahead: has('made for a later click')};
    } else {
      requestAnimationFrame(look);
    }
  };
  requestAnimationFrame(look);
})();
"""


def has_model_text(text: str) -> str:
    return (
        "() => window.Bokeh && Bokeh.documents.length && "
        f"[...Bokeh.documents[0]._all_models.values()].some((m) => m.text === {text!r})"
    )


def test_outside_a_served_session_the_part_is_added_at_once():
    calls: list[str] = []
    assert after_page_drawn(lambda: calls.append("now")) is False
    assert calls == ["now"]
    # what only a later click on a served page needs is not made at all
    assert when_served_page_drawn(lambda: calls.append("never")) is False
    assert calls == ["now"]


def test_scripts_load_when_first_drawn_and_parts_join_after_the_page(tmp_path: Path):
    script = tmp_path / "app.py"
    script.write_text(APP)
    port = free_port()
    log = tmp_path / "server.log"
    command = [sys.executable, str(script), str(port)]
    with listening_server(command, port, log, "the Panel server"), chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.add_init_script(FIRST_SIGHT)
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_function(has_model_text("drawn later"), timeout=60_000)
        page.wait_for_function(has_model_text("made for a later click"), timeout=60_000)
        # the parts joined after the browser had drawn the page without them
        assert page.evaluate("() => window.firstSight") == {
            "first": True,
            "later": False,
            "ahead": False,
        }
        # in that order: what a later click needs after what the page shows
        order = page.evaluate(
            "() => [...Bokeh.documents[0]._all_models.values()].map((m) => m.text)"
            ".filter((t) => t === 'drawn later' || t === 'made for a later click')"
        )
        assert order == ["drawn later", "made for a later click"], order
        # ace ran in the page; the missing script is named, the other loader unaffected
        status = page.locator(".status")
        status.filter(has_text="loaded=True").wait_for(timeout=30_000)
        status.filter(has_text="failed=").wait_for(timeout=30_000)
        assert page.evaluate("() => typeof window.ace") == "object"
        text = status.evaluate("(e) => (e.shadowRoot || e).textContent")
        assert "failed=" in text and "no-such-script.js" in text
        # ace's scripts are on the page once, in their order
        sources = page.evaluate("() => [...document.scripts].map((s) => s.src)")
        aces = [s for s in sources if "/aceplot/" in s]
        assert [s.split("/")[-1] for s in aces] == [Path(s).name for s in code_editor_scripts()]
        page.close()
    # the one error is the missing script's 404 (Chromium's message does not name it)
    assert [e for e in errors if "404 (Not Found)" not in e] == []
    assert len(errors) == 1
    assert "Traceback" not in log.read_text()


def test_the_served_dashboard_page_comes_without_the_code_editor(
    captured: Captured, tmp_path: Path
):
    with serve_dashboard(captured.path, tmp_path / "dashboard.log") as url:
        html = httpx.get(url, timeout=30).text
    assert "tabulator" in html  # the runs page's tables
    assert "ace.js" not in html  # the Builder tab loads it when first opened


def test_the_code_editor_scripts_are_shipped_with_panel():
    from panel.io.resources import DIST_DIR

    for source in code_editor_scripts():
        relative = source.split("static/extensions/panel/", 1)[1]
        assert (DIST_DIR / relative).is_file(), source


# Whether the dashboard's document, when the browser first holds it, has the latency figure.
LATENCY_FIRST_SIGHT = """
(() => {
  const look = () => {
    if (window.Bokeh && Bokeh.documents && Bokeh.documents.length) {
      window.latencyAtFirst = !!Bokeh.documents[0].get_model_by_name('waterfall-latency');
    } else {
      requestAnimationFrame(look);
    }
  };
  requestAnimationFrame(look);
})();
"""


def test_a_served_dashboard_gets_the_latency_figure_after_it_is_drawn(
    captured: Captured, tmp_path: Path
):
    """A run drawn as bars never shows the latency bands, but a switch to a big run does:
    the figure comes (hidden) once the page is drawn, so that switch need not build and
    send it (~0.1 s of a first switch to a 100,000-exchange run, bench/dashboard.py)."""
    log = tmp_path / "dashboard.log"
    with serve_dashboard(captured.path, log) as url, chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.add_init_script(LATENCY_FIRST_SIGHT)
        page.goto(url)
        page.wait_for_function(
            "() => window.Bokeh && Bokeh.documents.length && "
            "!!Bokeh.documents[0].get_model_by_name('waterfall-latency')",
            timeout=60_000,
        )
        assert page.evaluate("() => window.latencyAtFirst") is False
        page.close()
    assert errors == []
    assert "Traceback" not in log.read_text()
