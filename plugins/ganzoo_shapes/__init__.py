"""ganzoo plugin: the built-in ``shapes`` dataset (procedural captioned shapes, no download).

Public helpers for evaluators: :func:`render` (attributes -> uint8 images),
:func:`caption` (attributes -> deduplicated captions), :func:`parse` (caption ->
attribute codes). See :mod:`ganzoo_shapes.dataset` for the split.
"""

from ganzoo import hookimpl
from ganzoo_shapes.attributes import ATTRIBUTE_VALUES, ATTRIBUTES
from ganzoo_shapes.captions import CAPTIONS_PER_IMAGE, caption, caption_text, parse, parse_names
from ganzoo_shapes.dataset import ShapesDataset, ShapesSplit, heldout_pairs, make_shapes
from ganzoo_shapes.render import render

__all__ = ["ATTRIBUTES", "ATTRIBUTE_VALUES", "CAPTIONS_PER_IMAGE", "ShapesDataset", "ShapesSplit",
           "caption", "caption_text", "heldout_pairs", "make_shapes", "parse", "parse_names", "render"]


@hookimpl
def register_datasets(register):
    register("shapes", make_shapes,
             "Procedural coloured shapes with 5 captions each and held-out (shape, colour) pairs; no download")
