"""alignDRAW (`draw`): DRAW attention against a direct computation, the bound, the word
alignment, and the model in every command (train, sample, eval, bench) with tiny settings."""

from __future__ import annotations

import json
import math

import pytest
import torch
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.conditioning import Conditioning, Vocabulary, condition
from ganzoo.registry import get_registry
from ganzoo.store import ResultStore

CAPTIONS = ["a small red circle in the top left corner on a white background",
            "a big blue square on the right",
            "a green wedge",
            "a tiny violet plus sign at the lower right on a jet-black background"]
TINY = {"image_size": 8, "batch_size": 4, "steps": 3, "z_dim": 4, "enc_dim": 12, "dec_dim": 12, "lang_dim": 6,
        "align_dim": 8, "read_n": 2, "write_n": 3}
SMALL = ["--dataset-opt", "n_train=64", "--dataset-opt", "n_test=32", "--device", "cpu", "--no-progress",
         "--text-norm", "zscore"]
TINY_CLI = "draw:" + ",".join(f"{k}={v}" for k, v in {**TINY, "image_size": 16, "batch_size": 8}.items())


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary.build(CAPTIONS)


def make(vocab, **overrides):
    cls = get_registry().model("draw")
    return cls(cls.make_config("cpu", {**TINY, **overrides}), text_dim=5, vocab=vocab)


def text_for(model, captions):
    return condition(model, torch.randn(len(captions), 5, generator=torch.Generator().manual_seed(1)), captions)


# ---- DRAW attention --------------------------------------------------------------------------

