"""Dashboard: time to full render of a 10- and a 100,000-exchange run in headless Chromium.

The capture is made by the engine as a user makes it: bench/fanout.py's plan
run by ``orchestra.arun`` against the benchmark server (bench/server.py), once
with 9 items (10 exchanges) and once with 99,999 (100,000 exchanges), into one
DuckDB file — the real capture schema, real timings, retries-free. Rows are
not synthesised, so the waterfall, step and latency aggregates see what a
real run leaves.

The dashboard is served as ``orchestra dashboard --run RUN`` serves it
(:func:`orchestra.dashboard.serve`: the Runs and Builder tabs; ``--serve-with panel``
serves ``panel serve orchestra/dashboard/app.py`` instead), one server per run,
with Bokeh's unused-session check shortened so a closed tab's session is destroyed
within about two seconds. Debian's Chromium
(``/usr/bin/chromium``, the flags of tests/dashboard/_browser.py) loads the
page through Playwright. Reported:

* time to full render per size (page load until the flow graph, the step
  table, the waterfall and the throughput chart all hold the run's request
  count) in a new browser profile (nothing cached), alternating sizes for
  ``--runs`` rounds, and the ratio big/small; and the same page opened again in
  that profile (its scripts cached, as when a person comes back);
* run switch: on the small run's page, a second after it rendered (a person looks before
  clicking; the page's later parts arrive meanwhile), clicking the big run in the run
  list until every view holds it, then the small run again: reported per direction;
* click: clicking an exchange row until the inspector shows that exchange;
* the server's CPU seconds per page load (the session's document built, sent and
  filled), per size;
* the server's and the browser's CPU seconds per switch and per click (/proc;
  the browser is every Chromium process): on a shared machine the wall times
  above wait for other processes, these do not, and they say which side a
  switch or click spends its time on;
* server RSS after each of ``--loads`` page loads (each tab closed, its
  session destroyed) and its growth per load after the first.

Targets (issue 16): big/small render ratio <= 2; run switch (each direction) and click <= 0.5 s
on a quiet machine; server RSS flat across page loads (<= 2 MB per load).

    python bench/dashboard.py [--smoke] [--runs 5] [--loads 20]
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _harness as h
import _workloads as w

sys.path.insert(0, str(h.ROOT))
from tests.dashboard._browser import CHROMIUM, CHROMIUM_ARGS, free_port, listening_server

APP = h.ROOT / "orchestra" / "dashboard" / "app.py"
RSS_GROWTH_PER_LOAD_MB = 2.0
LOOK_BEFORE_SWITCH_S = 1.0  # a person reads a page before clicking another run

# Every view holds the run: graph nodes, waterfall (bars or buckets) and throughput chart
# count ``expected`` requests (Bokeh models as the browser holds them) and the step table has
# a row. Checked in the page at each animation frame; the value is the page's clock then
# (ms since the navigation started), so the time is the page's, not when Playwright, whose
# commands wait behind the page's scripts, heard of it.
RENDERED_JS = """(expected) => {
  const d = window.Bokeh && Bokeh.documents.length ? Bokeh.documents[0] : null;
  if (!d) return false;
  const data = (name) => { const m = d.get_model_by_name(name); return m ? m.data : null; };
  const sum = (values) => Array.from(values || []).reduce((a, b) => a + b, 0);
  const nodes = data('flow-graph-nodes'), bars = data('waterfall-bars');
  const buckets = data('waterfall-buckets'), throughput = data('throughput');
  if (!nodes || !bars || !buckets || !throughput) return false;
  const drawn = buckets.answered.length ? sum(buckets.answered) : bars.exchange_id.length;
  if (sum(nodes.requests) !== expected || drawn !== expected
      || sum(throughput.ok) + sum(throughput.failed) !== expected) return false;
  return window.orchestraTableRow('orchestra-steps') ? performance.now() : false;
}"""

# Whether the table of css class ``name`` shows a row (Panel draws each component in a
# shadow root, which querySelector does not cross): set before each page's scripts run.
TABLE_ROW_JS = """window.orchestraTableRow = (name) => {
  const find = (root) => {
    const host = root.querySelector('.' + name);
    if (host) return host;
    for (const element of root.querySelectorAll('*')) {
      const found = element.shadowRoot && find(element.shadowRoot);
      if (found) return found;
    }
    return null;
  };
  const host = find(document);
  return Boolean(host && (host.shadowRoot || host).querySelector('.tabulator-row'));
};"""

# The exchange list shows a row (it joins a served page after the views above: _app.py).
EXCHANGES_JS = "() => window.orchestraTableRow('orchestra-exchanges') ? performance.now() : false"


def browser_cpu() -> float:
    """CPU seconds of this benchmark's Chromium (browser, renderers, GPU and utility processes:
    the descendants of this process named chrom*; other programs' browsers do not count)."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        pid = int(stat.parent.name)
        names[pid] = text.split("(", 1)[1].rsplit(")", 1)[0]
        parents[pid] = int(text.rsplit(")", 1)[1].split()[1])
    me, total = os.getpid(), 0.0
    for pid, name in names.items():
        if "chrom" not in name:
            continue
        ancestor, hops = parents.get(pid, 0), 0
        while ancestor not in (0, 1, me) and hops < 50:
            ancestor, hops = parents.get(ancestor, 0), hops + 1
        if ancestor == me:
            total += h._proc_cpu(pid)
    return total


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# `orchestra dashboard --db DB --run RUN --port PORT`, with the unused-session check shortened
ORCHESTRA_SERVE = """import sys
from orchestra.dashboard import serve
serve(sys.argv[1], int(sys.argv[3]), run=sys.argv[2],
      check_unused_sessions_milliseconds=1000, unused_session_lifetime_milliseconds=1000)
"""


