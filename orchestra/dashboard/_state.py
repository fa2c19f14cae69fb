"""The dashboard's state: what is selected, and what the views draw, in one ``param`` object.

Selections (``run_id``, ``step_path``, ``exchange_id``, ``exchange_page`` and
the filters) are the inputs: set them from a view, a test or a notebook cell
and the state reads what they select from the capture file. The outputs
(``runs``, ``graph``, ``steps``, ``exchanges``, ``exchange``, ``waterfall``,
``metrics``) are set only here; the views watch them and draw.

Live updates come from :meth:`DashboardState.poll`, a coroutine the dashboard
runs every ``refresh_interval`` seconds: it reads a cheap signature of the file
in a worker thread (the kernel or server loop never waits on DuckDB), reads
the rest only when something changed, and applies the result on the loop. A
failure is logged with its traceback and shown in ``error`` — never swallowed.

Every refresh reads inside one snapshot of the file (one read-only
connection, one transaction), and the selected run's numbers come from that
run's own read — requests as captured exchanges, errors counted once
(:meth:`CaptureReader.error_counts`), records per step as emitted — and are
copied into its row of the run list, so the header, the run list, the graph,
the step table and the metrics agree on every count even while a run writes.
The run list is read again whenever any run's row changed, so a live run's
row follows it to its end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pandas as pd
import param

from orchestra.capture import (
    CaptureLockTimeout,
    CaptureReader,
    CaptureSignature,
    CaptureStore,
    ExchangeFilter,
    RunNotFound,
    RunStatistics,
    WaterfallRows,
)
from orchestra.dashboard import _run_cache as run_cache
from orchestra.dashboard._exchange import ExchangeView, exchange_view
from orchestra.dashboard._layout import FlowGraphLayout, build, with_statuses
from orchestra.dashboard._live import LiveFeed
from orchestra.dashboard._run_cache import run_key
from orchestra.events import EventBus
from orchestra.types import RunStatus

logger = logging.getLogger("orchestra.dashboard")

RUN_STATUSES = [status.value for status in RunStatus]
RUN_COLUMNS = ["run_id", "plan_key", "status", "started_at", "duration_ms", "requests", "errors"]
FULL_READ_SECONDS = 5.0  # a poll reads the file at least this often, even if it looks unchanged
RUNS_LIMIT = 500  # the run picker lists the newest runs; filters narrow it
STEP_COLUMNS = [
    "step_path",
    "status",
    "executions",
    "requests",
    "retries",
    "max_attempt",
    "pages",
    "items",
    "records",
    "bytes",
    "duration_ms",
]
# The column types of the tables, empty or not. Panel's Tabulator derives each column's
# configuration (its sorter) from the dtype: an empty frame typed otherwise than the data
# changes the configuration when the first rows arrive, and the browser then destroys and
# rebuilds the table while live updates keep coming (a redraw of the half-built table
# throws "Cannot read properties of null (reading 'offsetWidth')").
STEP_DTYPES = {
    "step_path": "str",
    "status": "str",
    **{column: "int64" for column in STEP_COLUMNS[2:-1]},
    "duration_ms": "float64",
}
EXCHANGE_LIST_DTYPES = {  # as DuckDB returns them (nullable integers where NULLs occur)
    "exchange_id": "int64",
    "page": "int64",
    "item_index": "Int64",
    "attempt": "int64",
    "method": "str",
    "url": "str",
    "status_code": "Int64",
    "elapsed_ms": "float64",
    "response_size": "Int64",
    "error": "object",
}


def typed_frame(dtypes: dict[str, str]) -> pd.DataFrame:
    """An empty frame with these columns and column types."""
    return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in dtypes.items()})


@dataclass(frozen=True)
class _Keys:
    """The selection a read was made for (a read for an older selection is dropped)."""

    run_id: str | None
    step_path: str | None
    exchange_page: int
    page_size: int
    errors_only: bool
    exchange_id: int | None
    exchange_filter: ExchangeFilter


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts, a missing value (NaN, NA, NaT) as ``None``.

    pandas marks a missing value of a column by its type (NaN in a float or object column,
    ``pd.NA`` in a nullable one); Python code that reads a row (``row["error"] or ""``)
    expects ``None``, and NaN is truthy.
    """
    return cast(
        "list[dict[str, Any]]",
        frame.astype(object).where(frame.notna(), None).to_dict("records"),
    )


