"""How the report shows each value of the built-in metrics (see :class:`ganzoo.metrics.Presentation`).

Declared here in one place and attached to the metric classes by the plugin's register hook;
a third-party metric declares its own ``presentation`` on its class instead.
"""

from ganzoo.metrics import ROLE_ATTRIBUTE_ACCURACY, ROLE_MEMORY_COST, ROLE_SAMPLE_COST, ROLE_TRAIN_COST
from ganzoo.metrics import Presentation as P

PRESENTATION: dict[str, dict[str, P]] = {
    "caption-accuracy": {
        "caption-accuracy.exact": P("exact match", True, "share of samples whose every captioned attribute the "
                                    "shapes evaluator recognises", headline=True),
        "caption-accuracy.mean_normalised": P("mean attribute acc. (norm.)", True, "mean over attributes of "
                                              "(accuracy - chance) / (1 - chance)"),
        "caption-accuracy.min_normalised": P("weakest attribute (norm.)", True, "the lowest per-attribute "
                                             "(accuracy - chance) / (1 - chance)"),
    },
    "r-precision": {
        "r-precision": P("R-precision", True, "share of samples for which the shapes evaluator ranks their own "
                         "caption first among candidates", headline=True),
    },
    "domain-fid": {
        "domain-fid": P("domain FID", False, "FID on the features of the shapes evaluator instead of Inception",
                        headline=True),
    },
    "fid": {"fid": P("FID", False, "Fréchet Inception distance to real test images (torch-fidelity)", headline=True)},
    "is": {"is": P("IS", True, "Inception score", headline=True)},
    "kid": {"kid": P("KID", False, "kernel Inception distance, same features as FID")},
    "domain-kid": {"domain-kid": P("domain KID", False, "KID on the shapes evaluator's features")},
    "domain-is": {"domain-is": P("domain IS", True, "IS over the shapes evaluator's classes")},
    "prc": {"prc.precision": P("precision", True, "share of samples inside the real images' manifold"),
            "prc.recall": P("recall", True, "share of real images inside the samples' manifold")},
    "diversity": {"diversity": P("diversity", True, "spread of samples over z for one caption; about 0 means "
                                 "mode collapse")},
    "smoothness": {"smoothness": P("smoothness", True, "how evenly images change along a text interpolation "
                                   "(1 = evenly)")},
}

#: measured at checkpoints during training with `ganzoo bench --eval-every` (a few hundred samples)
CHEAP = ("caption-accuracy", "r-precision", "domain-fid")

#: the part each metric plays in the report (see ganzoo.metrics.ROLES), and the order of its attributes
ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "train-throughput": (ROLE_TRAIN_COST, ()),
    "sample-throughput": (ROLE_SAMPLE_COST, ()),
    "peak-memory": (ROLE_MEMORY_COST, ()),
    # the shapes attributes, then exact match (every attribute at once) and its seen/unseen halves
    "caption-accuracy": (ROLE_ATTRIBUTE_ACCURACY, ("shape", "colour", "size", "position", "background",
                                                   "exact", "exact.seen", "exact.unseen")),
}
