"""The hooks a ganzoo plugin can implement (callback style, as in `llm`).

A plugin is a module exposed through the `ganzoo` entry-point group. It implements any
of these hooks with `@ganzoo.hookimpl`; each hook receives a `register` callback and
calls it once per thing it provides::

    from ganzoo import hookimpl

    @hookimpl
    def register_models(register):
        register("my-gan", MyGan, "A one-line description")

Names are global per kind: two plugins registering the same model name is an error.

One hook is different: :func:`register_commands` receives the ``ganzoo`` click group itself
(as in ``llm``), so a plugin can add its own subcommands (``ganzoo evaluator train`` comes
from the metrics plugin, ``ganzoo data check`` from the realdata plugin).
"""

import pluggy

hookspec = pluggy.HookspecMarker("ganzoo")
hookimpl = pluggy.HookimplMarker("ganzoo")


@hookspec
def register_models(register):
    """Register model classes: ``register(name, cls, description)``.

    ``cls`` subclasses :class:`ganzoo.model.GanzooModel`.
    """


@hookspec
def register_datasets(register):
    """Register datasets: ``register(name, factory, description)``.

    ``factory(**options)`` returns a :class:`ganzoo.data.CaptionedDataset`.
    """


@hookspec
def register_text_encoders(register):
    """Register text encoders: ``register(name, factory, description)``.

    ``factory(**options)`` returns a :class:`ganzoo.text.TextEncoder`.
    """


@hookspec
def register_metrics(register):
    """Register metrics: ``register(name, factory, description)``.

    ``factory()`` returns a :class:`ganzoo.metrics.Metric`.
    """


@hookspec
def register_commands(cli):
    """Add subcommands to the ``ganzoo`` command line: ``cli.add_command(command)``.

    ``cli`` is the top-level :class:`click.Group`. Called once per registry, when a command
    is first looked up; a name that a core command or another plugin already uses is an error.
    Import heavy libraries inside the command's function, not here.
    """
