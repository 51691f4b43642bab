"""Word-level conditioning in the model contract: the vocabulary, the Conditioning object, the
same object in training batches, metrics and grids, sentence-level models unchanged, and a
third-party word-level model written from docs/plugins.md running in `ganzoo bench`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganzoo.conditioning import PAD_ID, UNK_ID, Conditioning, Vocabulary, condition, wants_words
from ganzoo.data import BatchPlan, TrainView
from ganzoo.metrics import EvalContext, SampleStream
from ganzoo.registry import get_registry

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "example-plugin"
CAPS = ["a red circle on the left", "a blue square", "A Red, red circle!", "a top-left cross"]


def test_vocabulary_is_built_from_captions_with_padding_and_unknown_ids():
    vocab = Vocabulary.build(CAPS)
    assert vocab.words[:2] == ["<pad>", "<unk>"]
    assert vocab.words[2:5] == ["a", "red", "circle"]  # by count, then alphabetical
    assert Vocabulary.build(list(reversed(CAPS))).words == vocab.words
    ids, mask = vocab.encode(["a red circle", "a zebra", "!!!"])
    assert ids.shape == mask.shape == (3, 3)
    assert mask.tolist() == [[True, True, True], [True, True, False], [True, False, False]]
    assert ids[1, 1] == UNK_ID and ids[2, 0] == UNK_ID and ids[1, 2] == PAD_ID
    assert vocab.decode(ids[:1]) == [["a", "red", "circle"]]
    assert Vocabulary.from_json(vocab.to_json()).words == vocab.words


def test_conditioning_rows_devices_and_concatenation():
    vocab = Vocabulary.build(CAPS)
    ids, mask = vocab.encode(CAPS)
    c = Conditioning(torch.randn(4, 3), ids, mask, list(CAPS))
    assert len(c) == 4 and c.shape[0] == 4
    sub = c[[2, 0]]
    assert sub.captions == [CAPS[2], CAPS[0]] and torch.equal(sub.tokens, ids[[2, 0]])
    assert c[1].captions == [CAPS[1]] and c[1:3].captions == CAPS[1:3]
    rep = c[:2].repeat_rows(3)
    assert rep.captions == [CAPS[0]] * 3 + [CAPS[1]] * 3
    both = Conditioning.cat([c[1], c[0]])
    assert both.tokens.shape[1] == ids.shape[1] and both.mask[0].sum() == 3 and not both.mask[0, 3:].any()
    assert c.to("cpu").sentence.device.type == "cpu"
    with pytest.raises(Exception, match="inconsistent"):
        Conditioning(torch.randn(3, 3), ids, mask, list(CAPS))


class Recorder:
    """A stand-in model that records what it is conditioned on."""

    device = torch.device("cpu")
    image_size = 8

    def __init__(self, level):
        self.conditioning, self.seen = level, []
        self.vocab = Vocabulary.build(CAPS)

    def sample_z(self, n, generator=None):
        return torch.randn(n, 2, generator=generator)

    def generate(self, text, z=None):
        self.seen.append(text)
        return torch.zeros(len(z), 3, 8, 8)

    def generate_stages(self, text, z=None):
        return [self.generate(text, z)]

    def eval(self):
        return self


class Split:
    name = "test"
    captions = CAPS
    caption_ids = torch.tensor([[0, 2], [1, 1], [3, 3]])

    def __len__(self):
        return 3

    def load_images(self, indices, size, train, seed=0):
        return torch.zeros(len(indices), 3, size, size)

    def text_for_batch(self, embeddings, indices, slots, seed=0):
        return embeddings[self.caption_ids[indices, slots]]


def test_sentence_models_get_the_same_tensor_as_before():
    model = Recorder("sentence")
    emb = torch.randn(4, 5)
    assert condition(model, emb, CAPS) is emb
    view = TrainView(Split(), emb, 8)
    batch = view.__getitems__(BatchPlan((0, 2), (1, 0), 0, 0, 0))
    assert torch.is_tensor(batch["text"]) and torch.equal(batch["text"], emb[[2, 3]])
    ctx = EvalContext(model=model, split=Split(), embeddings=emb, dataset_name="x", num_samples=4, batch_size=2)
    list(SampleStream(ctx))
    assert all(torch.is_tensor(t) and t.shape == (2, 5) for t in model.seen)


def test_word_models_get_one_conditioning_everywhere():
    from ganzoo.grid import generate_rows

    model = Recorder("words")
    emb = torch.randn(4, 5)
    view = TrainView(Split(), emb, 8, vocab=model.vocab)
    batch = view.__getitems__(BatchPlan((0, 2), (1, 0), 0, 0, 0))
    text = batch["text"]
    assert isinstance(text, Conditioning)
    assert text.captions == [CAPS[2], CAPS[3]] and torch.equal(text.sentence, emb[[2, 3]])
    assert torch.equal(text.tokens, model.vocab.encode(text.captions)[0])
    ctx = EvalContext(model=model, split=Split(), embeddings=emb, dataset_name="x", num_samples=4, batch_size=2)
    stream = SampleStream(ctx)
    list(stream)
    for t, ids in zip(model.seen, stream.caption_ids.split(2)):
        assert isinstance(t, Conditioning) and t.captions == [CAPS[i] for i in ids.tolist()]
        assert torch.equal(t.sentence, emb[ids])
    model.seen.clear()
    generate_rows(model, emb[:2], 3, captions=CAPS[:2])
    assert [t.captions for t in model.seen] == [[CAPS[0]] * 3, [CAPS[1]] * 3]
    with pytest.raises(Exception, match="captions"):
        generate_rows(model, emb[:2], 3)


def test_builtin_models_declare_their_level():
    reg = get_registry()
    assert wants_words(reg.model("draw"))
    for name in ("stackgan", "gan-int-cls", "ebgan", "vae"):
        assert not wants_words(reg.model(name)), name


# ---- a third-party word-level model, written from docs/plugins.md, in `ganzoo bench` ----------

@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("example-words")
    shutil.copytree(EXAMPLE, root / "src")
    target = root / "site"
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
           "--disable-pip-version-check", "-q", "--target", str(target), str(root / "src")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.skip(f"pip could not build the example plugin offline: {done.stderr.strip()[-500:]}")
    return target


def test_third_party_word_level_model_runs_in_bench(installed, tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(installed), env.get("PYTHONPATH")) if p)
    env.pop("GANZOO_PLUGINS", None)
    out = tmp_path / "bench"
    cmd = [sys.executable, "-m", "ganzoo", "bench", "--models", "mini-words:image_size=16,batch_size=8",
           "--preset", "cpu", "--steps", "4", "--out", str(out), "--dataset-opt", "n_train=64", "--dataset-opt",
           "n_test=32", "--device", "cpu", "--no-progress", "--text-norm", "zscore", "--eval-samples", "8",
           "--allow-failures"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    from ganzoo.store import ResultStore

    rows = ResultStore(out / "results.sqlite").runs()
    assert list(rows["model"]) == ["mini-words"], done.stdout[-2000:]
    row = rows.iloc[0]
    assert row["status"] in ("ok", "collapsed"), row["reason"]
    assert row["metric.caption-accuracy.shape"] == row["metric.caption-accuracy.shape"]  # measured
    assert (out / "runs").glob("mini-words*/vocab.json")
