"""ganzoo plugin: the built-in metrics (torch-fidelity IS/FID/KID/PRC, shapes evaluator metrics,
speed and memory).

See :mod:`ganzoo.metrics` for the contract and how a third-party plugin adds a metric.
"""

from ganzoo import hookimpl


@hookimpl
def register_metrics(register):
    from ganzoo_metrics import ablation_metrics, caption_metrics, fidelity_metrics, perf_metrics
    from ganzoo_metrics.presentation import CHEAP, PRESENTATION, ROLES

    for cls in caption_metrics.METRICS + fidelity_metrics.METRICS + perf_metrics.METRICS + ablation_metrics.METRICS:
        if cls.name in PRESENTATION:  # how the report shows each value (title, arrow, legend, headline)
            cls.presentation = PRESENTATION[cls.name]
        if cls.name in ROLES:  # a part in the report: cost columns, per-attribute accuracy
            cls.role, cls.attributes = ROLES[cls.name]
        cls.cheap = cls.name in CHEAP
        register(cls.name, cls, cls.description)


@hookimpl
def register_commands(cli):
    from ganzoo_metrics.commands import evaluator_group

    cli.add_command(evaluator_group)  # `ganzoo evaluator train`
