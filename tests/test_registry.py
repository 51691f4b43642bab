"""The plugin registry and the CLI's handling of plugins and user errors."""

from __future__ import annotations

import warnings

import click
import pytest
from click.testing import CliRunner

import ganzoo
from ganzoo import hookimpl, registry
from ganzoo.cli import cli
from ganzoo.errors import GanzooError, UnknownNameError
from ganzoo.registry import DuplicateNameError, PluginLoadWarning, get_registry, register_plugin, unregister_plugin


class ToyPlugin:
    @hookimpl
    def register_models(register):
        register("toy-gan", object, "A toy model\nwith a second line that is not shown")

    @hookimpl
    def register_metrics(register):
        register("toy-metric", object, "A toy metric")


class ClashingPlugin:
    @hookimpl
    def register_models(register):
        register("toy-gan", object, "Same name as ToyPlugin's model")


class HalfBrokenPlugin:
    @hookimpl
    def register_models(register):
        register("half-gan", object, "registered before the failure")
        raise RuntimeError("disk on fire")


class FakeDist:
    def __init__(self, name):
        self.name = name


class FakeEntryPoint:
    """Just what the registry reads from an importlib.metadata.EntryPoint."""

    def __init__(self, name, module=None, error=None, dist="thirdparty"):
        self.name, self.module, self.error = name, module, error
        self.dist = FakeDist(dist) if dist else None

    def load(self):
        if self.error is not None:
            raise self.error
        return self.module


def plugin_module(model_name):
    class Module:
        @hookimpl
        def register_models(register):
            register(model_name, object, f"{model_name} from a fake entry point")
    return Module


@pytest.fixture
def isolated(monkeypatch):
    """A registry rebuilt for this test; the process-wide one is restored afterwards."""
    monkeypatch.setattr(registry, "_REGISTRY", None)
    monkeypatch.setattr(registry, "_EXTRA_PLUGINS", [])
    monkeypatch.delenv(registry.ENV_PLUGINS, raising=False)
    return monkeypatch


@pytest.fixture
def toy_plugin(isolated):
    reg = register_plugin(ToyPlugin, "toy")
    yield reg
    unregister_plugin("toy")


def fake_entry_points(monkeypatch, *eps):
    monkeypatch.setattr(registry, "entry_points", lambda group: list(eps) if group == "ganzoo" else [])


def test_register_and_unregister_in_process_plugin(toy_plugin):
    entry = toy_plugin.get("model", "toy-gan")
    assert entry.plugin == "toy"
    assert entry.description == "A toy model"
    assert toy_plugin.get("metric", "toy-metric").plugin == "toy"
    assert "toy-gan" in toy_plugin.names("model")
    reg = unregister_plugin("toy")
    with pytest.raises(UnknownNameError, match="toy-gan"):
        reg.get("model", "toy-gan")
    register_plugin(ToyPlugin, "toy")  # the fixture's teardown unregisters it again


def test_builtin_plugins_register_through_entry_points(isolated):
    reg = get_registry()
    assert reg.get("text encoder", "minilm").plugin == "text_encoders"


def test_unknown_name_lists_valid_names(toy_plugin):
    with pytest.raises(UnknownNameError) as info:
        toy_plugin.get("model", "toy-ganz")
    assert "toy-gan" in str(info.value) and info.value.exit_code == 2


def test_duplicate_name_names_both_plugins_and_rolls_back(toy_plugin):
    with pytest.raises(DuplicateNameError) as info:
        register_plugin(ClashingPlugin, "clash")
    msg = str(info.value)
    assert "'toy-gan'" in msg and "'toy'" in msg and "'clash'" in msg
    # The clashing plugin was removed again: the registry still builds.
    assert get_registry(refresh=True).get("model", "toy-gan").plugin == "toy"


def test_same_plugin_name_twice_is_refused(toy_plugin):
    with pytest.raises(GanzooError, match="already registered"):
        register_plugin(ClashingPlugin, "toy")


def test_failing_import_is_one_warning_and_others_load(isolated):
    fake_entry_points(isolated,
                      FakeEntryPoint("good", plugin_module("good-gan")),
                      FakeEntryPoint("broken", error=ImportError("No module named 'torchvisionx'")),
                      FakeEntryPoint("also-good", plugin_module("other-gan")))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = get_registry(refresh=True)
    plugin_warnings = [w for w in caught if issubclass(w.category, PluginLoadWarning)]
    assert len(plugin_warnings) == 1
    text = str(plugin_warnings[0].message)
    assert "'broken'" in text and "ImportError" in text and "torchvisionx" in text
    assert reg.get("model", "good-gan").plugin == "good"
    assert reg.get("model", "other-gan").plugin == "also-good"
    assert set(reg.failed) == {"broken"}


def test_failing_hook_registers_nothing_of_that_plugin(isolated):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = register_plugin(HalfBrokenPlugin, "halfbroken")
    assert [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)] == [
        "ganzoo plugin 'halfbroken' failed and was skipped: RuntimeError in register_models: disk on fire"]
    assert "half-gan" not in reg.names("model")
    assert "minilm" in reg.names("text encoder")  # the built-ins are unaffected
    unregister_plugin("halfbroken")


