"""The plugin registry: pluggy host, entry-point loading, and the name tables.

Built-in plugins live in ``plugins/`` and are declared through the same ``ganzoo``
entry-point group as third-party ones. ``GANZOO_PLUGINS`` narrows which *external*
plugins load (a comma-separated list of entry-point names; empty means none);
the plugins shipped with ganzoo itself always load.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable

import pluggy

from ganzoo import hookspecs
from ganzoo.errors import GanzooError, UnknownNameError

ENTRY_POINT_GROUP = "ganzoo"
ENV_PLUGINS = "GANZOO_PLUGINS"
BUILTIN_DISTRIBUTION = "ganzoo"

#: kind -> the hook that fills it
KINDS = {
    "model": "register_models",
    "dataset": "register_datasets",
    "text encoder": "register_text_encoders",
    "metric": "register_metrics",
}


class PluginLoadWarning(UserWarning):
    """A plugin failed to import or to register; the others still work."""


class DuplicateNameError(GanzooError):
    pass


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    obj: Any
    description: str
    plugin: str


@dataclass
class Registry:
    """All registered things, by kind and name, with the plugin that provided each."""

    pm: pluggy.PluginManager
    entries: dict[str, dict[str, Entry]] = field(default_factory=lambda: {k: {} for k in KINDS})
    failed: dict[str, str] = field(default_factory=dict)

    def get(self, kind: str, name: str) -> Entry:
        table = self.entries[kind]
        if name not in table:
            raise UnknownNameError(kind, name, table)
        return table[name]

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def model(self, name: str):
        return self.get("model", name).obj

    def dataset(self, name: str, **options):
        factory = self.get("dataset", name).obj
        _check_options(f"dataset {name}", factory, options)
        return factory(**options)

    def text_encoder(self, name: str, **options):
        return self.get("text encoder", name).obj(**options)

    def metric(self, name: str):
        return self.get("metric", name).obj()


def _check_options(what: str, factory: Callable, options: dict) -> None:
    """Unknown keyword options name the nearest valid one instead of raising a TypeError."""
    import inspect

    from ganzoo.errors import UnknownKeyError

    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    for key in options:
        if key not in params:
            raise UnknownKeyError(what, key, [p for p in params if not p.startswith("_")])


def _external_allowed() -> set[str] | None:
    raw = os.environ.get(ENV_PLUGINS)
    if raw is None:
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


def _is_builtin(ep) -> bool:
    dist = getattr(ep, "dist", None)
    return dist is not None and dist.name.lower() == BUILTIN_DISTRIBUTION


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    return pm


def load_entry_point_plugins(pm: pluggy.PluginManager, failed: dict[str, str]) -> None:
    """Import every plugin of the entry-point group; a failing import is one warning, not a crash."""
    allowed = _external_allowed()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if pm.has_plugin(ep.name):
            continue
        if allowed is not None and not _is_builtin(ep) and ep.name not in allowed:
            continue
        try:
            module = ep.load()
        except Exception as exc:  # a broken plugin must not break the others
            failed[ep.name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"ganzoo plugin {ep.name!r} failed to load and was skipped: {failed[ep.name]}",
                          PluginLoadWarning, stacklevel=2)
            continue
        pm.register(module, name=ep.name)


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def collect(pm: pluggy.PluginManager, failed: dict[str, str] | None = None) -> Registry:
    """Call each plugin's register hooks, remembering which plugin provided each name.

    A plugin whose hook raises contributes nothing of that kind (no half-registered
    tables) and is reported once; two plugins claiming one name is an error naming both.
    """
    reg = Registry(pm=pm, failed=dict(failed or {}))
    for kind, hook_name in KINDS.items():
        hook = getattr(pm.hook, hook_name)
        table = reg.entries[kind]
        for impl in hook.get_hookimpls():  # registration order
            plugin_name = impl.plugin_name
            staged: dict[str, Entry] = {}

            def register(name: str, obj: Any, description: str = "", *, _kind=kind, _plugin=plugin_name,
                         _staged=staged):
                if name in table or name in _staged:
                    first = table[name].plugin if name in table else _plugin
                    raise DuplicateNameError(
                        f"{_kind} name {name!r} is registered by two plugins: "
                        f"{first!r} and {_plugin!r}; uninstall or rename one")
                _staged[name] = Entry(_kind, name, obj, _first_line(description or ""), _plugin)

            try:
                impl.function(register=register)
            except DuplicateNameError:
                raise
            except Exception as exc:
                if plugin_name not in reg.failed:
                    reg.failed[plugin_name] = f"{type(exc).__name__} in {hook_name}: {exc}"
                    warnings.warn(f"ganzoo plugin {plugin_name!r} failed and was skipped: "
                                  f"{reg.failed[plugin_name]}", PluginLoadWarning, stacklevel=2)
                continue
            table.update(staged)
    return reg


_REGISTRY: Registry | None = None
_EXTRA_PLUGINS: list[tuple[str, Any]] = []


def get_registry(refresh: bool = False) -> Registry:
    """The process-wide registry, built on first use."""
    global _REGISTRY
    if _REGISTRY is None or refresh:
        pm = new_plugin_manager()
        failed: dict[str, str] = {}
        load_entry_point_plugins(pm, failed)
        for name, plugin in _EXTRA_PLUGINS:
            pm.register(plugin, name=name)
        _REGISTRY = collect(pm, failed)
    return _REGISTRY


def register_plugin(plugin: Any, name: str) -> Registry:
    """Register an in-process plugin object (tests, notebooks) and rebuild the registry.

    If the rebuild fails (e.g. a duplicate name) the plugin is removed again, so one bad
    plugin cannot poison later registries.
    """
    if any(n == name for n, _ in _EXTRA_PLUGINS):
        raise GanzooError(f"a plugin named {name!r} is already registered; unregister_plugin({name!r}) first")
    _EXTRA_PLUGINS.append((name, plugin))
    try:
        return get_registry(refresh=True)
    except Exception:
        _EXTRA_PLUGINS[:] = [(n, p) for n, p in _EXTRA_PLUGINS if n != name]
        get_registry(refresh=True)
        raise


def unregister_plugin(name: str) -> Registry:
    _EXTRA_PLUGINS[:] = [(n, p) for n, p in _EXTRA_PLUGINS if n != name]
    return get_registry(refresh=True)


Factory = Callable[..., Any]
