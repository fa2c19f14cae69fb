"""Real-browser helpers: ``orchestra dashboard`` in a subprocess, Debian's Chromium (Playwright).

Playwright's own browser builds cannot be downloaded on these machines: the
tests launch ``/usr/bin/chromium`` (``apt-get install -y chromium``) and are
skipped, saying so, when it is not installed.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
APP = Path(__file__).resolve().parents[2] / "orchestra" / "dashboard" / "app.py"
ARTIFACTS = Path(
    os.environ.get("ORCHESTRA_TEST_ARTIFACTS")
    or Path(__file__).resolve().parents[2] / "test-artifacts"
)

requires_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"{CHROMIUM} is missing: install Debian's Chromium with "
    "`apt-get update && apt-get install -y chromium` to run the browser tests",
)

# The page position of a flow-graph node, from the figure's own scales (Bokeh's view of it).
NODE_POSITION_JS = """(path) => {
  const doc = Bokeh.documents[0];
  const plot = doc.get_model_by_name('flow-graph');
  const source = doc.get_model_by_name('flow-graph-nodes');
  const index = source.data.path.indexOf(path);
  if (index < 0) return null;
  const view = Bokeh.index.find_one(plot);
  view.el.scrollIntoView({block: 'center'});
  const canvas = (view.canvas_view ?? view).el.getBoundingClientRect();
  return {x: canvas.left + view.frame.x_scale.compute(source.data.x[index]),
          y: canvas.top + view.frame.y_scale.compute(source.data.y[index])};
}"""

# Where a person would click the waterfall bar of an exchange: the middle of the widest part
# of it that shows (inside the figure's x-range, not under a bar drawn over it), from the
# figure's own scales, after scrolling the figure into view. Concurrent requests of a step
# share its lane and overlap: Bokeh draws a later bar over an earlier one and the selected
# bar over all (the product's tap takes that bar too: _waterfall.topmost_hit). ``width`` is
# that part's width in pixels (0: hidden); null when no bar is drawn for the exchange.
_BAR_SIGHT = """
  const doc = Bokeh.documents[0];
  const source = doc.get_model_by_name('waterfall-bars');
  const plot = doc.get_model_by_name('waterfall');
  const view = Bokeh.index.find_one(plot);
  const d = source.data;
  const ids = Array.from(d.exchange_id);
  const selected = Array.from(source.selected.indices);
  view.el.scrollIntoView({block: 'center'});
  const canvas = (view.canvas_view ?? view).el.getBoundingClientRect();
  const sx = (v) => view.frame.x_scale.compute(v);
  const sight = (id) => {
    const index = ids.indexOf(id);
    if (index < 0) return null;
    let parts = [[Math.max(d.left[index], plot.x_range.start),
                  Math.min(d.right[index], plot.x_range.end)]].filter(([a, b]) => b > a);
    const over = selected.includes(index) ? [] : ids.map((_, j) => j).filter(
      (j) => (j > index || selected.includes(j)) && d.bottom[j] === d.bottom[index]);
    for (const j of over) {
      parts = parts.flatMap(([a, b]) => {
        const [l, r] = [d.left[j], d.right[j]];
        if (r <= a || l >= b) return [[a, b]];
        return [[a, Math.min(l, b)], [Math.max(r, a), b]].filter(([u, v]) => v > u);
      });
    }
    const y = canvas.top + view.frame.y_scale.compute((d.top[index] + d.bottom[index]) / 2);
    if (!parts.length) return {x: null, y, width: 0};
    const [a, b] = parts.reduce((best, p) => (sx(p[1]) - sx(p[0]) > sx(best[1]) - sx(best[0])
                                              ? p : best));
    return {x: canvas.left + sx((a + b) / 2), y, width: sx(b) - sx(a)};
  };
