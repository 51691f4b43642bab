"""ganzoo plugin: ``gan-int-cls``, the text-conditional DCGAN of Reed et al. (ICML 2016).

Built only on ganzoo's public interface (``ganzoo.model``, ``ganzoo.nn``, ``ganzoo.errors``),
like a third-party plugin. Config keys and presets (``cpu``, ``paper``) are in ``presets.toml``.

What it implements (the paper, as the authors' Torch code main_cls_int.lua builds it)
- G: fc(text -> cond_dim) + LeakyReLU(0.2), concat z, DCGAN transposed convs from 4x4
  (8 * ngf channels) to image_size, BN + ReLU, tanh.
- D: 4x4 stride-2 convs to 4x4 (no BN on the first), LeakyReLU(0.2); fc(text) + BN +
  LeakyReLU replicated 4x4 and concatenated; 1x1 conv -> 8 * ndf + BN + LeakyReLU; 4x4 conv
  -> one logit.
- ``residual = true`` (default): the authors' bottleneck branches. After the BN of G's 4x4 and
  8x8 levels and of D's 4x4 level: x + [conv1x1 (c -> c/4) BN act, conv3x3 BN act, conv3x3
  (-> c) BN](x), then the level's activation (ReLU in G, LeakyReLU 0.2 in D). At the paper
  widths that is +4.02M parameters in G and +0.80M in D. ``residual = false``: the plain
  DCGAN trunks of the paper.
- CLS (``cls = true``): L_D = real + 0.5 * wrong + 0.5 * fake; ``cls = false``: real + fake.
  Wrong pairs: each real image with the caption of another sample of the batch, drawn
  uniformly among the samples whose caption embedding differs from its own, so a wrong caption
  is never the right one (the authors draw a real image of another class for the right text;
  ganzoo's batches carry no classes, a different caption is the closest test). A sample whose
  caption every other sample in the batch shares has no wrong pair and is left out of the
  wrong term (whose mean is over the others; 0 if none).
- INT (``int = true``): L_G adds, with weight 1, the loss on fakes made from (a + b) / 2
  of in-batch caption pairs.
- Several captions per image (``caption_mean``, 4 as the authors' CUB script): when ``text``
  comes as (B, K, D), K caption embeddings per image, each image is conditioned on the mean of
  ``caption_mean`` of them drawn with replacement (the authors' loader draws a random caption
  per copy of the image and averages 4 copies). ganzoo's data contract hands one embedding per
  sample, (B, D), chosen by the dataset; the model uses it as it is, so through ``ganzoo train``
  the key has no effect: the realdata datasets' ``embedding=mean4`` option gives the authors'
  conditioning (the mean of 4 distinct random captions of the image), the default one random
  caption. ``generate`` given (B, K, D) uses the mean of all K.
- Adam (lr 2e-4, beta1 0.5) for both nets; both learning rates halve every
  ``lr_decay_epoch`` epochs (counted through ``end_epoch``).
- Init as the authors': conv weights N(0, 0.02), BN weights N(1, 0.02) and biases 0; the fc
  layers keep PyTorch's default init (uniform +-1/sqrt(fan_in), Torch7's default, which the
  authors' init leaves alone). No convolution has a bias: the authors' code zeroes every
  convolution bias before each D and G step, so theirs never act.

Deliberate deviations (all documented here, none silent)
- Three keys that are not in the paper, off in its settings (``paper`` preset and defaults):
  ``loss = "hinge"`` (D: relu(1 - real) + relu(1 + fake/wrong), G: -D(G)),
  ``spectral_norm = true`` (every D conv and linear layer; BN kept unless the next key drops it),
  shared building blocks of ``ganzoo.nn`` that StackGAN's recipe also uses, and
  ``d_batchnorm = false`` (no BatchNorm anywhere in D, the text fc's included). The ``cpu`` preset says which it turns on and why.
- Losses use BCE on logits (``ganzoo.nn.AdversarialLoss``, softplus form) instead of sigmoid +
  BCE: the same maths, numerically safer and allowed under autocast (fp16/bf16).
- INT uses a fixed beta = 0.5 and pairs caption i with caption i - 1 (the authors: the first
  half of the batch with the second, as B/2 extra samples); the interpolated fakes get fresh
  noise and a separate G/D forward (their own batch-norm statistics). D never trains on
  interpolated fakes (as in the paper: only G's objective gains the term).
- One D step, then one G step that reuses the D step's fake batch (StackGAN PyTorch
  reference order; the authors' G step draws new fakes); D's weights get no gradients in the
  G step.
- D's 8x8 level keeps its LeakyReLU after BN; the authors' main_cls_int.lua has none there (in
  D only, most likely an omission).
- Other image sizes than 64: the width at 4x4 stays 8 * ngf (8 * ndf in D) and halves per
  doubling, never below ngf (ndf); the bottlenecks stay at G's 4x4 and 8x8 and D's 4x4 levels.
  64x64 is exactly the authors' layout. 16x16 is the smallest size accepted.
"""

from ganzoo import hookimpl


@hookimpl
def register_models(register):
    from ganzoo_gan_int_cls.model import GanIntCls

    register("gan-int-cls", GanIntCls, GanIntCls.description)
