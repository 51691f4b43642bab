"""The ``register_commands(cli)`` hook: plugins add their own subcommands to ``ganzoo``.

Commands are (re)collected whenever the process-wide registry changes (a test registering
an in-process plugin gets its commands too). A plugin whose hook raises is reported once
and adds nothing; a plugin taking a name already in use is an error naming both.
"""

from __future__ import annotations

import warnings

import click

from ganzoo.registry import DuplicateNameError, PluginLoadWarning, Registry, get_registry


class PluginCommands:
    """The subcommands a click group got from plugins, tied to the registry they came from."""

    def __init__(self, group: click.Group):
        self.group = group
        self.registry: Registry | None = None
        self.added: dict[str, str] = {}  # command name -> plugin

    def load(self) -> None:
        registry = get_registry()
        if registry is self.registry:
            return
        for name in self.added:
            self.group.commands.pop(name, None)
        self.added, self.registry = {}, registry
        for impl in registry.pm.hook.register_commands.get_hookimpls():
            self._call(impl)

    def _call(self, impl) -> None:
        before = dict(self.group.commands)
        try:
            impl.function(cli=self.group)
        except Exception as exc:  # a broken plugin must not break the command line
            self.group.commands.clear()
            self.group.commands.update(before)
            warnings.warn(f"ganzoo plugin {impl.plugin_name!r} failed and was skipped: "
                          f"{type(exc).__name__} in register_commands: {exc}", PluginLoadWarning, stacklevel=2)
            return
        for name, command in list(self.group.commands.items()):
            if before.get(name) is command:
                continue
            if name in before:  # replaced, not extended (two plugins may share a group such as `data`)
                owner = self.added.get(name, "ganzoo")
                self.group.commands[name] = before[name]
                raise DuplicateNameError(f"command name {name!r} is registered twice: by {owner!r} and "
                                         f"{impl.plugin_name!r}; uninstall or rename one")
            self.added.setdefault(name, impl.plugin_name)