def server_command(kind: str, db: Path, run_id: str, port: int) -> tuple[list[str], str]:
    """The command serving ``run_id`` of ``db`` on ``port``, and the page's URL."""
    if kind == "orchestra":
        command = [sys.executable, "-c", ORCHESTRA_SERVE, str(db), run_id, str(port)]
        return command, f"http://127.0.0.1:{port}/"
    command = [
        sys.executable, "-m", "panel", "serve", str(APP),
        "--address", "127.0.0.1", "--port", str(port),
        "--allow-websocket-origin", f"127.0.0.1:{port}",
        "--check-unused-sessions", "1000", "--unused-session-lifetime", "1000",
        "--args", "--db", str(db), "--run", run_id, "--interval", "0.5",
    ]  # fmt: skip
    return command, f"http://127.0.0.1:{port}/app"


@contextlib.contextmanager
def dashboard_server(
    kind: str, db: Path, run_id: str, log: Path
) -> Iterator[tuple[str, subprocess.Popen]]:
    """A dashboard server of one run; yields the page URL and the server process."""
    port = free_port()
    command, url = server_command(kind, db, run_id, port)
    with listening_server(command, port, log, f"the {kind} dashboard server") as server:
        yield url, server


def rendered(page: Any, expected: int, timeout_ms: float = 120_000) -> float:
    """Wait until every view holds the run; the page's clock then (ms since navigation)."""
    found = page.wait_for_function(RENDERED_JS, arg=expected, polling="raf", timeout=timeout_ms)
    return float(found.json_value())


def exchanges_shown(page: Any, timeout_ms: float = 120_000) -> float:
    """Wait until the exchange list shows a row; the page's clock then (ms)."""
    found = page.wait_for_function(EXCHANGES_JS, polling="raf", timeout=timeout_ms)
    return float(found.json_value())


@dataclass
class PageLoad:
    """One page load, in seconds: until every view holds the run and until the exchange
    list shows too (the page's clock, from navigation), and how long the harness waited
    for the first (from before navigation; its commands queue behind the page's scripts)."""

    views: float
    exchanges: float
    harness: float


