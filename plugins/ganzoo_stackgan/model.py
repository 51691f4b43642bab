"""The ``stackgan`` model: networks, optimisers, one training iteration, generation, schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.checkpoint import load_network_weights
from ganzoo.errors import GanzooError, UsageError
from ganzoo.model import GanzooModel, LrGroup
from ganzoo.nn import LOSSES, AdversarialLoss, add_spectral_norm, dcgan_init, frozen, require
from ganzoo.speed import unwrap
from ganzoo_stackgan.ca import CA_ACTIVATIONS, CondAugment
from ganzoo_stackgan.discriminator import Discriminator
from ganzoo_stackgan.losses import discriminator_loss, kl_divergence
from ganzoo_stackgan.reference import REFERENCE_ABLATIONS
from ganzoo_stackgan.stage1 import GeneratorOutput, Stage1Generator
from ganzoo_stackgan.stage2 import Stage2Generator

D_TEXT = ("mu", "own")


def _adam(params, lr: float, betas: tuple[float, float], device: torch.device) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    # fused Adam: one kernel over all parameters instead of a Python loop per tensor
    fused = True if device.type in ("cpu", "cuda") else None
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=fused)


def stage1_checkpoint_dir(path: str) -> Path:
    """A run directory's ``checkpoint/`` folder, or the given folder itself."""
    p = Path(path).expanduser()
    return p / "checkpoint" if (p / "checkpoint").is_dir() else p


