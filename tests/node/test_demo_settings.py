"""The demo's node folders carry a settings file, so the CLI can be pointed at them."""

from __future__ import annotations

from click.testing import CliRunner

from node.cli import cli
from node.demo import build_node
from node.demo_data import NODES
from node.settings import SETTINGS_FILE, Settings


def test_a_demo_node_folder_has_settings_the_cli_reads(tmp_path):
    spec = next(n for n in NODES if n["key"] == "se")
    _app, state = build_node(tmp_path, spec, "127.0.0.1")
    folder = tmp_path / "se"
    assert (folder / SETTINGS_FILE).exists()
    loaded = Settings.load(folder)
    assert loaded.domain == state.settings.domain == "127.0.0.1:8003"
    assert loaded.secret_key == state.settings.secret_key and loaded.dev_mode
    assert loaded.listen_port == 8003 and loaded.default_language == "sv"
    state.engine.dispose()
    result = CliRunner().invoke(cli, ["--instance", str(folder), "partner", "list"])
    assert result.exit_code == 0, result.output
