"""ganzoo plugin: ``ebgan``, Energy-Based GAN (Zhao, Mathieu, LeCun, ICLR 2017), text-conditional.

Built only on ganzoo's public interface (``ganzoo.model``, ``ganzoo.nn``, ``ganzoo.errors``),
like a third-party plugin. Config keys and presets (``cpu``, ``paper``) are in ``presets.toml``.

What it implements
- D is an autoencoder; the energy of a pair is D(x, t) = per-sample reconstruction MSE,
  the mean over channels and pixels.
- L_D = mean_i D(x_i, t_i) + mean_i max(0, m - D(G(z_i, t_i), t_i)).
- L_G = mean_i D(G(z_i, t_i), t_i) + lambda_pt * PT, with the pull-away term
  PT = 1/(N(N-1)) * sum_{i != j} cos^2(S_i, S_j) over the flattened encoder codes S of the
  generated batch (``pull_away = false`` drops it); lambda_pt = 0.1.

Deliberate deviations and choices (the paper is unconditional)
- Text conditioning, so that every model in the zoo faces the same task. G is the paper's
  GAN-INT-CLS generator, ``ganzoo.nn.TextDCGANGenerator`` (fc(text) + LeakyReLU concatenated
  with z, DCGAN transposed convs, tanh; none of the authors' bottleneck branches). The
  autoencoder gets the caption twice, each time through its own fc + BN + LeakyReLU
  projection replicated spatially: concatenated to the encoder's 4x4 features before the 1x1
  conv that makes the code, and concatenated to the 4x4 code at the input of the decoder. So
  the code, and the energy, depend on the caption.
- Architecture: encoder = DCGAN discriminator trunk (4x4 stride-2 convs to 4x4, BN except
  on the first, LeakyReLU 0.2); code = 1x1 conv to ``code_dim`` channels at 4x4, linear (no
  norm, no activation) so cosines in PT are meaningful; decoder = 3x3 conv + BN + ReLU at
  4x4, then transposed convs (BN + ReLU) to a tanh image. Widths stay 8 * ndf at 4x4 and
  halve per doubling, never below ndf.
- Margin scale: the energy is a *mean* squared error on images in [-1, 1], so it lies in
  [0, 4]. Public code's m = 10/20/80 belongs to summed energies and means nothing here. We
  use a fixed m = 0.5 (key ``margin``): a root-mean-square reconstruction error of about
  0.7, far above what a working autoencoder should reach on real images (a few
  hundredths), of the order of the energy of reconstructing nothing at all (E[x^2]: 0.66
  measured on shapes at 32px; roughly 0.25-0.5 expected, not measured, on photos), and far
  below the ceiling 4, so the hinge is reachable and switches off for clearly bad fakes
  instead of chasing an unreachable target. A fixed value keeps the loss a pure function
  of the batch; tune it per dataset with ``margin=...``.
- Hinges are taken per sample and then averaged (as in the paper's per-example losses).
- Optional matching-aware term (``cls = true``, off by default; not in the paper):
  L_D = D(x, t) + 0.5 * (max(0, m - D(G(z, t), t)) + max(0, m - D(x, t_wrong))), wrong
  captions made by shifting the batch one place (as StackGAN does; GAN-INT-CLS draws another
  sample's differing caption instead).
- Optional projection term (``projection_weight = w > 0``, off by default; not in the
  paper): the energy becomes D(x, t) = MSE + w * softplus(-s(x, t)), with the projection
  score s(x, t) = <sum-pooled 4x4 encoder features of x, W t> (W: a linear map of the
  caption, no bias). The term is never negative, so the energy stays bounded below and the
  margin loss keeps its meaning; it gives the autoencoder a direct reason to tell matching
  from mismatched pairs (the reconstruction error of a small object barely moves the MSE).
- Optional spectral normalisation (``spectral_norm = true``, off by default; not in the
  paper): every conv and linear layer of the autoencoder (encoder, code, both text
  projections, the decoder's first conv and the projection's W; not the decoder's transposed
  convs) is spectrally normalised (Miyato et al. 2018), as gan-int-cls's ``cpu`` preset does
  for its D. Usually with ``d_batchnorm = false``.
- The ``cpu`` preset is not the paper's loss: it switches on ``spectral_norm``,
  ``d_batchnorm = false``, lr 1e-3 for both nets, ``cls``, and the projection term (weight 0.3)
  with ``projection_fakes``. At cpu widths the paper's loss, and every single change to it that
  was screened, followed only the background; this combination follows every attribute
  (screens and reasons: ``reports/zoo-recipe``). ``paper`` and the key defaults stay the paper's.
- Optional autoencoder pre-training (``pretrain_d_steps = N``, 0 = off): the EBGAN paper
  pre-trains the autoencoder on real data alone. The first N training steps update only the
  autoencoder, minimising the real energy mean_i D(x_i, t_i) (no generator, no hinge); they
  count against the run's budget like any step and are reported as the ``pretrain_d`` phase.
- Optimiser: Adam lr 2e-4, betas (0.5, 0.999) for both nets, halved every
  ``lr_decay_epoch`` epochs, the same as GAN-INT-CLS for comparability (the paper tuned
  its rates per dataset).
- One D step then one G step reusing the D step's fake batch; D's weights get no
  gradients in the G step; energies are computed in float32 (autocast-safe).
- Init: conv/linear weights N(0, 0.02), BN weights N(1, 0.02), all biases 0
  (``ganzoo.nn.dcgan_init``).
"""

from ganzoo import hookimpl


@hookimpl
def register_models(register):
    from ganzoo_ebgan.model import Ebgan

    register("ebgan", Ebgan, Ebgan.description)