def open_page(context: Any, url: str, expected: int) -> tuple[Any, PageLoad]:
    """A new page of ``context`` at ``url``, open, once every view holds the run."""
    page = context.new_page()
    page.add_init_script(TABLE_ROW_JS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    started = time.perf_counter()
    page.goto(url)
    views_ms = rendered(page, expected)
    harness = time.perf_counter() - started
    exchanges_ms = exchanges_shown(page)
    if errors:
        raise RuntimeError(f"page errors: {errors}")
    return page, PageLoad(views_ms / 1000, exchanges_ms / 1000, harness)


def load(browser: Any, url: str, expected: int) -> tuple[PageLoad, Any, Any]:
    """Open the page in a new browser profile (nothing cached); it stays open."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page, timing = open_page(context, url, expected)
    return timing, page, context


def revisit(context: Any, url: str, expected: int) -> PageLoad:
    """Open the page again in the same browser profile (its scripts cached, as when a person
    comes back to the dashboard)."""
    page, timing = open_page(context, url, expected)
    page.close()
    return timing


def switch(page: Any, run_id: str, expected: int) -> float:
    started = time.perf_counter()
    page.locator(".orchestra-runs .tabulator-row", has_text=run_id).first.click()
    rendered(page, expected)
    return time.perf_counter() - started


def click_exchange(page: Any, row: int) -> float:
    cells = page.locator(".orchestra-exchanges .tabulator-row").nth(row)
    exchange_id = cells.locator("[tabulator-field=exchange_id]").text_content().strip()
    cells.scroll_into_view_if_needed()
    started = time.perf_counter()
    # dispatched on the row: the inspector's detail, once shown, can overlap lower rows
    cells.locator("[tabulator-field=url]").dispatch_event("click")
    page.locator(".orchestra-request", has_text=f"Request #{exchange_id}").first.wait_for()
    return time.perf_counter() - started


def make_capture(s: h.Settings, db: Path, sizes: dict[str, int]) -> dict[str, str]:
    """The engine's real runs into ``db``; returns the run id of each size's name."""
    from orchestra.capture import CaptureStore

    plan = w.fanout_plan(50)
    ids: dict[str, str] = {}
    with h.server(s) as srv:
        for name, requests in sizes.items():
            seconds, _ = s.run_async(
                w.orchestra_run(
                    plan, {"base_url": srv.url, "n": requests - 1}, db,
                    expect_requests=requests,
                )
            )  # fmt: skip
            store = CaptureStore(db)
            ids[name] = str(store.runs(limit=1)["run_id"].iloc[0])
            store.close()
            print(f"captured the {requests:,}-exchange run {ids[name]} in {seconds:.1f} s")
    return ids


def server_failures(log: str) -> list[str]:
    """The server's tracebacks, but Tornado's about a tab closed while a message was sent."""
    blocks = log.split("Traceback (most recent call last):")[1:]
    closed = ("WebSocketClosedError", "StreamClosedError")
    return [block[:2000] for block in blocks if not any(c in block for c in closed)]


def existing_runs(db: Path) -> dict[str, str]:
    from orchestra.capture import CaptureStore

    store = CaptureStore(db)
    runs = store.runs()["run_id"].tolist()  # newest first: the small run was made last
    store.close()
    return {"big": runs[-1], "small": runs[0]}


def requests(db: Path, run_id: str) -> int:
    from orchestra.capture import CaptureStore

    store = CaptureStore(db)
    count = int(store.run(run_id)["requests"])
    store.close()
    return count


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "median_s": round(statistics.median(values), 3),
        "min_s": round(min(values), 3),
        "max_s": round(max(values), 3),
        "all_s": [round(v, 3) for v in values],
    }


def main(argv: list[str] | None = None) -> int:
    p = h.parser(__doc__.splitlines()[0])
    p.add_argument("--loads", type=int, default=None, help="page loads for the RSS check")
    p.add_argument(
        "--capture",
        type=Path,
        default=None,
        help="reuse this capture file (made on first use): its oldest run is the big one",
    )
    p.add_argument(
        "--serve-with",
        choices=["orchestra", "panel"],
        default="orchestra",
        help="orchestra: serve() as `orchestra dashboard` does; panel: `panel serve app.py`",
    )
    args = p.parse_args(argv)
    s = h.Settings.from_args(args)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 1
    sizes = {"small": 10, "big": 2_000 if s.smoke else 100_000}
    loads = args.loads or (3 if s.smoke else 20)
    from playwright.sync_api import sync_playwright

    with w.temp_dir("orchestra-bench-dashboard-") as tmp:
        db = args.capture or tmp / "dashboard.duckdb"
        if args.capture is not None and args.capture.exists():
            ids = existing_runs(db)
            sizes = {name: requests(db, run_id) for name, run_id in ids.items()}
        else:
            ids = make_capture(s, db, {"big": sizes["big"], "small": sizes["small"]})
        noise = h.NoiseMeter()
        renders: dict[str, list[float]] = {"small": [], "big": []}
        revisits: dict[str, list[float]] = {"small": [], "big": []}
        completes: dict[str, list[float]] = {"small": [], "big": []}  # exchange list too
        harness_waits: dict[str, list[float]] = {"small": [], "big": []}
        switches: dict[str, list[float]] = {"to big": [], "to small": []}
        clicks: list[float] = []
        server_cpu: dict[str, list[float]] = {"switch": [], "click": []}  # server CPU s each
        load_cpu: dict[str, list[float]] = {"small": [], "big": []}  # server CPU s per load
        chromium_cpu: dict[str, list[float]] = {"switch": [], "click": []}  # browser CPU s
        rss: list[float] = []
        with (
            dashboard_server(args.serve_with, db, ids["small"], tmp / "small.log") as (
                small_url,
                small_server,
            ),
            dashboard_server(args.serve_with, db, ids["big"], tmp / "big.log") as (
                big_url,
                big_server,
            ),
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            urls = {"small": small_url, "big": big_url}
            pids = {"small": small_server.pid, "big": big_server.pid}
            for round_no in range(s.warmup + s.runs):
                order = ["small", "big"] if round_no % 2 == 0 else ["big", "small"]
                for name in order:
                    cpu = h._proc_cpu(pids[name])
                    timing, page, context = load(browser, urls[name], sizes[name])
                    if round_no >= s.warmup:
                        renders[name].append(timing.views)
                        completes[name].append(timing.exchanges)
                        harness_waits[name].append(timing.harness)
                        load_cpu[name].append(h._proc_cpu(pids[name]) - cpu)
                        if name == "small":
                            time.sleep(LOOK_BEFORE_SWITCH_S)
                            for target in ("big", "small"):
                                cpu, chromium = h._proc_cpu(small_server.pid), browser_cpu()
                                switches[f"to {target}"].append(
                                    switch(page, ids[target], sizes[target])
                                )
                                server_cpu["switch"].append(h._proc_cpu(small_server.pid) - cpu)
                                chromium_cpu["switch"].append(browser_cpu() - chromium)
                        else:
                            for row in (1, 2, 3):
                                cpu, chromium = h._proc_cpu(big_server.pid), browser_cpu()
                                clicks.append(click_exchange(page, row))
                                server_cpu["click"].append(h._proc_cpu(big_server.pid) - cpu)
                                chromium_cpu["click"].append(browser_cpu() - chromium)
                        page.close()  # the same profile, its scripts cached, one page open
                        revisits[name].append(revisit(context, urls[name], sizes[name]).views)
                    context.close()
            for _ in range(loads):  # every tab closed; its session destroyed within ~2 s
                _, page, context = load(browser, big_url, sizes["big"])
                context.close()
                time.sleep(3)
                rss.append(round(rss_mb(big_server.pid), 1))
            browser.close()
        logs = (tmp / "small.log").read_text() + (tmp / "big.log").read_text()
        noise_report = noise.report()
    failures = server_failures(logs)

    small, big = statistics.median(renders["small"]), statistics.median(renders["big"])
    ratio = big / small
    growth = (rss[-1] - rss[0]) / max(len(rss) - 1, 1)
    switch_to = {target: statistics.median(v) for target, v in switches.items()}
    switch_s = max(switch_to.values())  # the slower direction
    click_s = statistics.median(clicks)
    rows = [
        [f"render {sizes['small']:,} exchanges", f"{small:.3f} s"],
        [f"render {sizes['big']:,} exchanges", f"{big:.3f} s"],
        ["ratio big / small", f"{ratio:.2f}x"],
        [
            "exchange list shown too small / big",
            f"{statistics.median(completes['small']):.3f} / "
            f"{statistics.median(completes['big']):.3f} s",
        ],
        [
            "render as Playwright saw it small / big",
            f"{statistics.median(harness_waits['small']):.3f} / "
            f"{statistics.median(harness_waits['big']):.3f} s",
        ],
        [
            "render on a return visit (scripts cached) small / big",
            f"{statistics.median(revisits['small']):.3f} / "
            f"{statistics.median(revisits['big']):.3f} s",
        ],
        [
            "server CPU per page load small / big (median)",
            f"{statistics.median(load_cpu['small']):.3f} / "
            f"{statistics.median(load_cpu['big']):.3f} s",
        ],
        [
            "run switch to big / to small (median)",
            f"{switch_to['to big']:.3f} / {switch_to['to small']:.3f} s",
        ],
        ["click on an exchange (median)", f"{click_s:.3f} s"],
        [
            "server CPU per switch / click (median)",
            f"{statistics.median(server_cpu['switch']):.3f} / "
            f"{statistics.median(server_cpu['click']):.3f} s",
        ],
        [
            "browser CPU per switch / click (median)",
            f"{statistics.median(chromium_cpu['switch']):.3f} / "
            f"{statistics.median(chromium_cpu['click']):.3f} s",
        ],
        [f"server RSS after load 1 / {loads}", f"{rss[0]:.1f} / {rss[-1]:.1f} MB"],
        ["RSS growth per page load", f"{growth:+.2f} MB"],
    ]
    print("\n" + h.table(rows, ["dashboard", "measured"]))
    targets = [
        h.target("dashboard: render big / small", ratio, "<=", 2.0, "x", s),
        h.target("dashboard: run switch, slower direction", switch_s, "<=", 0.5, " s", s),
        h.target("dashboard: click on an exchange", click_s, "<=", 0.5, " s", s),
        h.target(
            "dashboard: server RSS growth per page load",
            growth,
            "<=",
            RSS_GROWTH_PER_LOAD_MB,
            " MB",
            s,
        ),
    ]
    h.print_targets(targets)
    print("noise:", noise_report)
    h.write_results(
        "dashboard",
        s,
        {
            "params": {
                "sizes": sizes,
                "loads": loads,
                "capture": "real engine runs",
                "server": args.serve_with,
            },
            "machine": h.machine(s, False),
            "noise": noise_report,
            "render": {name: summary(v) for name, v in renders.items()},
            "render_return_visit": {name: summary(v) for name, v in revisits.items()},
            "exchange_list_shown": {name: summary(v) for name, v in completes.items()},
            "render_seen_by_playwright": {name: summary(v) for name, v in harness_waits.items()},
            "switch": {name: summary(v) for name, v in switches.items()},
            "click": summary(clicks),
            "server_cpu_seconds": {name: summary(v) for name, v in server_cpu.items()},
            "server_cpu_seconds_per_load": {name: summary(v) for name, v in load_cpu.items()},
            "browser_cpu_seconds": {name: summary(v) for name, v in chromium_cpu.items()},
            "rss_mb_after_each_load": rss,
            "server_tracebacks": failures,
            "targets": targets,
        },
    )
    if failures:
        print("\n\n".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