@pytest.mark.parametrize("env, expected", [
    (None, {"builtin-gan", "ext1-gan", "ext2-gan"}),
    ("ext1", {"builtin-gan", "ext1-gan"}),
    (" ext2 , nothing-by-that-name", {"builtin-gan", "ext2-gan"}),
    ("", {"builtin-gan"}),
])
def test_env_var_narrows_external_plugins_only(isolated, env, expected):
    fake_entry_points(isolated,
                      FakeEntryPoint("builtin", plugin_module("builtin-gan"), dist="ganzoo"),
                      FakeEntryPoint("ext1", plugin_module("ext1-gan")),
                      FakeEntryPoint("ext2", plugin_module("ext2-gan"), dist=None))
    if env is not None:
        isolated.setenv(registry.ENV_PLUGINS, env)
    assert set(get_registry(refresh=True).names("model")) == expected


# ---- the command line ------------------------------------------------------------------

def test_cli_list_shows_names_with_their_plugin(toy_plugin):
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    toy_line = next(line for line in lines if "toy-gan" in line)
    assert "[toy]" in toy_line and "A toy model" in toy_line
    assert any("minilm" in line and "[text_encoders]" in line for line in lines)
    only_metrics = CliRunner().invoke(cli, ["list", "metrics"])
    assert "toy-metric" in only_metrics.stdout and "toy-gan" not in only_metrics.stdout


def test_cli_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"ganzoo, version {ganzoo.__version__}"


def test_cli_list_bad_kind_is_usage_error():
    result = CliRunner().invoke(cli, ["list", "bogus"])
    assert result.exit_code == 2
    assert "models" in result.stderr and "text-encoders" in result.stderr


def test_cli_failing_plugin_is_one_clean_stderr_line(isolated):
    fake_entry_points(isolated,
                      FakeEntryPoint("good", plugin_module("good-gan")),
                      FakeEntryPoint("broken", error=ImportError("No module named 'torchvisionx'")))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        result = CliRunner().invoke(cli, ["list", "models"])
    assert result.exit_code == 0
    assert "good-gan" in result.stdout
    assert result.stderr.splitlines() == [
        "warning: ganzoo plugin 'broken' failed to load and was skipped: "
        "ImportError: No module named 'torchvisionx'"]


@pytest.fixture
def command_raising_unknown_name(toy_plugin):
    @click.command("test-lookup", hidden=True)
    @click.argument("name")
    def lookup(name):
        click.echo(get_registry().model(name))

    cli.add_command(lookup)
    yield "test-lookup"
    del cli.commands["test-lookup"]


def test_cli_unknown_name_exits_2_with_valid_names(command_raising_unknown_name):
    result = CliRunner().invoke(cli, [command_raising_unknown_name, "toy-ganz"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: unknown model 'toy-ganz'; valid models:")
    assert "toy-gan" in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.splitlines()) == 1


# ---- register_commands: plugins add their own subcommands ------------------------------------------------------
class CommandPlugin:
    @hookimpl
    def register_commands(cli):
        @cli.command("toy-hello")
        @click.option("--name", default="world")
        def hello(name):
            """Say hello (from a plugin)."""
            click.echo(f"hello {name}")


class CommandClashPlugin:
    @hookimpl
    def register_commands(cli):
        cli.add_command(click.Command("train", callback=lambda: None))


class CommandBrokenPlugin:
    @hookimpl
    def register_commands(cli):
        raise RuntimeError("no commands today")


def test_plugin_registers_a_command_and_loses_it_when_unregistered(isolated):
    register_plugin(CommandPlugin, "toy-commands")
    try:
        listed = CliRunner().invoke(cli, ["--help"])
        assert "toy-hello" in listed.output and "Say hello (from a plugin)." in listed.output
        result = CliRunner().invoke(cli, ["toy-hello", "--name", "ganzoo"])
        assert result.exit_code == 0 and result.output == "hello ganzoo\n"
    finally:
        unregister_plugin("toy-commands")
    gone = CliRunner().invoke(cli, ["toy-hello"])
    assert gone.exit_code == 2 and "No such command 'toy-hello'" in gone.output


def test_builtin_plugins_bring_their_commands(isolated):
    """`ganzoo evaluator` (metrics plugin) and `ganzoo data` (realdata plugin) are not core commands."""
    from pathlib import Path

    import ganzoo.cli as cli_package

    result = CliRunner().invoke(cli, ["--help"])
    assert "evaluator" in result.output and "data" in result.output
    assert cli.plugin_commands.added.get("evaluator") == "metrics"
    assert cli.plugin_commands.added.get("data") == "realdata"
    core = Path(cli_package.__file__).parent
    assert not (core / "evaluator.py").exists() and not (core / "data.py").exists()


def test_plugin_command_taking_a_core_name_is_an_error(isolated):
    register_plugin(CommandClashPlugin, "clash-commands")
    try:
        result = CliRunner().invoke(cli, ["list", "models"])
        assert result.exit_code != 0
        assert "command name 'train' is registered twice" in result.output and "clash-commands" in result.output
        assert cli.commands["train"].callback is not None and cli.commands["train"].name == "train"
        assert "--model" in CliRunner().invoke(cli, ["train", "--help"]).output  # the core's, not the plugin's
    finally:
        unregister_plugin("clash-commands")


def test_plugin_whose_register_commands_fails_is_one_warning(isolated):
    register_plugin(CommandBrokenPlugin, "broken-commands")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            result = CliRunner().invoke(cli, ["list", "models"])
        assert result.exit_code == 0, result.output
        assert result.stderr.splitlines() == [
            "warning: ganzoo plugin 'broken-commands' failed and was skipped: "
            "RuntimeError in register_commands: no commands today"]
    finally:
        unregister_plugin("broken-commands")