def direct_filterbank(g, delta, sigma2, n, size):
    """F[i][a] straight from the formula, one number at a time."""
    rows = []
    for i in range(n):
        mu = g + (i - n // 2 - 0.5) * delta
        row = [math.exp(-((a - mu) ** 2) / (2 * sigma2)) for a in range(size)]
        total = sum(row) + 1e-4
        rows.append([v / total for v in row])
    return torch.tensor(rows, dtype=torch.float64)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_read_and_write_filterbanks_match_a_direct_computation(n):
    from ganzoo_draw.attention import Window, read, write

    torch.manual_seed(0)
    height = width = 6
    window = Window(7, n, height, width).double()
    h = torch.randn(2, 7, dtype=torch.float64)
    x = torch.rand(2, 3, height, width, dtype=torch.float64)
    w = torch.randn(2, 3, n, n, dtype=torch.float64)
    fx, fy, gamma = window(h)
    got_read, got_write = read(x, fx, fy, gamma), write(w, fx, fy, gamma)
    raw = window.linear(h)
    for b in range(2):
        gxt, gyt, log_delta, log_sigma2, log_gamma = raw[b].tolist()
        gx, gy = (width + 1) / 2 * (gxt + 1), (height + 1) / 2 * (gyt + 1)
        delta = (max(width, height) - 1) / (n - 1) * math.exp(log_delta)
        sigma2, gam = math.exp(log_sigma2), math.exp(log_gamma)
        FX, FY = direct_filterbank(gx, delta, sigma2, n, width), direct_filterbank(gy, delta, sigma2, n, height)
        assert torch.allclose(fx[b], FX, atol=1e-10) and torch.allclose(fy[b], FY, atol=1e-10)
        for c in range(3):
            for i in range(n):
                for j in range(n):  # read[i, j] = gamma * sum_{y, x} FY[i, y] img[y, x] FX[j, x]
                    want = gam * sum(FY[i, yy] * x[b, c, yy, xx] * FX[j, xx]
                                     for yy in range(height) for xx in range(width))
                    assert abs(got_read[b, c, i, j] - want) < 1e-10
            for yy in range(height):
                for xx in range(width):  # write[y, x] = sum_{i, j} FY[i, y] w[i, j] FX[j, x] / gamma
                    want = sum(FY[i, yy] * w[b, c, i, j] * FX[j, xx] for i in range(n) for j in range(n)) / gam
                    assert abs(got_write[b, c, yy, xx] - want) < 1e-10


def test_grid_centre_follows_the_authors_indexing():
    """mu_i = g + (i - N//2 - 0.5) delta: for N = 3 the centres are g - 1.5d, g - 0.5d, g + 0.5d."""
    from ganzoo_draw.attention import filterbank

    f = filterbank(torch.tensor([10.0]), torch.tensor([4.0]), torch.tensor([1e-2]), 3, 21)
    assert f[0].argmax(1).tolist() == [4, 8, 12]  # 10 - 6, 10 - 2, 10 + 2


# ---- the bound -------------------------------------------------------------------------------

def test_bound_decreases_on_a_fixed_batch(vocab):
    torch.manual_seed(0)
    model = make(vocab, optimizer="adam", lr=0.01)
    images = torch.full((4, 3, 8, 8), -0.9)  # dark backgrounds with one bright block each
    for i in range(4):
        images[i, i % 3, 2 * i : 2 * i + 3, 1:5] = 0.9
    text = text_for(model, CAPTIONS)

    def bound():
        torch.manual_seed(123)
        with torch.no_grad():
            recon, kl = model.bound(images, text)
        return float(recon + kl)

    before = bound()
    losses = [float(model.train_step({"images": images, "text": text})["loss"]) for _ in range(40)]
    after = bound()
    assert all(math.isfinite(v) for v in losses)
    assert after < 0.9 * before, (before, after)
    assert sum(losses[-5:]) < sum(losses[:5])


@pytest.mark.parametrize("free", [0.0, 1e9])
def test_free_nats_take_the_kl_pressure_off_glimpses_below_the_floor(vocab, free):
    """The learned prior enters the objective only through the KL: under a floor no glimpse
    reaches, its weights get no gradient and one Adam step leaves them unchanged."""
    torch.manual_seed(0)
    model = make(vocab, optimizer="adam", lr=0.01, free_nats=free)
    images = torch.rand(4, 3, 8, 8) * 2 - 1
    text = text_for(model, CAPTIONS)
    prior = model.draw.prior.weight.detach().clone()
    decoder = [p.detach().clone() for p in model.draw.decoder.parameters()]
    torch.manual_seed(1)
    out = model.train_step({"images": images, "text": text})
    assert torch.equal(model.draw.prior.weight, prior) == (free > 0)
    assert not all(torch.equal(a, b) for a, b in zip(model.draw.decoder.parameters(), decoder))
    torch.manual_seed(0)
    model_again = make(vocab, optimizer="adam", lr=0.01, free_nats=free)
    torch.manual_seed(1)
    with torch.no_grad():  # the logged loss is the bound before the step, whatever the objective
        recon, kl = model_again.bound(images, text)
    assert math.isclose(float(out["loss"]), float(recon + kl), rel_tol=1e-5)
    assert math.isclose(float(out["kl"]), float(kl), rel_tol=1e-5)


def test_kl_is_zero_when_posterior_equals_prior():
    from ganzoo_draw.nets import gaussian_kl

    mu, lv = torch.randn(3, 5), torch.randn(3, 5)
    assert torch.allclose(gaussian_kl(mu, lv, mu, lv), torch.zeros(3), atol=1e-6)
    # against torch.distributions
    mp, lp = torch.randn(3, 5), torch.randn(3, 5)
    q = torch.distributions.Normal(mu, (0.5 * lv).exp())
    p = torch.distributions.Normal(mp, (0.5 * lp).exp())
    assert torch.allclose(gaussian_kl(mu, lv, mp, lp), torch.distributions.kl_divergence(q, p).sum(1), atol=1e-5)


# ---- alignment over words --------------------------------------------------------------------

def test_alignment_sums_to_one_and_ignores_padding(vocab):
    torch.manual_seed(0)
    model = make(vocab, init_std=0.5)  # large weights: any leak from padding would show
    images = torch.rand(4, 3, 8, 8)
    text = text_for(model, CAPTIONS)
    assert not text.mask.all()  # the captions differ in length: there is padding
    torch.manual_seed(5)
    recon, kl, alpha = model.draw(images, text.tokens, text.mask, return_alignments=True)
    assert alpha.shape == (4, TINY["steps"], text.tokens.shape[1])
    assert torch.allclose(alpha.sum(2), torch.ones(4, TINY["steps"]), atol=1e-6)
    assert (alpha.masked_select(~text.mask.unsqueeze(1).expand_as(alpha)) == 0).all()
    assert (alpha.masked_select(text.mask.unsqueeze(1).expand_as(alpha)) > 0).all()
    # Whatever sits in the padded positions, and however much padding there is, changes nothing.
    noisy = text.tokens.masked_fill(~text.mask, 3)
    longer_tokens = torch.cat([noisy, torch.full((4, 5), 7)], 1)
    longer_mask = torch.cat([text.mask, torch.zeros(4, 5, dtype=torch.bool)], 1)
    for tokens, mask in ((noisy, text.mask), (longer_tokens, longer_mask)):
        torch.manual_seed(5)
        r2, k2, a2 = model.draw(images, tokens, mask, return_alignments=True)
        assert torch.allclose(r2, recon, atol=1e-4) and torch.allclose(k2, kl, atol=1e-5)
        assert torch.allclose(a2[:, :, : alpha.shape[2]], alpha, atol=1e-6)
    # A caption alone gives the same samples as within a batch of longer captions.
    eps = torch.randn(4, model.z_dim)
    together = model.eval().generate(text, eps)
    alone = model.generate(text[2], eps[2:3])
    assert torch.allclose(together[2:3], alone, atol=1e-5)


def test_backward_language_lstm_reads_each_caption_right_to_left(vocab):
    from ganzoo_draw.nets import reverse_padded

    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])
    assert reverse_padded(x, torch.tensor([3, 2])).tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]
    model = make(vocab)
    text = text_for(model, CAPTIONS[:2])
    h = model.draw.language(text.tokens, text.mask)
    half = h.shape[2] // 2
    # the backward state at the first word has read the whole caption: it differs for
    # captions that share their first word ("a") but not the rest
    assert not torch.allclose(h[0, 0, half:], h[1, 0, half:])
    # the forward state at the first word has read only "a": identical
    assert torch.allclose(h[0, 0, :half], h[1, 0, :half])


