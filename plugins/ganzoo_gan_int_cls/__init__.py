"""ganzoo plugin: ``gan-int-cls``, the text-conditional DCGAN of Reed et al. (ICML 2016).

Built only on ganzoo's public interface (``ganzoo.model``, ``ganzoo.errors``), like a
third-party plugin. Config keys and presets (``cpu``, ``paper``) are in ``presets.toml``.

What it implements
- G: fc(text -> cond_dim) + LeakyReLU(0.2), concat z, DCGAN transposed convs from 4x4
  (8 * ngf channels) to image_size, BN + ReLU, tanh.
- D: 4x4 stride-2 convs to 4x4 (no BN on the first), LeakyReLU(0.2); fc(text) + BN +
  LeakyReLU replicated 4x4 and concatenated; 1x1 conv -> 8 * ndf + BN + LeakyReLU; 4x4 conv
  -> one logit.
- CLS (``cls = true``): L_D = real + 0.5 * wrong + 0.5 * fake; ``cls = false``: real + fake.
- INT (``int = true``): L_G adds, with weight 1, the loss on fakes made from (a + b) / 2
  of in-batch caption pairs.
- Adam (lr 2e-4, beta1 0.5) for both nets; both learning rates halve every
  ``lr_decay_epoch`` epochs (counted through ``end_epoch``).

Deliberate deviations (all documented here, none silent)
- Losses use BCE on logits (``binary_cross_entropy_with_logits``) instead of sigmoid + BCE:
  the same maths, numerically safer and allowed under autocast (fp16/bf16).
- Wrong pairs are made as StackGAN does, by shifting the captions one place in the batch
  (image i gets caption i - 1, ``roll``), not by drawing separate mismatched images. No
  check that the shifted caption really mismatches (two images of one class may share
  content); hence batches must hold >= 2 samples.
- INT uses a fixed beta = 0.5 and pairs caption i with caption i - 1; the interpolated
  fakes get fresh noise and a separate G/D forward (their own batch-norm statistics).
  D never trains on interpolated fakes (as in the paper: only G's objective gains the term).
- One D step, then one G step that reuses the D step's fake batch (StackGAN PyTorch
  reference order); D's weights get no gradients in the G step.
- Other image sizes than 64: the width at 4x4 stays 8 * ngf (8 * ndf in D) and halves per
  doubling, never below ngf (ndf); 64x64 is exactly the reference layout. 16x16 is the
  smallest size accepted.
- The plain DCGAN trunk of the paper is implemented; extra convolution branches that some
  public code adds inside G and D are not.
- Init: conv/linear weights N(0, 0.02), BN weights N(1, 0.02), and all biases 0.
"""

from ganzoo import hookimpl


@hookimpl
def register_models(register):
    from ganzoo_gan_int_cls.model import GanIntCls

    register("gan-int-cls", GanIntCls, GanIntCls.description)
