"""The built-in ``shapes`` dataset: determinism, split, captions, rendering, registry."""

from __future__ import annotations

import re

import pytest
import torch

import ganzoo_shapes.dataset as shapes_dataset
from ganzoo.errors import UsageError
from ganzoo.registry import get_registry
from ganzoo_shapes import ATTRIBUTE_VALUES, ATTRIBUTES, make_shapes, parse, render
from ganzoo_shapes.attributes import BACKGROUND_RGB, COLOUR_RGB, N_COMBINATIONS
from ganzoo_shapes.captions import CAPTIONS_PER_IMAGE, SYNONYMS, _caption_index, caption_text
from ganzoo_shapes.render import geometry


@pytest.fixture(scope="module")
def small():
    return make_shapes(seed=0, n_train=300, n_test=200)


def _attrs(**fixed):
    """Every (shape, colour) pair once, other attributes fixed."""
    shape = torch.arange(5).repeat_interleave(8)
    colour = torch.arange(8).repeat(5)
    n = len(shape)
    return {"shape": shape, "colour": colour,
            **{a: torch.full((n,), fixed[a], dtype=torch.long) for a in ("size", "position", "background")}}


def test_registry_provides_shapes():
    ds = get_registry(refresh=True).dataset("shapes", n_train=10, n_test=4)
    assert ds.name == "shapes" and ds.native_size == 64
    assert set(ds.splits) == {"train", "test", "val"}
    assert len(ds.split("train")) == 10 and len(ds.split("test")) == 4


def test_same_seed_same_data_other_seed_differs():
    a, b = make_shapes(seed=3, n_train=40, n_test=20), make_shapes(seed=3, n_train=40, n_test=20)
    c = make_shapes(seed=4, n_train=40, n_test=20)
    for name in ("train", "test"):
        sa, sb, sc = a.split(name), b.split(name), c.split(name)
        assert sa.captions == sb.captions
        assert torch.equal(sa.caption_ids, sb.caption_ids)
        assert torch.equal(sa.load_images(range(len(sa)), 32, train=False),
                           sb.load_images(range(len(sb)), 32, train=False))
        assert sa.fingerprint() == sb.fingerprint() != sc.fingerprint()
        assert not torch.equal(sa.load_images(range(len(sa)), 32, False), sc.load_images(range(len(sc)), 32, False))
        assert sa.captions != sc.captions


def test_heldout_pairs_only_in_test(small):
    held = set(small.heldout_pairs)
    assert len(held) == 5 and len({s for s, _ in held}) == 5 and len({c for _, c in held}) == 5
    train, test = small.split("train"), small.split("test")
    train_pairs = set(zip(train.attributes["shape"].tolist(), train.attributes["colour"].tolist()))
    test_pairs = list(zip(test.attributes["shape"].tolist(), test.attributes["colour"].tolist()))
    assert not train_pairs & held
    assert {s for s, _ in train_pairs} == set(range(5)) and {c for _, c in train_pairs} == set(range(8))
    is_held = torch.tensor([p in held for p in test_pairs])
    assert torch.equal(is_held, test.unseen)
    assert held == {p for p, h in zip(test_pairs, is_held) if h}  # every held-out pair is tested
    assert 0 < int(is_held.sum()) < len(test)  # seen combinations are tested too
    assert make_shapes(seed=1, n_train=1, n_test=2).heldout_pairs != small.heldout_pairs


def _mentions(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text) is not None


def test_captions_name_the_attributes(small):
    for split in small.splits.values():
        assert len(set(split.captions)) == len(split.captions)  # deduplicated table
        assert split.caption_ids.shape == (len(split), CAPTIONS_PER_IMAGE)
        assert split.caption_ids.dtype == torch.long
        for i in range(len(split)):
            ids = split.caption_ids[i].tolist()
            assert len(set(ids)) == CAPTIONS_PER_IMAGE  # one caption per template
            for cid in ids:
                text = split.captions[cid]
                for a in ATTRIBUTES:
                    true_value = ATTRIBUTE_VALUES[a][int(split.attributes[a][i])]
                    for value, words in SYNONYMS[a].items():
                        said = any(_mentions(text, w) for w in words)
                        assert said == (value == true_value), (text, a, value)
                assert parse(text) == {a: int(split.attributes[a][i]) for a in ATTRIBUTES}


def test_caption_table_is_bounded_and_invertible():
    index = _caption_index()
    assert len(index) == N_COMBINATIONS * CAPTIONS_PER_IMAGE  # every caption names one combination
    assert parse("  A small RED circle  at the upper left on a white background ") is not None
    assert parse("a photo of a dog") is None
    assert caption_text(0, 0) == caption_text(0, 0)
    text = caption_text(N_COMBINATIONS - 1, 3)
    assert parse(text) == {a: len(v) - 1 for a, v in ATTRIBUTE_VALUES.items()}


