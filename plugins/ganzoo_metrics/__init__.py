"""ganzoo plugin: the built-in metrics (torch-fidelity IS/FID/KID/PRC, shapes evaluator metrics,
speed and memory).

See :mod:`ganzoo.metrics` for the contract and how a third-party plugin adds a metric.
"""

from ganzoo import hookimpl


@hookimpl
def register_metrics(register):
    from ganzoo_metrics import ablation_metrics, caption_metrics, fidelity_metrics, perf_metrics

    for cls in fidelity_metrics.METRICS + caption_metrics.METRICS + perf_metrics.METRICS + ablation_metrics.METRICS:
        register(cls.name, cls, cls.description)
