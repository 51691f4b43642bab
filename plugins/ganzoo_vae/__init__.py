"""ganzoo plugin: ``vae``, a text-conditional variational autoencoder baseline.

Built only on ganzoo's public interface (``ganzoo.model``, ``ganzoo.nn``, ``ganzoo.errors``),
like a third-party plugin. Config keys and presets (``cpu``, ``paper``) are in ``presets.toml``.

No StackGAN table has a VAE; alignDRAW (Mansimov et al. 2016) is the text-to-image VAE of
that time (recurrent, with attention). This is the plain conditional VAE the reference
notes ask for instead; every choice below is ours.

- Encoder q(z | x, text): the paper's (plain DCGAN) GAN-INT-CLS discriminator trunk (4x4
  stride-2 convs to 4x4, BN except on the first, LeakyReLU 0.2); fc(text) + LeakyReLU replicated 4x4 and
  concatenated; 1x1 conv + BN + LeakyReLU; a 4x4 conv to (mu, logvar), 2 * z_dim numbers.
- Decoder p(x | z, text): the paper's GAN-INT-CLS generator, ``ganzoo.nn.TextDCGANGenerator``
  (fc(text) + LeakyReLU concatenated with z, DCGAN transposed convs with BN + ReLU, tanh; none
  of the authors' bottleneck branches). Its output is the likelihood's mean.
- Likelihood (key ``recon``): ``"mse"`` = Gaussian with fixed variance 1/2, whose negative
  log-likelihood is the squared error summed over pixels (default); ``"l1"`` = Laplace with
  scale 1, the absolute error summed over pixels. Both are per image, averaged over the
  batch; constants dropped.
- Loss = reconstruction + kl_weight * KL(q(z | x, text) || N(0, I)), the KL summed over z
  and averaged over the batch; ``kl_weight = 1`` (default) is the true negative ELBO for the
  chosen likelihood; smaller weights trade sample quality for reconstruction (beta-VAE).
- Sampling (``generate``): z from the prior N(0, I) (torch's RNG when z is not given), and
  the decoder mean is returned (no pixel noise is added).
- Widths follow the GAN-INT-CLS nets (8 * width at 4x4, halving per doubling, never below
  width) so that the paper preset has the GAN baselines' capacity. Init as the GANs:
  conv/linear weights N(0, 0.02), BN weights N(1, 0.02), biases 0 (``ganzoo.nn.dcgan_init``).
- Optimiser: one Adam over encoder and decoder, lr 1e-3, betas (0.9, 0.999) (the usual
  VAE settings, not the GANs' beta1 = 0.5), halved every ``lr_decay_epoch`` epochs.
- Losses are computed in float32 (autocast-safe); logvar is not clamped.
"""

from ganzoo import hookimpl


@hookimpl
def register_models(register):
    from ganzoo_vae.model import ConditionalVae

    register("vae", ConditionalVae, ConditionalVae.description)
