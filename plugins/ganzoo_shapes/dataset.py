"""The ``shapes`` dataset: procedural captioned images of one coloured shape, with a compositional split.

Every image shows one shape on a plain background and is described by five attributes:
shape (circle, square, triangle, diamond, cross), colour (red, green, blue, yellow,
purple, orange, cyan, pink), size (small, large), position (a 3x3 grid: top left ...
bottom right) and background (white, grey, black) -- 2,160 combinations. Each image has
a small deterministic jitter of its centre (+-2.5% of the side per axis, well inside
its grid cell) and radius (+-6%), so one caption fits many images. Images are never
flipped: captions say left and right. Nothing is downloaded; everything follows from
``seed``.

Split (compositional generalisation). From ``seed``, 5 of the 40 (shape, colour) pairs
are held out: one per shape, each with a different colour (12.5% of the pairs; every
shape and every colour still appears in train, only in other pairings). ``train``
draws its ``n_train`` images uniformly from the 35 seen pairs, with the other
attributes uniform. ``test`` holds ``n_test`` new images: half from the held-out pairs
(never seen in training, in any size, position or background), half from seen pairs;
``split.unseen`` marks which. The held-out pairs are ``dataset.heldout_pairs``. ``val``
(for tuning: neither train nor test) holds ``n_val`` further images drawn the same way
as ``test`` from their own random stream, so adding it changed neither train nor test.

Options: ``seed`` (default 0), ``n_train`` (20,000), ``n_test`` (2,000), ``n_val`` (1,000). ``data_dir``
is accepted for a uniform dataset interface but must be left unset: shapes needs none.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import torch

from ganzoo.data import CaptionedDataset, CaptionedSplit
from ganzoo.errors import UsageError
from ganzoo_shapes.attributes import ATTRIBUTE_VALUES, ATTRIBUTES, POSITION_JITTER, SIZE_JITTER
from ganzoo_shapes.captions import caption
from ganzoo_shapes.render import check_size, render, to_float

N_HELDOUT_PAIRS = 5
TEST_UNSEEN_FRACTION = 0.5
#: a split's rendered images are cached per resolution up to this size; above it
#: (e.g. 20,000 images at 256 px = 3.9 GB) each batch is rendered on demand instead.
CACHE_LIMIT_BYTES = 1 << 30


def _generator(seed: int, purpose: str) -> torch.Generator:
    digest = hashlib.sha256(f"ganzoo-shapes:{seed}:{purpose}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))


def heldout_pairs(seed: int) -> list[tuple[int, int]]:
    """The (shape, colour) code pairs reserved for the test split: one per shape, distinct colours."""
    colours = torch.randperm(len(ATTRIBUTE_VALUES["colour"]), generator=_generator(seed, "heldout"))
    return [(s, int(colours[s])) for s in range(N_HELDOUT_PAIRS)]


def _sample(n: int, pairs: list[tuple[int, int]], gen: torch.Generator) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """n images: (shape, colour) uniform over ``pairs``, other attributes uniform; plus jitter."""
    pair = torch.tensor(pairs, dtype=torch.long)[torch.randint(len(pairs), (n,), generator=gen)]
    attrs = {"shape": pair[:, 0], "colour": pair[:, 1]}
    for a in ATTRIBUTES[2:]:
        attrs[a] = torch.randint(len(ATTRIBUTE_VALUES[a]), (n,), generator=gen)
    u = torch.rand(n, 3, generator=gen) * 2 - 1
    jitter = u * torch.tensor([POSITION_JITTER, POSITION_JITTER, SIZE_JITTER])
    return {a: attrs[a] for a in ATTRIBUTES}, jitter


class ShapesSplit(CaptionedSplit):
    """One split; images are rendered on first use and cached per resolution as uint8."""

    def __init__(self, name: str, attributes: dict[str, torch.Tensor], jitter: torch.Tensor, unseen: torch.Tensor):
        self.name = name
        self.attributes = attributes
        self.attribute_values = {a: list(v) for a, v in ATTRIBUTE_VALUES.items()}
        self.jitter = jitter
        self.unseen = unseen
        self.captions, self.caption_ids = caption(attributes)
        self._cache: dict[int, torch.Tensor] = {}

    def images(self, image_size: int, indices: torch.Tensor | None = None) -> torch.Tensor:
        """uint8 (B, 3, S, S) of ``indices`` (all images if None), from the cache when it fits."""
        size = check_size(image_size)
        if size not in self._cache and len(self) * 3 * size * size <= CACHE_LIMIT_BYTES:
            self._cache[size] = render(self.attributes, size, self.jitter)
        if size in self._cache:
            full = self._cache[size]
            return full if indices is None else full[indices]
        if indices is None:
            indices = torch.arange(len(self))
        return render({a: v[indices] for a, v in self.attributes.items()}, size, self.jitter[indices])

    def load_images(self, indices: Sequence[int], image_size: int, train: bool, seed: int = 0) -> torch.Tensor:
        """Float (B, 3, S, S) in [-1, 1]. No augmentation: the per-image jitter is part of the
        data, and a flip would contradict the caption, so ``train`` and ``seed`` change nothing."""
        idx = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        return to_float(self.images(image_size, idx))

    def fingerprint(self) -> str:
        h = hashlib.sha256(super().fingerprint().encode())
        for a in ATTRIBUTES:
            h.update(self.attributes[a].numpy().tobytes())
        h.update(self.jitter.numpy().tobytes())
        return h.hexdigest()[:16]


class ShapesDataset(CaptionedDataset):
    """The splits, plus what an evaluator needs to draw fresh images of any attributes (through
    the registry: ``get_registry().dataset("shapes").render(...)``, no import of this plugin)."""

    name = "shapes"
    native_size = 64
    default_text_encoder = "minilm"
    attribute_values = ATTRIBUTE_VALUES  # attribute -> value names, in code order
    jitter_scale = (POSITION_JITTER, POSITION_JITTER, SIZE_JITTER)  # +- range of (x, y, radius) jitter
    render = staticmethod(render)  # (attributes, size, jitter) -> uint8 images

    def __init__(self, splits: dict[str, ShapesSplit], seed: int, heldout: list[tuple[int, int]]):
        super().__init__(splits)
        self.seed = seed
        self.heldout_pairs = heldout


def _count(name: str, value, minimum: int) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"shapes option {name} must be an integer >= {minimum}; got {value!r}")
    return value


def _heldout_mix(name: str, n: int, seen: list, heldout: list, gen: torch.Generator) -> ShapesSplit:
    """A split of n new images, half from the held-out (shape, colour) pairs, half from seen ones."""
    n_unseen = round(n * TEST_UNSEEN_FRACTION)
    a_unseen, j_unseen = _sample(n_unseen, heldout, gen)
    a_seen, j_seen = _sample(n - n_unseen, seen, gen)
    order = torch.randperm(n, generator=gen)
    attrs = {a: torch.cat([a_unseen[a], a_seen[a]])[order] for a in ATTRIBUTES}
    unseen = torch.cat([torch.ones(n_unseen, dtype=torch.bool), torch.zeros(n - n_unseen, dtype=torch.bool)])
    return ShapesSplit(name, attrs, torch.cat([j_unseen, j_seen])[order], unseen[order])


def make_shapes(seed: int = 0, n_train: int = 20_000, n_test: int = 2_000, n_val: int = 1_000,
                data_dir=None) -> ShapesDataset:
    """Build the dataset (captions and attributes now; images lazily on first load)."""
    if data_dir is not None:
        raise UsageError("the shapes dataset is generated, not read from disk: leave data_dir unset")
    seed = _count("seed", seed, 0)
    n_train = _count("n_train", n_train, 1)
    n_test = _count("n_test", n_test, 2)
    n_val = _count("n_val", n_val, 2)
    heldout = heldout_pairs(seed)
    seen = [(s, c) for s in range(len(ATTRIBUTE_VALUES["shape"]))
            for c in range(len(ATTRIBUTE_VALUES["colour"])) if (s, c) not in heldout]

    train_attrs, train_jitter = _sample(n_train, seen, _generator(seed, "train"))
    train = ShapesSplit("train", train_attrs, train_jitter, torch.zeros(n_train, dtype=torch.bool))

    test = _heldout_mix("test", n_test, seen, heldout, _generator(seed, "test"))
    val = _heldout_mix("val", n_val, seen, heldout, _generator(seed, "val"))
    return ShapesDataset({"train": train, "test": test, "val": val}, seed, heldout)