class StackGAN(GanzooModel):
    config_file = Path(__file__).with_name("presets.toml")
    description = "StackGAN (Zhang et al. 2017): Stage-I GAN, then Stage-II at 4x on a frozen Stage-I, with CA"

    STAGE1_G = "stage1_G"  # the network name a Stage-II run loads from a Stage-I checkpoint
    reference_ablations = REFERENCE_ABLATIONS  # the paper's figures, shown beside `ganzoo ablate` of these keys

    # ---- configuration -------------------------------------------------------------
    def validate(self, config: dict[str, Any]) -> None:
        c, name = config, "stackgan "
        require(c, prefix=name, choices={"stage": (1, 2), "loss": LOSSES, "d_text": D_TEXT,
                                         "ca_activation": CA_ACTIVATIONS, "d_cond": ("concat", "projection"),
                                         "stage2_scale": (2, 4)})
        require(c, prefix=name, power_of_two={"image_size": 16}, why="the Stage-I size")
        if c["gf_dim"] < 4 or c["gf_dim"] * 8 < c["image_size"] // 4:
            raise UsageError(f"stackgan gf_dim must be >= 4 and >= image_size/32, got {c['gf_dim']}")
        require(c, prefix=name, positive_int=("df_dim", "z_dim", "c_dim"), non_negative_int=("r_num", "stage1_steps"),
                positive=("lr_g", "lr_d"), unit_interval=("beta1", "beta2"), non_negative=("kl_weight",))
        require(c, prefix=name, at_least={"batch_size": 2, "stage2_batch_size": 2}, why="wrong pairs shift the batch")
        if c["stage"] == 1 and c["stage1_checkpoint"]:
            raise UsageError("stackgan stage1_checkpoint only applies to stage=2")

    @property
    def image_size(self) -> int:
        """The final output size: Stage-I size for stage 1, ``stage2_scale`` times that for stage 2."""
        s = int(self.config["image_size"])
        return s if self.stage == 1 else int(self.config["stage2_scale"]) * s

    @property
    def batch_size(self) -> int:
        return int(self.config["batch_size" if self.stage == 1 else "stage2_batch_size"])

    @property
    def stage(self) -> int:
        return int(self.config["stage"])

    # ---- construction --------------------------------------------------------------
    def build(self) -> None:
        c = self.config
        betas = (c["beta1"], c["beta2"])
        self.adv = AdversarialLoss(c["loss"])
        d_text_dim = self.text_dim if c["d_text"] == "own" else None
        d_options = {"projection": c["d_cond"] == "projection", "batch_norm": c["d_batchnorm"]}
        self._nets: dict[str, nn.Module] = {}
        self._opts: dict[str, torch.optim.Optimizer] = {}
        self._phase_of_opt: dict[str, int] = {}
        # Stage-I is trained here for stage 1, and for stage 2 with no checkpoint to load
        train_stage1 = self.stage == 1 or not c["stage1_checkpoint"]
        with self.device:
            self.stage1_G = Stage1Generator(self.text_dim, c["z_dim"], c["c_dim"], c["gf_dim"],
                                            c["image_size"], ca=c["ca"], ca_activation=c["ca_activation"])
            self._nets[self.STAGE1_G] = self.stage1_G
            if train_stage1:
                self.stage1_D = Discriminator(c["image_size"], c["df_dim"], c["c_dim"], uncond=False,
                                              text_dim=d_text_dim, **d_options)
                self._nets["stage1_D"] = self.stage1_D
            if self.stage == 2:
                self.stage2_G = Stage2Generator(self.text_dim, c["c_dim"], c["gf_dim"], c["r_num"], ca=c["ca"],
                                                text_twice=c["text_twice"], residual=c["residual_stage2"],
                                                ca_activation=c["ca_activation"], scale=c["stage2_scale"])
                self.stage2_D = Discriminator(self.image_size, c["df_dim"], c["c_dim"], uncond=True,
                                              text_dim=d_text_dim, **d_options)
                self._nets.update(stage2_G=self.stage2_G, stage2_D=self.stage2_D)
        for name, net in self._nets.items():
            dcgan_init(net, conv_bias=True)  # the reference's init; its logit convs keep PyTorch's bias init
            if name.endswith("_D") and c["spectral_norm"]:
                add_spectral_norm(net)
            # NHWC convolutions: about 30% less CPU time per step than NCHW here (oneDNN)
            net.to(memory_format=torch.channels_last)
        for net in self._nets.values():
            for m in net.modules():
                if isinstance(m, CondAugment):
                    m.init_logvar(float(c["ca_logvar_init"]))
        if train_stage1:
            self._opts["stage1_G"] = _adam(self.stage1_G.parameters(), c["lr_g"], betas, self.device)
            self._opts["stage1_D"] = _adam(self.stage1_D.parameters(), c["lr_d"], betas, self.device)
            self._phase_of_opt.update(stage1_G=1, stage1_D=1)
        if self.stage == 2:
            self._opts["stage2_G"] = _adam(self.stage2_G.parameters(), c["lr_g"], betas, self.device)
            self._opts["stage2_D"] = _adam(self.stage2_D.parameters(), c["lr_d"], betas, self.device)
            self._phase_of_opt.update(stage2_G=2, stage2_D=2)
        self.stage1_iterations = 0
        self.epochs_in_phase = {1: 0, 2: 0}
        self.stage1_ready = False  # stage 2: Stage-I trained (loaded, or its in-run steps done)
        self._stage1_pending = ""  # stage 2: Stage-I checkpoint still to be read
        self._zero = torch.zeros((), device=self.device)
        self._stage_marker = {s: torch.full((), float(s), device=self.device) for s in (1, 2)}
        if self.stage == 2 and c["stage1_checkpoint"]:
            # read when first needed, so a finished Stage-II run loads without its Stage-I run
            self._stage1_pending = c["stage1_checkpoint"]
            self.stage1_G.requires_grad_(False)
            self.stage1_G.eval()

    def _ensure_stage1(self) -> None:
        if self._stage1_pending and not self.stage1_ready:
            self._load_stage1(self._stage1_pending)
        self._stage1_pending = ""

    def _load_stage1(self, path: str) -> None:
        ckpt = stage1_checkpoint_dir(path)
        try:
            weights = load_network_weights(ckpt, self.STAGE1_G)
        except GanzooError as exc:
            raise UsageError(f"stackgan stage1_checkpoint={path!r}: {str(exc).split(';')[0]}; give the "
                             f"directory of a Stage-I run (stage=1) made by `ganzoo train`") from None
        try:
            unwrap(self.stage1_G).load_state_dict(weights)
        except RuntimeError as exc:
            raise UsageError(f"the Stage-I generator in {ckpt} does not fit this config (image_size, gf_dim, "
                             f"z_dim, c_dim, ca and the text width must match the Stage-I run): "
                             f"{str(exc).splitlines()[0]}") from None
        self._freeze_stage1()

    def _freeze_stage1(self) -> None:
        self.stage1_G.requires_grad_(False)
        self.stage1_G.eval()
        self.stage1_ready = True

    def networks(self) -> dict[str, nn.Module]:
        return dict(self._nets)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return dict(self._opts)

    def train(self, mode: bool = True) -> "StackGAN":
        super().train(mode)
        if self.stage == 2 and (self.stage1_ready or self._stage1_pending):
            self.stage1_G.eval()  # frozen: always BN running statistics
        return self

    # ---- training ------------------------------------------------------------------
    @property
    def phase(self) -> str:
        """The harness reports throughput per phase: "stage1" or "stage2"."""
        return f"stage{self.stage_now}"

    @property
    def stage_now(self) -> int:
        """Which stage the next train_step trains."""
        if self.stage == 1:
            return 1
        if self.stage1_ready or self._stage1_pending:
            return 2
        if self.stage1_iterations < self.config["stage1_steps"]:
            return 1
        return 2

    def condition(self, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(c, mu, logvar) of the final stage's CA net (Stage-I's when Stage-II has none)."""
        stage2 = unwrap(self.stage2_G) if self.stage == 2 else None
        ca = stage2.ca_net if stage2 is not None and stage2.ca_net is not None else unwrap(self.stage1_G).ca_net
        return ca(text.to(self.device))

    def train_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        if self.stage == 2:
            self._ensure_stage1()
        images, text = batch["images"].contiguous(memory_format=torch.channels_last), batch["text"]
        z = torch.randn(images.shape[0], self.z_dim, device=self.device)
        if self.stage_now == 1:
            if self.stage == 2:  # in-run Stage-I phase: Stage-I learns from the batch at its own size
                images = F.avg_pool2d(images, int(self.config["stage2_scale"]))
            out = self._adversarial_step(self.stage1_G(text, z), images, text, self.stage1_D,
                                         self._opts["stage1_G"], self._opts["stage1_D"], self.stage1_G)
            if self.stage == 2:
                self.stage1_iterations += 1
                if self.stage1_iterations >= self.config["stage1_steps"]:
                    self._freeze_stage1()
            return out | {"stage": self._stage_marker[1]}
        if not self.stage1_ready:
            raise UsageError("stackgan stage=2 needs a trained Stage-I: set stage1_checkpoint=RUN "
                             "or stage1_steps=N (> 0) to train it first in this run")
        with torch.no_grad():
            stage1 = self.stage1_G(text, z)
        fake = self.stage2_G(text, stage1)
        out = self._adversarial_step(fake, images, text, self.stage2_D,
                                     self._opts["stage2_G"], self._opts["stage2_D"], self.stage2_G)
        return out | {"stage": self._stage_marker[2]}

    def _adversarial_step(self, fake: GeneratorOutput, images: torch.Tensor, text: torch.Tensor,
                          D: nn.Module, opt_G: torch.optim.Optimizer,
                          opt_D: torch.optim.Optimizer, G: nn.Module) -> dict[str, torch.Tensor]:
        """One D step then one G step on the same fake batch, as the reference's trainer."""
        cond = text if self.config["d_text"] == "own" else fake.mu.detach()
        opt_D.zero_grad(set_to_none=True)
        logits = D(fake.image.detach(), cond, real=images)
        d = discriminator_loss(self.adv, logits["real"], logits["wrong"], logits["fake"],
                               logits.get("real_uncond"), logits.get("fake_uncond"))
        d["d_loss"].backward()
        opt_D.step()
        opt_G.zero_grad(set_to_none=True)
        with frozen(D):
            g_logits = D(fake.image, cond)
            g_adv = self.adv.g(g_logits["fake"])
            if "fake_uncond" in g_logits:
                g_adv = g_adv + self.adv.g(g_logits["fake_uncond"])
            kl = kl_divergence(fake.mu, fake.logvar) if fake.logvar is not None else self._zero
            g_loss = g_adv + self.config["kl_weight"] * kl
            g_loss.backward()
        opt_G.step()
        probs = {"p_real": torch.sigmoid(logits["real"].detach().float()).mean(),
                 "p_fake": torch.sigmoid(logits["fake"].detach().float()).mean()}
        diag = self._diagnostics(fake, text, D, cond, logits, G) if self.config["diagnostics"] else {}
        return {k: v.detach() for k, v in d.items()} | {"g_loss": g_loss.detach(), "g_adv": g_adv.detach(),
                                                          "kl": kl.detach()} | probs | diag

    @torch.no_grad()
    def _diagnostics(self, fake: GeneratorOutput, text: torch.Tensor, D: nn.Module, cond: torch.Tensor,
                     logits: dict[str, torch.Tensor], G: nn.Module) -> dict[str, torch.Tensor]:
        """Health of CA, G and D on this batch (``diagnostics=true``; see the plugin docstring)."""
        g = unwrap(G)
        ca = g.ca_net if g.ca_net is not None else unwrap(self.stage1_G).ca_net
        mu = fake.mu.float()
        sigma = torch.exp(0.5 * fake.logvar.float()) if fake.logvar is not None else torch.zeros_like(mu)
        out = {"ca_mu": mu.mean(), "ca_mu_spread": mu.std(0).mean(), "ca_sigma": sigma.mean(),
               "ca_dead": (ca.fc(text) <= 0).all(0).float().mean(),
               "g_dead": (fake.features.float().amax(dim=(0, 2, 3)) <= 0).float().mean(),
               "img_spread": fake.image.float().std(0).mean(),
               "d_real_logit": logits["real"].float().mean(), "d_fake_logit": logits["fake"].float().mean()}
        mode = D.training
        D.eval()
        try:
            blank = torch.zeros_like(fake.image[:8])  # tanh(0): the flat grey of a dead generator
            out["d_blank_logit"] = D(blank, cond[:8])["fake"].float().mean()
        finally:
            D.train(mode)
        return out

    # ---- generation ----------------------------------------------------------------
    @torch.no_grad()
    def generate_stages(self, text: torch.Tensor, z: torch.Tensor | None = None) -> list[torch.Tensor]:
        """[Stage-I image] for stage 1, [Stage-I image, Stage-II image] (each at its own size) for stage 2."""
        if self.stage == 2:
            self._ensure_stage1()
        text = text.to(self.device)
        z = self.sample_z(text.shape[0]) if z is None else z.to(self.device)
        gens = [self.stage1_G] + ([self.stage2_G] if self.stage == 2 else [])
        modes = [g.training for g in gens]
        for g in gens:
            g.eval()
        try:
            stage1 = self.stage1_G(text, z)
            images = [stage1.image] if self.stage == 1 else [stage1.image, self.stage2_G(text, stage1).image]
            return [im.contiguous() for im in images]
        finally:
            for g, m in zip(gens, modes):
                g.train(m)

    def generate(self, text: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        return self.generate_stages(text, z)[-1]

    # ---- schedule and state --------------------------------------------------------
    def end_epoch(self, epoch: int) -> None:
        """Count the epoch for the stage being trained; the base schedule halves each stage's
        learning rates every ``lr_decay_epoch`` of that stage's epochs (:meth:`lr_groups`)."""
        self.epochs_in_phase[self.stage_now] += 1
        super().end_epoch(epoch)

    def lr_groups(self) -> list[LrGroup]:
        return [LrGroup(opt, "lr_g" if name.endswith("_G") else "lr_d",
                        self.epochs_in_phase[self._phase_of_opt[name]]) for name, opt in self._opts.items()]

    def extra_state(self) -> dict[str, Any]:
        return {"stage1_iterations": self.stage1_iterations, "stage1_ready": self.stage1_ready,
                "epochs_in_phase": {str(k): v for k, v in self.epochs_in_phase.items()}}

    def load_extra_state(self, extra: dict[str, Any]) -> None:
        if not extra:
            return
        self.stage1_iterations = int(extra.get("stage1_iterations", 0))
        self.epochs_in_phase = {int(k): int(v) for k, v in extra.get("epochs_in_phase", {"1": 0, "2": 0}).items()}
        if self.stage == 2 and extra.get("stage1_ready"):
            self._freeze_stage1()
            self._stage1_pending = ""  # the checkpoint restored the trained Stage-I
        self.apply_lr_schedule()