def agreeing(
    values: dict[str, Any], shown_runs: pd.DataFrame | None, shown_run: dict[str, Any] | None
) -> dict[str, Any]:
    """``values`` with the selected run's row of the run list set from the run's own read.

    ``values`` may hold a new ``runs`` list, a new ``run`` or both; what it lacks is
    taken from what is shown (``shown_runs``, ``shown_run``).

    The run list and the run's views are read in one snapshot, but from different
    tables; the selected run's status, duration and counts come from the run's own
    read, so the run list, the header, the step table and the metrics say the same.
    """
    run = values.get("run", shown_run)
    runs = values.get("runs", shown_runs)
    if not run or runs is None or not len(runs) or "run_id" not in runs:
        return values
    selected = runs["run_id"] == run["run_id"]
    if not selected.any():
        return values
    runs = runs.copy()
    for column in ("status", "duration_ms", "requests", "errors"):
        if column in runs:
            runs.loc[selected, column] = run.get(column)
    if shown_runs is not None and runs.equals(shown_runs):
        # what is shown says this already: no new frame (param sees every frame as a change),
        # so the run list and the comparison's pickers are not redrawn for nothing
        return {key: value for key, value in values.items() if key != "runs"}
    return {**values, "runs": runs}


def _empty_steps() -> pd.DataFrame:
    return typed_frame(STEP_DTYPES)


def _empty_exchanges() -> pd.DataFrame:
    return typed_frame(EXCHANGE_LIST_DTYPES)


