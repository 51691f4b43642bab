"""The reference StackGAN-Pytorch Stage-I train step, loaded at run time from a checkout.

Nothing of the reference is in this repository. Get a checkout with
``git clone https://github.com/hanzhanggit/StackGAN-Pytorch`` (measured at commit e72ef88)
and pass its path. Its ``code/model.py`` is imported unchanged; ``code/miscc/config.py``
(which needs ``easydict``) is replaced by the birds Stage-I values below; ``code/miscc/utils.py``
is imported with one textual patch for modern torch, ``.data[0]`` -> ``.item()`` (0-d loss
tensors) -- and its ``nn.parallel.data_parallel(m, x, gpus)`` calls become ``m(*x)`` (what
they do on one device; torch 2.14 refuses them on a CUDA build without a GPU). The timed
iteration is the body of its ``GANTrainer.train`` loop.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn, optim

TEXT_DIM = 1024  # the reference's char-CNN-RNN embedding width


def birds_stage1_cfg() -> SimpleNamespace:
    """The reference's cfg defaults with birds Stage-I values (cfg/birds_s1.yml), CPU only."""
    return SimpleNamespace(
        DATASET_NAME="birds", CUDA=False, Z_DIM=100, IMSIZE=64, STAGE=1, GPU_ID="",
        TRAIN=SimpleNamespace(BATCH_SIZE=64, DISCRIMINATOR_LR=2e-4, GENERATOR_LR=2e-4,
                              COEFF=SimpleNamespace(KL=2.0)),
        GAN=SimpleNamespace(CONDITION_DIM=128, DF_DIM=64, GF_DIM=128, R_NUM=4),
        TEXT=SimpleNamespace(DIMENSION=TEXT_DIM),
    )


def load(checkout: Path) -> SimpleNamespace:
    """Import the reference's ``model`` and ``miscc.utils`` from ``checkout`` (the repo root)."""
    code = Path(checkout) / "code"
    for needed in ("model.py", "miscc/utils.py"):
        if not (code / needed).is_file():
            raise SystemExit(f"{checkout} is not a StackGAN-Pytorch checkout (no code/{needed}); get one with "
                             f"`git clone https://github.com/hanzhanggit/StackGAN-Pytorch`")
    cfg = birds_stage1_cfg()
    miscc = types.ModuleType("miscc")
    miscc.__path__ = []
    config = types.ModuleType("miscc.config")
    config.cfg = cfg
    sys.modules.update({"miscc": miscc, "miscc.config": config})
    utils = _module_from_source("miscc.utils", (code / "miscc/utils.py").read_text().replace(".data[0]", ".item()"))
    utils.nn = SimpleNamespace(BCELoss=nn.BCELoss, parallel=SimpleNamespace(data_parallel=_on_one_device))
    sys.modules["miscc.utils"] = utils
    spec = importlib.util.spec_from_file_location("stackgan_reference_model", code / "model.py")
    model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model)
    return SimpleNamespace(model=model, utils=utils, cfg=cfg)


def _on_one_device(module, inputs, device_ids=None):
    return module(*inputs) if isinstance(inputs, tuple) else module(inputs)


def _module_from_source(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"<reference {name}>", "exec"), module.__dict__)
    return module


class ReferenceStage1:
    """Networks, optimisers and the trainer's loop body; ``step(images, text)`` is one iteration."""

    def __init__(self, ref: SimpleNamespace, batch_size: int = 64):
        self.ref, cfg = ref, ref.cfg
        self.netG, self.netD = ref.model.STAGE1_G(), ref.model.STAGE1_D()
        self.netG.apply(ref.utils.weights_init)
        self.netD.apply(ref.utils.weights_init)
        self.noise = torch.FloatTensor(batch_size, cfg.Z_DIM)
        self.real_labels = torch.FloatTensor(batch_size).fill_(1)
        self.fake_labels = torch.FloatTensor(batch_size).fill_(0)
        self.optD = optim.Adam(self.netD.parameters(), lr=cfg.TRAIN.DISCRIMINATOR_LR, betas=(0.5, 0.999))
        self.optG = optim.Adam([p for p in self.netG.parameters() if p.requires_grad],
                               lr=cfg.TRAIN.GENERATOR_LR, betas=(0.5, 0.999))

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.netG, "D": self.netD}

    def step(self, real_imgs: torch.Tensor, txt_embedding: torch.Tensor) -> float:
        u, gpus = self.ref.utils, []
        self.noise.normal_(0, 1)
        _, fake_imgs, mu, logvar = self.netG(txt_embedding, self.noise)
        self.netD.zero_grad()
        errD, *_ = u.compute_discriminator_loss(self.netD, real_imgs, fake_imgs, self.real_labels,
                                                self.fake_labels, mu, gpus)
        errD.backward()
        self.optD.step()
        self.netG.zero_grad()
        errG = u.compute_generator_loss(self.netD, fake_imgs, self.real_labels, mu, gpus)
        errG_total = errG + u.KL_loss(mu, logvar) * self.ref.cfg.TRAIN.COEFF.KL
        errG_total.backward()
        self.optG.step()
        return float(errD.detach())
