"""ganzoo plugin: ``draw``, alignDRAW (Mansimov et al., "Generating Images from Captions with
Attention", ICLR 2016), the text-to-image VAE StackGAN was measured against.

A word-level model (``conditioning = "words"``): it reads the caption's word ids over the
run's vocabulary, never the sentence embedding. Built only on ganzoo's public interface.
Facts follow the authors' Theano code (emansim/text2image); the code here is ours.

- Language model: a bidirectional LSTM over the words (``lang_dim`` per direction); no
  separate word embedding (one-hot times each direction's input-to-gates matrix, i.e. a row
  lookup). h_lang_j = [forward_j; backward_j]. Deviation: the backward LSTM really reads each
  caption right to left (the authors' code flips the batch, not the words).
- Step t = 1..T: x_hat = x - sigmoid(c_{t-1}); DRAW read attention (window from h_dec_{t-1},
  one window for all channels) r_t = gamma [read(x), read(x_hat)]; alignment
  e_j = v^T tanh(U h_lang_j + W h_dec_{t-1} + b), alpha = softmax over the caption's real
  words (padding masked out: batches mix caption lengths here, the authors' did not),
  s_t = sum_j alpha_j h_lang_j; h_enc_t = LSTM([r_t, h_dec_{t-1}]); q(z_t) = N(mu, sigma)
  with mu and log sigma^2 linear in h_enc_t; h_dec_t = LSTM([z_t, s_t]); the prior of step
  t+1 is [mu_p, log sigma_p] = tanh(W h_dec_t + b) (step 1: N(0, I)); DRAW write attention
  adds F_Y^T w F_X / gamma of an N x N patch to the canvas. Attention details: ``attention.py``.
- Loss: the negative variational bound in nats per image: pixel binary cross-entropy of
  sigmoid(c_T) against the image mapped to [0, 1] (summed over pixels and channels), plus
  the exact KL(q_t || p_t) summed over steps and dimensions; no weight, no annealing.
  Optional, not the paper's (``free_nats`` > 0, default 0): "free bits" (Kingma et al.
  2016), training on recon + sum_t max(free_nats, batch-mean KL_t) so that glimpses whose
  KL is under the floor get no KL pressure; the logged ``loss`` and ``kl`` stay the bound.
- Sampling (``generate``): z_t = mu_p + sigma_p eps_t from the learned prior, the image is
  sigmoid(c_T) (no pixel noise). ``sample_z`` gives the eps of all T steps flattened (T * z_dim).
- Learned initial LSTM states (h0; cell states start at 0); canvas starts at ``canvas_init``.
- Optimiser (``paper``): RMSProp (decay 0.9, eps 1e-6), lr 1e-3, per-tensor gradient L2
  clip at 10; init N(0, 0.01), zero biases. The authors divide the lr by 10 when the
  validation bound worsens; ganzoo has no validation pass in training, so that schedule is
  not reproduced (``lr_decay_epoch`` halves on a fixed period if set).
- ``align = false`` is the paper's noAlignDRAW ablation: s_t is the fixed vector of the
  forward state at the last word and the backward state at the first.
- Presets: ``paper`` (COCO: 32x32, T 32, z 275, LSTMs 550, read/write 9, align 512, batch
  100), ``paper-mnist`` (60x60, T 32, z 150, LSTMs 300, 8x8 grids), ``cpu`` (small, Adam
  at lr 3e-3, init N(0, 0.1), batch 32: chosen on the val split, reports/zoo-recipe/; the
  paper's init and lr learned only the background within the bench budget).
- Left out: the paper's GAN sharpening of samples (a post-processing step that needs
  skip-thought vectors and weights whose training code is not public). Samples here are
  the raw alignDRAW means, hence blurrier than the paper's sharpened figures.
"""

from ganzoo import hookimpl


@hookimpl
def register_models(register):
    from ganzoo_draw.model import AlignDrawModel

    register("draw", AlignDrawModel, AlignDrawModel.description)
