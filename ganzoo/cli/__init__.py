"""The `ganzoo` command line.

Each module of this package that defines a click object named ``command`` is added to
the top-level group, so a command group lives in its own small module. Plugins add their
own commands through the ``register_commands(cli)`` hook (:mod:`ganzoo.plugin_commands`),
called when a command is first looked up.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import sys
import warnings

import click

from ganzoo import __version__
from ganzoo.errors import GanzooError
from ganzoo.plugin_commands import PluginCommands
from ganzoo.registry import PluginLoadWarning


@contextlib.contextmanager
def plugin_warnings_as_lines():
    """A plugin that fails to load becomes one ``warning: ...`` line on stderr rather than
    Python's two-line warning with a source location."""
    with warnings.catch_warnings():
        python_show = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, PluginLoadWarning):
                click.echo(f"warning: {message}", err=True)
            else:
                python_show(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


class GanzooGroup(click.Group):
    """Turns :class:`GanzooError` into a one-line message and its exit code, never a traceback;
    looks up the plugins' commands (``register_commands``) before listing or resolving one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.plugin_commands = PluginCommands(self)

    def get_command(self, ctx, cmd_name):
        with plugin_warnings_as_lines():
            self.plugin_commands.load()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx):
        with plugin_warnings_as_lines():
            self.plugin_commands.load()
        return super().list_commands(ctx)

    def invoke(self, ctx):
        with plugin_warnings_as_lines():
            try:
                return super().invoke(ctx)
            except GanzooError as exc:
                click.echo(f"error: {exc}", err=True)
                ctx.exit(exc.exit_code)


@click.group(cls=GanzooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="ganzoo")
def cli():
    """ganzoo: train and compare text-to-image GANs on one harness.

    \b
    Start with:
      ganzoo list                                  what is installed
      ganzoo bench --models stackgan,ebgan         train, evaluate, report
      ganzoo train --model stackgan --preset cpu   train one model
      ganzoo sample --checkpoint RUN "a red circle" -o grid.png
    """
    from ganzoo.memory import start_peak_sampler

    start_peak_sampler()  # CPU peak memory of what this process runs (train, eval) counts from here


def _add_commands() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        command = getattr(module, "command", None)
        if isinstance(command, click.Command):
            cli.add_command(command)


_add_commands()


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="ganzoo", standalone_mode=True)
    except GanzooError as exc:  # raised outside a command's invoke (e.g. in a callback)
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