"""
BAR_POSITION_JS = "(id) => {" + _BAR_SIGHT + "  return sight(id);\n}"
# The same for every bar drawn: {exchange id: {x, y, width}}.
BARS_IN_SIGHT_JS = (
    "() => {" + _BAR_SIGHT + "  return Object.fromEntries(ids.map((id) => [id, sight(id)]));\n}"
)


def most_visible_bar(page: Any, besides: int | None = None) -> int:
    """The exchange whose bar shows widest (a person clicks the bar they can see), other
    than ``besides``."""
    bars = page.evaluate(BARS_IN_SIGHT_JS)
    widths = [(where["width"], int(id_)) for id_, where in bars.items() if int(id_) != besides]
    assert widths and max(widths)[0] > 0, f"no bar in sight: {bars}"
    return max(widths)[1]


# Data of a named Bokeh model in the page, as the browser holds it.
MODEL_DATA_JS = """(name) => {
  const doc = window.Bokeh && Bokeh.documents.length ? Bokeh.documents[0] : null;
  const model = doc ? doc.get_model_by_name(name) : null;
  if (!model) return null;
  const out = {};
  for (const [key, value] of model.data.entries ? model.data.entries()
                                                 : Object.entries(model.data)) {
    out[key] = Array.from(value);
  }
  return out;
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serve_dashboard(db: Path, log: Path, *, interval: float = 0.3) -> Iterator[str]:
    """``orchestra dashboard --db DB`` on 127.0.0.1, as a person starts it; yields the URL.

    The page people open (the CLI, the JupyterLab tab): Runs and Builder tabs, each page
    answered from a template session and built while the browser loads (see
    ``dashboard/_serving.py``). ``panel serve app.py`` is tested by test_serve_pages.py.
    """
    port = free_port()
    command = [sys.executable, "-m", "orchestra", "dashboard", "--db", str(db),
               "--host", "127.0.0.1", "--port", str(port), "--interval", str(interval)]  # fmt: skip
    with listening_server(command, port, log, "orchestra dashboard"):
        yield f"http://127.0.0.1:{port}/"


@contextlib.contextmanager
def listening_server(
    command: list[str], port: int, log: Path, what: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command`` (output to ``log``), wait until ``port`` answers, stop it on exit.

    Only a TCP connection is made, never a page asked: a Panel session nobody
    opens would live on in the server.
    """
    with log.open("wb") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 90
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"{what} exited: {log.read_text()}")
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{what} did not listen in 90 s: {log.read_text()}")
                time.sleep(0.2)
            yield server
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Debian's) driven by Playwright; yields the browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_for_graph(page: Any, timeout: float = 60_000) -> None:
    """Wait until the flow graph's nodes have arrived in the page."""
    page.wait_for_function(
        "() => { const d = window.Bokeh && Bokeh.documents.length ? Bokeh.documents[0] : null;"
        " const s = d ? d.get_model_by_name('flow-graph-nodes') : null;"
        " return !!s && s.data.path.length > 0; }",
        timeout=timeout,
    )


def model_data(page: Any, name: str) -> dict[str, list[Any]] | None:
    return page.evaluate(MODEL_DATA_JS, name)


# Panel's Tabulator ignores a row click while it applies new rows (``setData`` runs
# asynchronously; ``_selection_updating`` is set until it ends) or is still being built: a
# click that lands then is lost (as a person's would be). Settled: no such update under way.
TABLE_SETTLED_JS = """(css) => {
  if (!window.Bokeh) return false;
  const found = [];
  const walk = (view) => {
    if ((view.model.css_classes || []).includes(css) && view.tabulator !== undefined) {
      found.push(view);
    }
    for (const child of view.child_views || []) walk(child);
  };
  for (const root of Bokeh.index.roots) walk(root);
  return found.length > 0 && found.every((view) => view.tabulator != null
    && view.tabulator.initialized && !view._selection_updating && !view._initializing
    && !view._building);
}"""


def wait_for_table(page: Any, css_class: str, timeout: float = 30_000) -> None:
    """Wait until the Tabulator with ``css_class`` takes clicks (no row update under way)."""
    page.wait_for_function(TABLE_SETTLED_JS, arg=css_class, timeout=timeout)


def click_row(
    page: Any,
    row: Any,
    css_class: str,
    followed: Callable[[float], None],
    *,
    attempts: int = 3,
    wait_ms: float = 4_000,
    last_wait_ms: float = 15_000,
) -> int:
    """Click a row of the Tabulator with ``css_class`` until the view it opens follows.

    ``followed(timeout_ms)`` raises ``AssertionError`` while the expected view is not
    shown (a Playwright ``expect(...)`` with that timeout). A click that lands while the
    table applies new rows is dropped by Panel's Tabulator (``rowClicked`` returns while
    ``_selection_updating`` is set), as a person's click would be: when the view has not
    followed within ``wait_ms``, wait until the table is idle and click once more, at most
    ``attempts`` clicks in all; the last one is given ``last_wait_ms``. If the view never
    follows, raise, saying how many clicks were made. Returns the clicks it took (a plain
    click again is safe: without a modifier key, Tabulator selects the row, never toggles).
    """
    problem: AssertionError | None = None
    for attempt in range(1, attempts + 1):
        wait_for_table(page, css_class)
        row.click()
        try:
            followed(last_wait_ms if attempt == attempts else wait_ms)
        except AssertionError as error:
            problem = error
            continue
        if attempt > 1:
            print(f"click_row: .{css_class} took {attempt} clicks (the first was lost)")
        return attempt
    raise AssertionError(
        f"the view did not follow {attempts} clicks on a row of .{css_class}: {problem}"
    )
