"""``%flow dashboard``: the dashboard link (MIME bundle) and ``--inline``, with help."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError

from orchestra.notebook._errors import FlowError
from orchestra.notebook.commands import run_cell, run_line
from orchestra.notebook.commands.dashboard import MIME, DashboardLink
from tests.notebook.kernel import KernelSession


def test_the_link_names_the_capture_file_and_run(ctx, tmp_path: Path, monkeypatch):
    link = run_line(ctx, "dashboard")
    assert isinstance(link, DashboardLink)
    bundle = link._repr_mimebundle_()
    assert bundle[MIME] == {"db": str(tmp_path / "capture.duckdb"), "run": None}
    assert "orchestra dashboard --db " + str(tmp_path / "capture.duckdb") in bundle["text/plain"]

    first = run_cell(ctx, "one", 'url: "{config.base_url}/items/1"')
    assert run_line(ctx, f"dashboard --run {first.run_id[:15]}").run == first.run_id
    assert run_line(ctx, "dashboard --run last")._repr_mimebundle_()[MIME]["run"] == first.run_id
    monkeypatch.chdir(tmp_path)
    other = run_line(ctx, "dashboard --db other.duckdb")._repr_mimebundle_()
    assert other[MIME]["db"] == str(tmp_path / "other.duckdb")  # always absolute
    assert f"--run {first.run_id}" in run_line(ctx, "dashboard --run last").command()


def test_wrong_runs_and_options_say_what_to_do(ctx, tmp_path: Path):
    with pytest.raises(FlowError, match="does not exist yet"):
        run_line(ctx, f"dashboard --db {tmp_path / 'none.duckdb'} --run last")
    run_cell(ctx, "one", 'url: "{config.base_url}/items/1"')
    with pytest.raises(FlowError, match="dashboard --run nope"):
        run_line(ctx, "dashboard --run nope")
    with pytest.raises(UsageError, match="did you mean '--inline'"):
        run_line(ctx, "dashboard --inlne")


def test_help_documents_it(ctx):
    text = run_line(ctx, "help dashboard")
    assert "%flow dashboard [--db FILE] [--run ID] [--inline]" in text
    assert "orchestra dashboard --db FILE" in text and "--inline" in text
    assert "dashboard [--db FILE]" in run_line(ctx, "help")


@pytest.mark.timeout(240)
def test_in_a_kernel_the_link_and_the_inline_dashboard(tmp_path: Path, demo_api) -> None:
    kernel = KernelSession(tmp_path)
    try:
        kernel.run("%load_ext orchestra").check()
        kernel.run(f'%%flow one\nurl: "{demo_api.url}/items/1"').check()
        cell = kernel.run("%flow dashboard").check()
        [bundle] = [o["data"] for o in cell.outputs if MIME in o.get("data", {})]
        assert bundle[MIME] == {"db": str(tmp_path / "capture.duckdb"), "run": None}
        assert "orchestra dashboard --db" in bundle["text/plain"]
        assert "panel" not in kernel.run("import sys; print(sorted(sys.modules))").check().text
        inline = kernel.run("%flow dashboard --inline --run last", timeout=180).check()
        assert "application/vnd.holoviews_exec.v0+json" in inline.mimes()  # Panel's output
    finally:
        kernel.shutdown()
