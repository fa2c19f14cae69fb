"""The ace modules that travel with an inline output (the builder's YAML view)."""

from __future__ import annotations

import json
import re

import panel as pn
import pytest

from orchestra.dashboard._ace_offline import ACE_DIR, ace_modules_html, with_ace_modules
from orchestra.dashboard._builder._view import FlowBuilder


def test_the_script_defines_the_mode_and_theme_panel_ships_and_serves_the_worker():
    script = ace_modules_html("yaml", "github_light_default")
    assert script.startswith("<script") and script.count("</script>") == 1
    assert script.rstrip().endswith("</script>")  # nothing inside ends the tag early
    assert 'ace.define("ace/mode/yaml",' in script
    assert 'ace.define("ace/theme/github_light_default",' in script
    assert '"ace/mode/yaml_worker"' in script
    assert (ACE_DIR / "mode-yaml.js").read_text() in script  # Panel's own file, verbatim
    # the worker's code is a JavaScript string (it runs from a blob: URL)
    worker = (ACE_DIR / "worker-yaml.js").read_text()
    assert script.count(json.dumps(worker).replace("</", "<\\/")) == 1  # once: ~78 KB
    assert len(script) < 100_000


def test_the_theme_the_editor_uses_is_the_one_sent():
    script = ace_modules_html("yaml", "github_dark")
    assert 'ace.define("ace/theme/github_dark",' in script
    assert "ace/theme/github_light_default" not in script


def test_files_panel_does_not_ship_are_left_to_ace():
    assert ace_modules_html("no_such_language", "no_such_theme") == ""
    only_theme = ace_modules_html("no_such_language", "github_light_default")
    assert 'ace.define("ace/theme/github_light_default",' in only_theme
    assert "ace/mode/no_such_language" not in only_theme.split("var worker")[0]


def test_the_script_goes_before_the_embed_script_and_keeps_the_rest():
    html = "<div id='p1'></div><script>embed()</script>"
    data, metadata = with_ace_modules(
        ({"text/html": html, "other": "x"}, {"m": 1}), "yaml", "github_light_default"
    )
    assert data["text/html"] == ace_modules_html("yaml", "github_light_default") + html
    assert data["other"] == "x" and metadata == {"m": 1}
    assert with_ace_modules({"text/plain": "x"}, "yaml", "github_light_default") == {
        "text/plain": "x"
    }


@pytest.fixture
def inline_panel():
    loaded, inline = pn.extension._loaded, pn.config.inline
    pn.extension._loaded, pn.config.inline = True, True  # as after pn.extension(inline=True)
    yield
    pn.extension._loaded, pn.config.inline = loaded, inline


def test_the_inline_builder_carries_its_yaml_editor_modules(inline_panel, tmp_path):
    builder = FlowBuilder({"key": "k", "steps": [{"name": "a", "url": "https://x.test/a"}]})
    data, _ = builder._repr_mimebundle_()
    html = data["text/html"]
    assert html.index('ace.define("ace/mode/yaml",') < html.index("embed_document")
    assert re.search(r'ace\.define\("ace/theme/' + builder.yaml.theme + '",', html)
