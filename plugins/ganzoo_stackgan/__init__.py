"""StackGAN (Zhang et al., ICCV 2017) as a ganzoo model: ``stackgan``.

Follows the PyTorch reference (hanzhanggit/StackGAN-Pytorch): Conditioning Augmentation
(Linear + ReLU -> mu, logvar; c = mu + eps * exp(logvar / 2), eps drawn at test time
too; KL = -0.5 * mean(1 + logvar - mu^2 - exp(logvar)) weighted ``kl_weight``); D
conditioned on mu.detach(); wrong pairs = real images[:B-1] with conditions[1:];
Stage-I D loss real + (fake + wrong) / 2, Stage-II (real_c + real_u) / 2 +
(fake_c + wrong_c + fake_u) / 3; G loss BCE(fake, 1) (+ unconditional in Stage-II)
+ kl_weight * KL; one D step then one G step per iteration on the same fake batch;
separate D passes (and BN batch statistics) for real and fake images and for the
real / wrong / fake conditional heads; reference init; Adam (0.5, 0.999) with both
learning rates halved every ``lr_decay_epoch`` epochs. Parameter counts match the
reference (birds Stage-I G 10.30M / D 5.72M, COCO Stage-II G 37.13M / D 159.89M).

Stages. ``stage=1`` trains Stage-I at ``image_size``. ``stage=2`` outputs ``stage2_scale`` x
``image_size`` (4, as the reference) from a frozen Stage-I generator: either loaded from
``stage1_checkpoint`` (a Stage-I run directory, or its ``checkpoint/`` folder; network
``stage1_G``; read at the first train step or generation, so a finished Stage-II run
loads even if its Stage-I run has moved), or, when that is empty, trained in the same run
for ``stage1_steps`` iterations first, on the batch images average-pooled down to the
Stage-I size, then frozen; this is how a single ``ganzoo train --model stackgan`` trains
both stages in sequence (the logged ``stage`` says which one a step trained).
Checkpoints hold every network, frozen ones too; Stage-I's parameters are never
trainable (nor counted as such) in the Stage-II phase. ``text_twice=false``: Stage-II has
no CA net of its own and uses the condition (c, mu, logvar) the frozen Stage-I sampled,
so its KL term is a constant. ``ca=false`` (the no-CA ablation, the same definition in
every ganzoo plugin offering it): c = mu, the first half of the same Linear + ReLU,
deterministic; no sampling, no KL term (``kl`` is reported as 0).

train_step returns d_loss, d_real, d_wrong, d_fake (Stage-II: real and fake averaged over
the conditional and unconditional heads, as the reference reports them), g_loss, g_adv
(g_loss without the KL term), kl, p_real and p_fake (mean D probabilities of the
conditional head) and stage, all 0-d tensors on the model's device.

Deliberate deviations from the reference
- Losses use BCE-with-logits (softplus of the logits): mathematically the reference's
  BCE on sigmoid outputs, numerically stable and autocast-safe. Networks output logits.
- Sizes: ``image_size`` must be a power of two >= 16. Stage-I G has log2(image_size/4)
  upBlocks (4 at 64 px, as the reference) and each D has log2(size/4) stride-2 convs,
  followed by conv3x3 halvings down to 8ndf channels (none for Stage-I at 64, two for
  Stage-II at 256, as the reference). Smaller D encoders end with fewer channels (e.g.
  4ndf at 32 px) and their heads use that width. Stage-II's condition map is
  image_size/4 (16 at 64 px).
- During Stage-II training the frozen Stage-I G runs in eval mode under no_grad (the
  reference leaves it in train mode, i.e. BN batch statistics with drifting running stats).
- Learning-rate epochs are counted per stage: in a two-stage run Stage-II starts at the
  full rate. ``lr_decay_epoch=0`` never decays.
- A stage=2 run uses ``stage2_batch_size`` for both its phases (the reference's COCO
  Stage-I used 128), and its Stage-I phase sees 4x average-pooled Stage-II-size images
  (the reference resizes the originals to 76/64 of 64 px and crops); presets convert the reference's Stage-I epochs to ``stage1_steps``
  at that batch. birds/Oxford: batch 64 for both stages, decay every 100 epochs (the
  reference's birds cfg; models.md gives COCO's 20).
- Conv biases (only the logit convs have one) keep PyTorch's default init, as in the reference.

Implementation choices with the reference's results (no change to the maths)
- Every network is channels_last (NHWC); Adam is fused; loaded Adam moments are given
  their parameters' strides.
- The G step does not compute gradients for D's weights (the reference computes and
  then discards them); under DDP that pass also skips D's gradient sync.
- upBlock's nearest x2 upsampling + conv3x3 runs on CPU as four 2x2 convolutions of the
  low-resolution input (:class:`ganzoo_stackgan.blocks.UpConv`, same 3x3 parameter).
- D takes real and fake images in one forward call (separate passes inside), so DDP and
  torch.compile wrappers see every use of it.

Non-reference variants, all off by default
- ``loss="hinge"``: D uses relu(1 - x) / relu(1 + x) with the same weights, G -mean(x).
- ``spectral_norm=true``: spectral normalisation on every D conv/linear layer (BN kept).
- ``d_text="own"``: D conditions on its own Linear(text_dim -> c_dim) of the raw text
  (no activation; the head's conv + BN + LeakyReLU follow) instead of CA's mu.detach().
- ``residual_stage2=true``: Stage-II outputs tanh(bilinear upsampling of Stage-I's
  pre-tanh image + Stage-II's last conv), so it learns a correction of Stage-I.
- ``stage2_scale=2``: Stage-II outputs twice the Stage-I size instead of 4x (its last
  upBlock is left out; its Stage-I phase sees 2x average-pooled images).
- ``ca_logvar_init``: the initial bias of CA's logvar outputs (reference 0). With the
  reference init (fc weights N(0, 0.02)) mu starts with a std of about 0.02 * sqrt(text
  width) (0.4 for MiniLM's 384) while sigma starts near 1, so G's condition begins mostly
  noise; Adam moves that bias at about the learning rate per step whatever ``kl_weight``
  is. A negative value starts CA with less noise (the KL term still pulls sigma towards
  1); under ``ca_activation="relu"`` logvar cannot go below 0, so it has no effect there.
"""

from ganzoo import hookimpl
from ganzoo_stackgan.model import StackGAN

__all__ = ["StackGAN"]


@hookimpl
def register_models(register):
    register("stackgan", StackGAN, StackGAN.description)