def test_no_align_variant_uses_a_fixed_caption_vector(vocab):
    model = make(vocab, align=False)
    text = text_for(model, CAPTIONS)
    _, _, alpha = model.draw(torch.rand(4, 3, 8, 8), text.tokens, text.mask, return_alignments=True)
    assert alpha is None
    assert model.generate(text).shape == (4, 3, 8, 8)


# ---- the model contract ----------------------------------------------------------------------

def test_generate_range_state_round_trip_and_presets(vocab):
    cls = get_registry().model("draw")
    assert {"cpu", "paper", "paper-mnist"} <= set(cls.preset_names())
    paper = cls.make_config("paper")
    assert (paper["steps"], paper["z_dim"], paper["enc_dim"], paper["dec_dim"], paper["read_n"], paper["write_n"],
            paper["align_dim"], paper["lang_dim"], paper["batch_size"], paper["image_size"]) == \
        (32, 275, 550, 550, 9, 9, 512, 128, 100, 32)
    torch.manual_seed(0)
    model = make(vocab)
    model.train_step({"images": torch.rand(4, 3, 8, 8) * 2 - 1, "text": text_for(model, CAPTIONS)})
    text = text_for(model, CAPTIONS)
    z = model.sample_z(4)
    assert z.shape == (4, TINY["steps"] * TINY["z_dim"])
    images = model.eval().generate(text, z)
    assert images.shape == (4, 3, 8, 8) and images.min() >= -1 and images.max() <= 1
    clone = make(vocab)
    clone.load_state_dict(model.state_dict())
    assert torch.equal(clone.eval().generate(text, z), images)


def test_a_word_level_model_needs_a_vocabulary():
    from ganzoo.errors import UsageError

    cls = get_registry().model("draw")
    with pytest.raises(UsageError, match="vocab"):
        cls(cls.make_config("cpu", TINY), text_dim=5)


def invoke(args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.output


def test_draw_trains_samples_evaluates_and_benches(tmp_path):
    run = tmp_path / "run"
    code, out = invoke(["train", "--model", TINY_CLI, "--steps", "3", "--out", str(run)] + SMALL)
    assert code == 0, out
    vocab = json.loads((run / "vocab.json").read_text())["words"]
    assert vocab[:2] == ["<pad>", "<unk>"] and "circle" in vocab
    code, out = invoke(["sample", "--checkpoint", str(run), "a red circle", "a zebra-striped blimp", "-n", "2",
                        "-o", str(tmp_path / "grid.png")])
    assert code == 0, out
    assert (tmp_path / "grid.png").stat().st_size > 0
    code, out = invoke(["eval", "--checkpoint", str(run), "--samples", "8", "--device", "cpu",
                        "--metrics", "caption-accuracy,r-precision,diversity,smoothness"])
    assert code == 0, out
    values = json.loads((run / "eval.json").read_text())
    assert "caption-accuracy.shape" in values["values"] and "diversity" in values["values"]
    assert "smoothness" in values["unavailable"]
    bench = tmp_path / "bench"
    # 3 steps of a 12-unit model barely vary with z: the bench may flag it collapsed, which is fine here
    code, out = invoke(["bench", "--models", TINY_CLI, "--steps", "3", "--out", str(bench), "--eval-samples", "8",
                        "--allow-failures"] + SMALL)
    assert code == 0, out
    assert "draw" in out and "caption-accuracy" not in out.split("draw", 1)[0]
    rows = ResultStore(bench / "results.sqlite").runs()
    assert list(rows["model"]) == ["draw"] and rows.iloc[0]["status"] in ("ok", "collapsed")
    assert rows.iloc[0]["metric.caption-accuracy.colour"] == rows.iloc[0]["metric.caption-accuracy.colour"]
    assert list(bench.glob("runs/draw*/samples.png"))