@pytest.mark.parametrize("size", [16, 256])
def test_resolutions_shape_and_range(small, size):
    x = small.split("test").load_images([0, 5, 7], size, train=True, seed=1)
    assert x.shape == (3, 3, size, size) and x.dtype == torch.float32
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    assert all(float(im.std()) > 0.05 for im in x)  # a shape on a background, not a flat image


@pytest.mark.parametrize("size", [15, 300, 64.0, "64", True])
def test_bad_resolution_is_usage_error(small, size):
    with pytest.raises(UsageError, match="16 to 256"):
        small.split("train").load_images([0], size, train=False)


def test_bad_options_are_usage_errors():
    with pytest.raises(UsageError, match="data_dir"):
        make_shapes(data_dir="/tmp/x")
    with pytest.raises(UsageError, match="n_train"):
        make_shapes(n_train=0)
    with pytest.raises(UsageError, match="missing"):
        render({"shape": torch.zeros(1, dtype=torch.long)}, 32)
    assert len(make_shapes(n_train="12", n_test=2).split("train")) == 12


@pytest.mark.parametrize("background", [0, 1, 2])
def test_canonical_pixels_match_named_colours(background):
    attrs = _attrs(size=1, position=4, background=background)
    img = render(attrs, 64)
    centre = img[:, :, 32, 32]
    assert torch.equal(centre, torch.tensor(COLOUR_RGB)[attrs["colour"]].to(torch.uint8))
    for y, x in ((0, 0), (0, 63), (63, 0), (63, 63)):
        assert torch.equal(img[:, :, y, x], torch.tensor(BACKGROUND_RGB[background]).to(torch.uint8).expand(40, 3))


def test_dataset_pixels_match_attributes(small):
    split = small.split("train")
    img = split.images(64)
    cx, cy, _ = geometry(split.attributes, split.jitter)
    colours = torch.tensor(COLOUR_RGB)[split.attributes["colour"]]
    backgrounds = torch.tensor(BACKGROUND_RGB)[split.attributes["background"]]
    for i in range(len(split)):
        px, py = int(cx[i] * 64), int(cy[i] * 64)
        assert torch.equal(img[i, :, py, px].long(), colours[i]), i
        far_x, far_y = (0 if cx[i] > 0.5 else 63), (0 if cy[i] > 0.5 else 63)
        assert torch.equal(img[i, :, far_y, far_x].long(), backgrounds[i]), i


def test_small_shapes_differ_at_32px():
    img = render(_attrs(size=0, position=4, background=2), 32).float()
    coverage = img.view(5, 8, 3, 32, 32)[:, 0, 0] / COLOUR_RGB[0][0]  # red on black, one per shape
    differing_pixels = torch.cdist(coverage.view(5, -1), coverage.view(5, -1), p=1)
    assert differing_pixels[~torch.eye(5, dtype=torch.bool)].min() >= 6


def test_jitter_is_resolution_independent(small):
    split = small.split("test")
    idx = torch.arange(20)
    low = split.images(32, idx).float()
    high = torch.nn.functional.avg_pool2d(split.images(256, idx).float(), 8)
    assert (low - high).abs().mean() < 3.0


def test_no_augmentation_and_uncached_path_agrees(small, monkeypatch):
    split = small.split("train")
    a = split.load_images([3, 1, 4], 48, train=True, seed=7)
    assert torch.equal(a, split.load_images([3, 1, 4], 48, train=False))
    assert split.images(48) is split.images(48)  # cached once per resolution
    fresh = make_shapes(seed=0, n_train=300, n_test=200).split("train")
    monkeypatch.setattr(shapes_dataset, "CACHE_LIMIT_BYTES", 0)
    assert torch.equal(fresh.load_images([3, 1, 4], 48, train=True), a)
    assert 48 not in fresh._cache


def test_val_split_is_its_own_and_leaves_train_and_test_unchanged():
    from ganzoo_shapes import make_shapes

    small, big = make_shapes(n_train=40, n_test=20, n_val=2), make_shapes(n_train=40, n_test=20, n_val=30)
    for name in ("train", "test"):
        assert small.split(name).captions == big.split(name).captions
        assert torch.equal(small.split(name).jitter, big.split(name).jitter)
    val, test = big.split("val"), big.split("test")
    assert len(val) == 30 and 0 < int(val.unseen.sum()) < 30  # held-out pairs too, like test
    assert not torch.equal(val.jitter[:20], test.jitter)