class DashboardState(param.Parameterized):
    """Selections and data of one dashboard over one capture file."""

    db = param.String(default="orchestra.duckdb", constant=True, doc="The capture file read.")

    # -- selections (inputs) ---------------------------------------------------------------
    plan_filter = param.String(default="", doc="Show only runs of this plan key ('' for all).")
    status_filter = param.String(default="", doc="Show only runs with this status ('' for all).")
    run_id = param.String(default=None, allow_None=True, doc="The run shown.")
    follow_latest = param.Boolean(
        default=True, doc="Switch to the newest run when a new one starts (off once you pick one)."
    )
    step_path = param.String(
        default=None, allow_None=True, doc="The selected step (None: every exchange of the run)."
    )
    exchange_id = param.Integer(default=None, allow_None=True, doc="The exchange inspected.")
    exchange_page = param.Integer(default=0, bounds=(0, None), doc="Page of the exchange list.")
    page_size = param.Integer(default=25, bounds=(1, 500), doc="Exchanges per page.")
    errors_only = param.Boolean(default=False, doc="List only failed exchanges (>= 400, none).")
    exchange_filter = param.ClassSelector(
        class_=ExchangeFilter,
        default=ExchangeFilter(),
        instantiate=False,
        doc="The exchange list's other filters, body search and sort.",
    )
    refresh_interval = param.Number(
        default=0.5, bounds=(0.05, None), doc="Seconds between polls of the file."
    )

    # -- outputs (set by the state, drawn by the views) --------------------------------------
    runs = param.DataFrame(default=None, allow_None=True, doc="Runs, newest first.")
    plan_keys = param.List(default=[], doc="Plan keys in the file, for the plan filter.")
    run = param.Dict(default=None, allow_None=True, doc="The selected run's row.")
    graph = param.ClassSelector(
        class_=FlowGraphLayout,
        default=None,
        allow_None=True,
        doc="The flow graph of the run: nodes, edges, statuses.",
    )
    steps = param.DataFrame(default=None, allow_None=True, doc="One row per step path.")
    record_counts = param.Dict(
        default={}, doc="Records per step path that emitted them in the run (none: absent)."
    )
    exchanges = param.DataFrame(default=None, allow_None=True, doc="The exchange list's page.")
    exchange_total = param.Integer(default=0, doc="Exchanges matching the list's filter.")
    exchange_scope_total = param.Integer(
        default=0, doc="Exchanges of the run (or the selected step) before any filter."
    )
    exchange_error_kinds = param.Dict(default={}, doc="Transport error kinds -> exchanges.")
    exchange = param.ClassSelector(
        class_=ExchangeView,
        default=None,
        allow_None=True,
        doc="The inspected exchange, ready to show.",
    )
    waterfall = param.ClassSelector(
        class_=WaterfallRows,
        default=None,
        allow_None=True,
        doc="Exchanges and waits over time.",
    )
    metrics = param.ClassSelector(
        class_=RunStatistics,
        default=None,
        allow_None=True,
        doc="Totals, errors by status, latency, throughput.",
    )
    message = param.String(default="", doc="What there is to know (e.g. no runs yet).")
    error = param.String(default="", doc="The last failure to read or draw, shown to the user.")
    polls = param.Integer(default=0, doc="Polls that found something new.")

    def __init__(
        self,
        db: str | Path | CaptureStore | None = None,
        *,
        run: str | None = None,
        lock_timeout: float = 5.0,
        **params: Any,
    ):
        from orchestra._run import default_db

        if isinstance(db, CaptureStore):
            store = db
        else:
            store = CaptureStore(db if db is not None else default_db(), lock_timeout=lock_timeout)
        super().__init__(db=store.path, **params)
        self.store = store
        self.feed: LiveFeed | None = None
        # wraps every batch of updates; the Panel dashboard sets pn.io.hold, so the browser
        # gets one consistent update instead of one message per view
        self.batch: Callable[[], AbstractContextManager[Any]] = nullcontext
        self._layout: FlowGraphLayout | None = None  # positions of the run's graph, kept
        self._layout_run: str | None = None
        self._signature: CaptureSignature | None = None
        self._feed_events = -1
        self._kept_error = ""  # an error a poll does not clear (see __init__)
        self._newest: str | None = None
        self._runs_progress: tuple[Any, ...] = ()
        self._polling = False
        self._stamp: tuple[int, ...] | None = None  # the file as the last poll read it
        self._stamp_read_at = 0.0
        # what select_exchange read for the selection it makes: its watchers use it
        self._prefetched: tuple[_Keys, dict[str, Any]] | None = None
        # what the first read read of the run to show, for its load_run (see _first_read)
        self._first_run: tuple[_Keys, CaptureSignature, dict[str, Any]] | None = None
        self._resolved: tuple[str, str] | None = None  # (the run asked for, its full id)
        self.param.update(
            runs=pd.DataFrame({c: [] for c in RUN_COLUMNS}),
            steps=_empty_steps(),
            exchanges=_empty_exchanges(),
        )
        self.param.watch(self._on_filters, ["plan_filter", "status_filter"])
        self.param.watch(
            self._on_selection,
            [
                "run_id",
                "step_path",
                "exchange_page",
                "page_size",
                "errors_only",
                "exchange_filter",
                "exchange_id",
            ],
        )
        self._first_read(run)
        if run is not None:
            with self._guard("open the run"):
                resolved = self._resolved
                self.select_run(
                    resolved[1] if resolved and resolved[0] == run else self.store.resolve_run(run)
                )
            if self.error and self.run_id is None:
                # the page named a run the file does not hold: it says so until the person
                # picks a run, and never swaps in the newest one behind their back
                self.follow_latest = False
                self._kept_error = self.error
        elif self._newest is not None:
            self.run_id = self._newest
        self._first_run = None

    # -- errors ----------------------------------------------------------------------------

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except FileNotFoundError as error:
            self.message = f"{error}; waiting for a run to write it"
        except (CaptureLockTimeout, RunNotFound) as error:  # said in full: no traceback to add
            self.report(action, error, log_traceback=False)
        except Exception as error:
            self.report(action, error)

    def report(self, action: str, error: BaseException, *, log_traceback: bool = True) -> None:
        """Log a failure (with its traceback) and show it in ``error``."""
        if log_traceback:
            logger.error("dashboard could not %s", action, exc_info=error)
        else:
            logger.warning("dashboard could not %s: %s", action, error)
        self.error = f"Could not {action}: {type(error).__name__}: {error}"

    # -- public actions ----------------------------------------------------------------------

    def select_run(self, run_id: str | None) -> None:
        """Show ``run_id``; following the newest run stays on only if it is the newest."""
        self.follow_latest = run_id is None or run_id == self._newest
        self.run_id = run_id if run_id is not None else self._newest

    def select_exchange(self, exchange_id: int | None) -> None:
        """Inspect an exchange of the run, turning the list to its step and page."""
        if exchange_id is None or self.run_id is None:
            self.exchange_id = None
            return
        with self._guard("select the exchange"):
            with self._reading() as db:
                selection, values = self._read_selected_exchange(db, int(exchange_id))
            # one open per click: the watchers draw what was read here (the file is
            # closed while the views redraw, so a writer elsewhere is not held up)
            self._prefetched = (self._keys_with(selection), values)
            try:
                self.param.update(**selection)
            finally:
                self._prefetched = None

    def _read_selected_exchange(
        self, db: CaptureReader, exchange_id: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The selection that shows ``exchange_id``, and what the views draw for it."""
        assert self.run_id is not None
        row = db.exchange(self.run_id, exchange_id)
        if row is None:
            raise LookupError(f"exchange {exchange_id} is not in run {self.run_id}")
        step = row["step_path"] if self.step_path is not None else None
        filters = self.exchange_filter
        position = db.exchange_position(
            self.run_id, step, int(exchange_id), self.errors_only, filters
        )
        errors_only = self.errors_only and position is not None
        if position is None:  # filtered out: list every exchange, in the same order
            filters = ExchangeFilter(sort=filters.sort)
            position = db.exchange_position(self.run_id, step, int(exchange_id), False, filters)
        selection = {
            "step_path": step,
            "errors_only": errors_only,
            "exchange_filter": filters,
            "exchange_page": (position or 0) // self.page_size,
            "exchange_id": exchange_id,
        }
        keys = self._keys_with(selection)
        if (
            keys.step_path == self.step_path
            and keys.exchange_page == self.exchange_page
            and (
                keys.errors_only == self.errors_only
                and keys.exchange_filter == self.exchange_filter
            )
        ):
            return selection, {"exchange": self._read_exchange(db, keys)}
        return selection, self._read_exchanges(db, keys)

    def _keys_with(self, selection: dict[str, Any]) -> _Keys:
        return dataclasses.replace(self._keys(), **selection)

    def attach(self, bus: EventBus) -> LiveFeed:
        """Follow a run of this process through its event bus (``runner.bus``)."""
        if self.feed is None:
            self.feed = LiveFeed()
        return self.feed.attach(bus)

    def refresh(self) -> None:
        """Read everything for the current selection now (synchronously), in one snapshot."""
        with self._guard("refresh"):
            keys = self._keys()
            with self._reading() as db:
                values = self._read_runs(db)
                if keys.run_id is not None:
                    values.update(self._read_run(db, keys))
            self._runs_progress = values.pop("_runs_progress")
            self.param.update(**agreeing(values, self.runs, self.run))

    # -- loading -----------------------------------------------------------------------------

    def _keys(self) -> _Keys:
        return _Keys(
            self.run_id,
            self.step_path,
            self.exchange_page,
            self.page_size,
            self.errors_only,
            self.exchange_id,
            self.exchange_filter,
        )

    @contextmanager
    def _reading(self) -> Iterator[CaptureReader]:
        """The capture opened read-only for one refresh (retrying while a writer holds it).

        Every read of the block sees the same state of the file (one snapshot), so the
        views drawn from one refresh agree on every count even while a run writes.
        """
        if not self.store.database.exists:
            raise FileNotFoundError(f"{self.store.path} does not exist yet")
        with self.store.read() as db, db.snapshot():
            yield db

    def _first_read(self, run: str | None) -> None:
        """The run list, the run to show (``run`` or the newest) and its views: one open.

        Opening the file costs DuckDB a new instance (~20 ms of CPU, more of waiting on a
        busy machine), and a new page used to open it three times (runs, the run asked for,
        the run's views). What is read of the run here is drawn by the ``load_run`` that
        selecting it makes; if reading it fails, that ``load_run`` reads again and reports.
        """
        with self._guard("read the runs"):
            stamp = self.store.database.stamp()  # before the read: a later write is seen
            with self._reading() as db:
                values = self._read_runs(db)
                with suppress(Exception):  # read again (and reported) by load_run
                    run_id = self._newest
                    if run is not None:
                        run_id = db.resolve_run(run)
                        self._resolved = (run, run_id)
                    if run_id is not None:
                        keys = self._keys_with(
                            {"run_id": run_id, "step_path": None, "exchange_id": None,
                             "exchange_page": 0}
                        )  # fmt: skip
                        signature = db.signature(run_id)
                        self._first_run = (keys, signature, self._read_run(db, keys, signature))
            self._runs_progress = values.pop("_runs_progress")
            self.param.update(**agreeing(values, self.runs, self.run))
            # the page's first poll need not open the file to learn that nothing changed
            self._stamp, self._stamp_read_at = stamp, time.monotonic()

    def reload_runs(self) -> None:
        with self._guard("read the runs"):
            with self._reading() as db:
                values = self._read_runs(db)
            self._runs_progress = values.pop("_runs_progress")
            self.param.update(**agreeing(values, self.runs, self.run))

    def _read_runs(self, db: CaptureReader) -> dict[str, Any]:
        runs = db.runs(
            plan_key=self.plan_filter,
            status=self.status_filter,
            limit=RUNS_LIMIT,
            columns=RUN_COLUMNS,
        )
        newest = db.runs(limit=1, columns=["run_id"])["run_id"].tolist()
        self._newest = newest[0] if newest else None
        if len(runs):
            errors = db.error_counts(runs["run_id"].astype(str).tolist())
            runs = runs.assign(errors=runs["run_id"].map(errors).fillna(0).astype("int64"))
        return {
            "_runs_progress": db.runs_progress(),
            "runs": runs,
            "plan_keys": db.plan_keys(),
            "message": "" if self._newest else f"{self.db} holds no runs yet",
        }

    def load_run(self) -> None:
        with self._guard("read the run"):
            keys = self._keys()
            if keys.run_id is None:
                values = self._read_run(None, keys)
            elif self._first_run is not None and self._first_run[0] == keys:
                _, signature, values = self._first_run
                self._first_run = None
                self._signature = signature
                self._feed_events = self.feed.events if self.feed is not None else -1
            else:
                with self._reading() as db:
                    # what the next poll compares with: this read, not a second one
                    signature = db.signature(keys.run_id)
                    values = self._read_run(db, keys, signature)
                self._signature = signature
                self._feed_events = self.feed.events if self.feed is not None else -1
            self.param.update(**agreeing(values, self.runs, self.run))

    def _read_run(
        self, db: CaptureReader | None, keys: _Keys, signature: CaptureSignature | None = None
    ) -> dict[str, Any]:
        """Everything drawn for a run, read for the selection ``keys``.

        A finished run's aggregates come from the process's cache when its
        ``signature`` (read here if not given) is the one they were computed for.
        """
        if keys.run_id is None:
            return {
                "run": None,
                "graph": None,
                "steps": _empty_steps(),
                "record_counts": {},
                "exchanges": _empty_exchanges(),
                "exchange_total": 0,
                "exchange_scope_total": 0,
                "exchange_error_kinds": {},
                "exchange": None,
                "waterfall": None,
                "metrics": None,
            }
        assert db is not None
        if signature is None:
            signature = db.signature(keys.run_id)
        live = self.feed is not None and keys.run_id in self.feed.runs - self.feed.finished
        key = None if live else run_key(db.path, keys.run_id, signature)
        values = run_cache.RUNS.get(key)
        if values is None:
            values = self._read_aggregates(db, keys.run_id)
            run_cache.RUNS.put(key, values)
        values.update(self._read_exchanges(db, keys))
        return values

    def _read_aggregates(self, db: CaptureReader, run_id: str) -> dict[str, Any]:
        """A run's header, graph, step table, whole-run waterfall and metrics."""
        run = db.run(run_id)
        if run is None:
            raise LookupError(f"run {run_id} is not in {self.db}")
        stats = db.step_statistics(run_id)
        # records belong to the step that emitted them (the steps table's count credits a
        # fanout's records to its parent too): the same numbers as the CLI and the notebook
        emitted = db.records_by_step(run_id)
        stats = stats.assign(records=[emitted.get(path, 0) for path in stats["step_path"]])
        graph = self._graph(db, run_id, run, stats)
        metrics = db.statistics(run_id)
        # one count per number on screen: the requests captured (the run row's counter
        # also counts requests still in flight) and the errors as the run list counts them
        errors = db.error_counts([run_id])[run_id]
        run = {**run, "requests": int(metrics.totals["requests"]), "errors": errors}
        metrics.totals["errors"] = errors
        values: dict[str, Any] = {
            "run": run,
            "graph": graph,
            "steps": self._steps_frame(stats, graph),
            "record_counts": emitted,
            "waterfall": db.waterfall(run_id),
            "metrics": metrics,
        }
        return values

    def _graph(
        self, db: CaptureReader, run_id: str, run: dict[str, Any], stats: pd.DataFrame
    ) -> FlowGraphLayout:
        paths = stats["step_path"].dropna().tolist()
        layout = self._layout
        if layout is None or self._layout_run != run_id or not set(paths) <= set(layout.nodes):
            layout = build(db.plan(run_id), paths)  # a new path: lay out again
            self._layout, self._layout_run = layout, run_id
        rows = {r["step_path"]: r for r in records(stats)}
        running = run.get("status") == "running"
        live = self.feed.running(run_id) if self.feed is not None else set()
        return with_statuses(layout, rows, run_running=running, live_running=live)

    @staticmethod
    def _steps_frame(stats: pd.DataFrame, graph: FlowGraphLayout) -> pd.DataFrame:
        """One row per node of the graph, in graph order, with the step statistics."""
        by_path = {r["step_path"]: r for r in records(stats)}
        table = []
        for node in graph.nodes.values():
            row = by_path.get(node.path, {})
            entry: dict[str, Any] = {"step_path": node.path, "status": node.status}
            for column in STEP_COLUMNS[2:]:
                value = row.get(column)
                missing = None if column == "duration_ms" else 0
                entry[column] = missing if value is None else value
            table.append(entry)
        return pd.DataFrame(table, columns=STEP_COLUMNS).astype(STEP_DTYPES)

    def _read_exchanges(self, db: CaptureReader, keys: _Keys) -> dict[str, Any]:
        if keys.run_id is None:
            return {"exchanges": _empty_exchanges(), "exchange_total": 0, "exchange": None}
        page, total = db.exchange_page(
            keys.run_id,
            keys.step_path,
            offset=keys.exchange_page * keys.page_size,
            limit=keys.page_size,
            errors_only=keys.errors_only,
            filters=keys.exchange_filter,
        )
        values: dict[str, Any] = {
            "exchanges": page,
            "exchange_total": total,
            "exchange_scope_total": db.exchange_count(keys.run_id, keys.step_path),
            "exchange_error_kinds": db.exchange_error_kinds(keys.run_id, keys.step_path),
        }
        values["exchange"] = self._read_exchange(db, keys)
        return values

    def _read_exchange(self, db: CaptureReader, keys: _Keys) -> ExchangeView | None:
        if keys.run_id is None or keys.exchange_id is None:
            return None
        row = db.exchange(keys.run_id, keys.exchange_id)
        return None if row is None else exchange_view(row)

    # -- watchers ----------------------------------------------------------------------------

    def _on_filters(self, *events: param.parameterized.Event) -> None:
        self.reload_runs()

    def _on_selection(self, *events: param.parameterized.Event) -> None:
        names = {event.name for event in events}
        resets: dict[str, Any] = {}
        if "run_id" in names:
            if "step_path" not in names:
                resets["step_path"] = None
            if "exchange_id" not in names:
                resets["exchange_id"] = None
            if "exchange_page" not in names:
                resets["exchange_page"] = 0
        elif names & {"step_path", "errors_only", "exchange_filter", "page_size"}:
            if "exchange_page" not in names:
                resets["exchange_page"] = 0
            if "step_path" in names and "exchange_id" not in names:
                resets["exchange_id"] = None
        if resets:
            with param.discard_events(self):
                self.param.update(**resets)
        self.error = self._kept_error = ""
        with self.batch():
            if "run_id" in names:
                self._signature = None  # until load_run reads the new run's
                self.load_run()
            elif names & {
                "step_path",
                "exchange_page",
                "page_size",
                "errors_only",
                "exchange_filter",
            }:
                with self._guard("read the exchanges"):
                    values = self._prefetch("exchanges")
                    if values is None:
                        with self._reading() as db:
                            values = self._read_exchanges(db, self._keys())
                    self.param.update(**values)
            elif "exchange_id" in names:
                with self._guard("read the exchange"):
                    values = self._prefetch("exchange")
                    if values is None:
                        with self._reading() as db:
                            values = {"exchange": self._read_exchange(db, self._keys())}
                    self.param.update(**values)

    def _prefetch(self, wanted: str) -> dict[str, Any] | None:
        """What select_exchange read for the current selection, if it read ``wanted``."""
        if self._prefetched is None:
            return None
        keys, values = self._prefetched
        return values if keys == self._keys() and wanted in values else None

    # -- live --------------------------------------------------------------------------------

    def _read_changes(
        self, keys: _Keys, known: CaptureSignature | None, known_runs: tuple[Any, ...]
    ) -> dict[str, Any]:
        """(worker thread) What changed in the file since ``known``; {} when nothing did.

        ``known_runs`` is the run list's progress last read: the list is read again when
        any run's row changed (a live run that is not the one shown, too).
        """
        if not self.store.database.exists:
            return {}
        with self._reading() as db:  # one snapshot for the whole refresh
            signature = db.signature(keys.run_id)
            feed_events = self.feed.events if self.feed is not None else -1
            runs_changed = known is None or db.runs_progress() != known_runs
            run_changed = signature != known or feed_events != self._feed_events
            if not (runs_changed or run_changed):
                return {}
            values: dict[str, Any] = {"_signature": signature, "_feed_events": feed_events}
            if runs_changed:
                values.update(self._read_runs(db))
            if run_changed and keys.run_id is not None:
                values.update(self._read_run(db, keys, signature))
        return values

    async def poll(self) -> None:
        """Read what changed (in a worker thread) and show it; failures land in ``error``."""
        if self._polling:  # the previous poll still reads (a slow disk, a busy machine)
            return
        self._polling = True
        try:
            await self._poll()
        finally:
            self._polling = False

    def unchanged_since_read(self) -> bool:
        """Whether the capture file is as this state last read it (nothing written since).

        A page made ahead of time from this state shows what a new read would; its first
        poll still reads everything if its last full read is old (FULL_READ_SECONDS).
        """
        return self.store.database.stamp() == self._stamp and self.feed is None

    def _unchanged_since_read(self, stamp: tuple[int, ...] | None) -> bool:
        """Nothing was written since the last poll's read: no need to open the file."""
        feed_events = self.feed.events if self.feed is not None else -1
        return (
            stamp is not None
            and self._signature is not None
            and stamp == self._stamp
            and feed_events == self._feed_events
            and time.monotonic() - self._stamp_read_at < FULL_READ_SECONDS
        )

    async def _poll(self) -> None:
        keys = self._keys()
        known = self._signature
        stamp = self.store.database.stamp()  # before the read: a later write is seen next
        if self._unchanged_since_read(stamp):
            return
        try:
            values = await asyncio.to_thread(self._read_changes, keys, known, self._runs_progress)
        except FileNotFoundError:
            return
        except CaptureLockTimeout as error:
            self.report("refresh (the file stayed locked)", error, log_traceback=False)
            return
        except Exception as error:
            self.report("refresh", error)
            return
        if self._keys() != keys or self._signature is not known:
            return  # the selection moved meanwhile: the next poll reads it
        self._stamp, self._stamp_read_at = stamp, time.monotonic()
        if not values:
            return
        self._signature = values.pop("_signature")
        self._feed_events = values.pop("_feed_events")
        self._runs_progress = values.pop("_runs_progress", self._runs_progress)
        values = agreeing(values, self.runs, self.run)
        newest = self._newest
        try:
            with self.batch():
                self.param.update(**values, error=self._kept_error, polls=self.polls + 1)
                if self.follow_latest and newest is not None and newest != self.run_id:
                    self.run_id = newest
        except Exception as error:  # a view failed to draw: show it, keep polling
            self.report("show the update", error)
