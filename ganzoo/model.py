"""The model contract every model plugin implements.

A model owns its networks, its optimisers, one training iteration (``train_step``),
generation, its config (defaults + named presets, as data) and its learning-rate
schedule. The harness owns the loop, devices, seeds, logging and checkpoints, and never
asks which model it is running.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import torch
from torch import nn

from ganzoo.config import load_presets, resolve_config


class LrGroup(NamedTuple):
    """One optimiser under the default learning-rate schedule (see :meth:`GanzooModel.lr_groups`)."""

    optimizer: torch.optim.Optimizer
    key: str                   # config key of its base learning rate
    epochs: int | None = None  # epochs that count for it; None: the model's epochs_done


class GanzooModel:
    """Base class for model plugins.

    Subclasses set ``config_file`` (a ``presets.toml`` next to the plugin module) and
    implement :meth:`build`, :meth:`train_step` and :meth:`generate`.

    Batches given to :meth:`train_step` are dicts with ``images`` (B, 3, S, S) in [-1, 1]
    at :attr:`image_size`, ``text`` and ``caption_ids``. What ``text`` is depends on
    :attr:`conditioning`: ``"sentence"`` (default): (B, text_dim) caption embeddings;
    ``"words"``: a :class:`ganzoo.conditioning.Conditioning` holding those embeddings and the
    captions' word ids, mask and strings (the same object reaches :meth:`generate`).
    """

    config_file: ClassVar[str | Path | None] = None
    description: ClassVar[str] = ""
    #: "sentence" (text = embedding tensor) or "words" (text = ganzoo.conditioning.Conditioning)
    conditioning: ClassVar[str] = "sentence"

    def __init__(self, config: dict[str, Any], text_dim: int, device: str | torch.device = "cpu",
                 vocab: Any = None):
        from ganzoo.conditioning import wants_words
        from ganzoo.errors import UsageError

        self.config = dict(config)
        self.text_dim = int(text_dim)
        self.device = torch.device(device)
        #: the run's ganzoo.conditioning.Vocabulary (word-level models only; None otherwise)
        self.vocab = vocab
        if wants_words(self) and vocab is None:
            if self.device.type != "meta":
                raise UsageError(f"{type(self).__name__} reads words: build it with vocab="
                                 "ganzoo.conditioning.Vocabulary.build(training_captions)")
            from ganzoo.conditioning import PAD, UNK, Vocabulary

            self.vocab = Vocabulary([PAD, UNK])  # a config check on the meta device: no words needed
        self._validate_common(self.config)
        if self.text_dim < 1:
            raise UsageError(f"text_dim must be >= 1, got {self.text_dim}")
        self.validate(self.config)
        self.build()

    # ---- configuration -------------------------------------------------------------
    @classmethod
    def defaults_and_presets(cls) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        if cls.config_file is None:
            return {}, {}
        return load_presets(cls.config_file)

    @classmethod
    def make_config(cls, preset: str | None = None, overrides: dict[str, Any] | None = None,
                    dataset: str | None = None, name: str | None = None) -> dict[str, Any]:
        defaults, presets = cls.defaults_and_presets()
        return resolve_config(defaults, presets, preset, overrides, dataset, what=f"model {name or cls.__name__}")

    @classmethod
    def preset_names(cls) -> list[str]:
        return sorted(cls.defaults_and_presets()[1])

    @staticmethod
    def _validate_common(config: dict[str, Any]) -> None:
        from ganzoo.errors import UsageError

        for key in ("batch_size", "image_size", "z_dim"):
            if key in config and (not isinstance(config[key], int) or config[key] <= 0):
                raise UsageError(f"config key {key!r} must be a positive integer, got {config[key]!r}")
        for key, value in config.items():
            if key.startswith("lr") and isinstance(value, float) and value <= 0:
                raise UsageError(f"learning rate {key!r} must be positive, got {value}")
        if "lr_decay_epoch" in config and not (isinstance(config["lr_decay_epoch"], int)
                                               and config["lr_decay_epoch"] >= 0):
            raise UsageError(f"lr_decay_epoch must be an integer >= 0 (0 disables the decay), "
                             f"got {config['lr_decay_epoch']!r}")

    def validate(self, config: dict[str, Any]) -> None:
        """Raise :class:`ganzoo.errors.UsageError` for out-of-range values."""

    # ---- to implement ---------------------------------------------------------------
    def build(self) -> None:
        """Create networks and optimisers on ``self.device``."""
        raise NotImplementedError

    def networks(self) -> dict[str, nn.Module]:
        """Every module whose weights make up the model's state (trainable or frozen)."""
        raise NotImplementedError

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def train_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """One training iteration; returns named scalar losses (0-d tensors)."""
        raise NotImplementedError

    def generate(self, text: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [-1, 1] at :attr:`image_size` for ``text`` (embeddings, or a Conditioning
        for word-level models)."""
        raise NotImplementedError

    # ---- optional hooks with defaults -----------------------------------------------
    @property
    def image_size(self) -> int:
        return int(self.config["image_size"])

    @property
    def phase(self) -> str:
        """Name of the current training phase (throughput is reported per phase, e.g. stage1/stage2)."""
        return "train"

    @property
    def z_dim(self) -> int:
        return int(self.config.get("z_dim", 100))

    @property
    def batch_size(self) -> int:
        return int(self.config["batch_size"])

    def sample_z(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.z_dim, generator=generator).to(self.device)

    def generate_stages(self, text: torch.Tensor, z: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Intermediate images for display (e.g. StackGAN's Stage-I beside Stage-II)."""
        return [self.generate(text, z)]

    #: epochs finished so far (drives the default learning-rate schedule; saved with the model)
    epochs_done: int = 0

    def lr_groups(self) -> list[LrGroup | tuple[torch.optim.Optimizer, str]]:
        """The optimisers the default schedule halves every ``lr_decay_epoch`` epochs (0: never):
        :class:`LrGroup` (or plain ``(optimizer, key)`` pairs) naming the config key of each one's
        base learning rate and, optionally, the epoch count that drives it (default
        :attr:`epochs_done`; e.g. StackGAN counts epochs per stage). None by default."""
        return []

    def end_epoch(self, epoch: int) -> None:
        """Called by the harness after each epoch; ``epoch`` is the 0-based index of the
        epoch that just finished. The default applies the halving schedule of :meth:`lr_groups`."""
        self.epochs_done = epoch + 1
        self.apply_lr_schedule()

    def apply_lr_schedule(self) -> None:
        every = int(self.config.get("lr_decay_epoch", 0))
        for opt, key, *epochs in self.lr_groups():
            done = self.epochs_done if not epochs or epochs[0] is None else epochs[0]
            factor = 0.5 ** (done // every) if every > 0 else 1.0
            for group in opt.param_groups:
                group["lr"] = self.config[key] * factor

    def train(self, mode: bool = True) -> "GanzooModel":
        for net in self.networks().values():
            net.train(mode)
        return self

    def eval(self) -> "GanzooModel":
        return self.train(False)

    def parameter_count(self, trainable_only: bool = True) -> dict[str, int]:
        return {name: sum(p.numel() for p in net.parameters() if p.requires_grad or not trainable_only)
                for name, net in self.networks().items()}

    # ---- state ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "networks": {k: _unwrap(v).state_dict() for k, v in self.networks().items()},
            "optimizers": {k: v.state_dict() for k, v in self.optimizers().items()},
            "extra": self.extra_state(),
        }

    def load_state_dict(self, state: dict[str, Any], with_optimizers: bool = True) -> None:
        for k, net in self.networks().items():
            _unwrap(net).load_state_dict(state["networks"][k])
        if with_optimizers:
            for k, opt in self.optimizers().items():
                if k in state.get("optimizers", {}):
                    opt.load_state_dict(state["optimizers"][k])
            from ganzoo.checkpoint import match_optimizer_layouts

            match_optimizer_layouts(self)  # e.g. channels_last parameters: fused kernels pair by memory position
        self.load_extra_state(state.get("extra", {}))

    def extra_state(self) -> dict[str, Any]:
        """JSON-able state beyond networks and optimisers (by default the schedule position)."""
        return {"epochs_done": self.epochs_done}

    def load_extra_state(self, extra: dict[str, Any]) -> None:
        self.epochs_done = int(extra.get("epochs_done", 0))
        self.apply_lr_schedule()


def _unwrap(net: nn.Module) -> nn.Module:
    """The module inside DDP / torch.compile wrappers (state dicts never carry their prefixes)."""
    from ganzoo.speed import unwrap

    return unwrap(net)
