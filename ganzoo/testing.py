"""A contract kit for model plugins: the checks every ganzoo model must pass, for any plugin to
run on itself.

In a plugin's test module, one line gives the model every check as a parametrized pytest test::

    from ganzoo.testing import contract_tests
    test_contract = contract_tests(MyGan)        # or a registered name: contract_tests("my-gan")

or call :func:`check_model` (all checks) or a single ``check_*`` function directly. The checks
build the model from its ``tiny`` preset when it has one (else ``cpu``, else the defaults) plus
``overrides``, so ship a ``tiny`` preset that trains in well under a second on a CPU core.

- ``config``: the config is plain JSON-able data; resolving it again gives it back; unknown keys
  are refused; the model keeps it.
- ``train_step``: one step returns named finite 0-d losses without gradients and changes weights.
- ``save_load``: a checkpoint (``ganzoo.checkpoint``) restores a fresh model exactly: the same
  images for the same seed, and the same next step (losses and weights).
- ``generate``: (B, 3, S, S) at ``image_size``, finite, in [-1, 1] (also for a z ten times the
  usual size, so an unbounded output shows even untrained); ``sample_z`` gives its z.
- ``determinism``: the same seed builds, trains and generates the same, bit for bit; another z
  gives other images.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ganzoo.conditioning import Vocabulary, condition, wants_words
from ganzoo.errors import UnknownKeyError
from ganzoo.model import GanzooModel

#: the captions a word-level model under test reads (and builds its vocabulary from)
CAPTIONS = ("a small red circle at the top left", "a large blue square in the centre",
            "a green triangle at the bottom right on a white background", "a tiny yellow star",
            "a big purple circle on a grey background", "an orange square at the top")


@dataclass
class Subject:
    """How to build the model under test and feed it: class, preset, overrides, text width."""

    cls: type[GanzooModel]
    preset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    text_dim: int = 6

    @classmethod
    def of(cls, model: type[GanzooModel] | str, preset: str | None = None, overrides: dict | None = None,
           text_dim: int = 6) -> "Subject":
        if isinstance(model, str):
            from ganzoo.registry import get_registry

            model = get_registry().model(model)
        if preset is None:
            names = model.preset_names()
            preset = next((p for p in ("tiny", "cpu") if p in names), None)
        return cls(model, preset, dict(overrides or {}), text_dim)

    def config(self) -> dict[str, Any]:
        return self.cls.make_config(self.preset, self.overrides)

    def build(self, seed: int = 0) -> GanzooModel:
        torch.manual_seed(seed)
        extra = {"vocab": Vocabulary.build(CAPTIONS)} if wants_words(self.cls) else {}
        return self.cls(self.config(), text_dim=self.text_dim, **extra)

    def text(self, model: GanzooModel, n: int, seed: int = 0):
        """What ``model`` is conditioned on for ``n`` captions (a tensor, or a Conditioning)."""
        vectors = torch.randn(n, self.text_dim, generator=torch.Generator().manual_seed(seed))
        captions = [CAPTIONS[i % len(CAPTIONS)] for i in range(seed, seed + n)]
        return condition(model, vectors, captions).to(model.device)

    def batch(self, model: GanzooModel, seed: int = 0) -> dict[str, Any]:
        n, size = model.batch_size, model.image_size
        g = torch.Generator().manual_seed(1000 + seed)
        return {"images": (torch.rand(n, 3, size, size, generator=g) * 2 - 1).to(model.device),
                "text": self.text(model, n, seed), "caption_ids": torch.arange(n, device=model.device)}


# ---- helpers ---------------------------------------------------------------------------------

def _step(model: GanzooModel, batch: dict[str, Any], seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return model.train_step(batch)


def _weights(model: GanzooModel) -> dict[str, torch.Tensor]:
    return {f"{name}.{k}": v.detach().clone() for name, net in model.networks().items()
            for k, v in net.state_dict().items()}


def _differences(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> list[str]:
    return sorted(k for k in a.keys() | b.keys() if k not in a or k not in b or not torch.equal(a[k], b[k]))


def _generate(model: GanzooModel, text, seed: int, z: torch.Tensor | None = None) -> torch.Tensor:
    torch.manual_seed(seed)
    return model.generate(text, z)


# ---- the checks ------------------------------------------------------------------------------

def check_config(subject: Subject) -> None:
    config = subject.config()
    defaults, _ = subject.cls.defaults_and_presets()
    assert set(config) == set(defaults), f"config keys {sorted(set(config) ^ set(defaults))} differ from the defaults'"
    assert json.loads(json.dumps(config)) == config, "a config must be plain JSON data (run.json records it)"
    again = subject.cls.make_config(None, json.loads(json.dumps(config)))
    assert again == config and all(type(again[k]) is type(config[k]) for k in config), \
        "resolving a config again must give it back, with the same value types"
    try:
        subject.cls.make_config(subject.preset, {"no_such_key_in_any_model": 1})
    except UnknownKeyError:
        pass
    else:
        raise AssertionError("an unknown config key must be refused (UnknownKeyError)")
    assert subject.build().config == config, "the model must keep the config it was given"


def check_train_step(subject: Subject) -> None:
    model = subject.build().train()
    before = _weights(model)
    losses = _step(model, subject.batch(model), seed=1)
    assert isinstance(losses, dict) and losses, "train_step must return its losses by name"
    for name, value in losses.items():
        assert torch.is_tensor(value) and value.dim() == 0, f"loss {name!r} must be a 0-d tensor"
        assert not value.requires_grad, f"loss {name!r} must be detached"
        assert torch.isfinite(value), f"loss {name!r} is not finite: {value}"
    assert _differences(before, _weights(model)), "one train_step changed no weight"


def check_save_load(subject: Subject) -> None:
    from ganzoo.checkpoint import load_checkpoint, save_checkpoint

    model = subject.build(seed=0).train()
    for i in range(2):
        _step(model, subject.batch(model, seed=i), seed=10 + i)
    model.end_epoch(0)
    fresh = subject.build(seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        save_checkpoint(Path(tmp) / "checkpoint", model, {"step": 2})
        load_checkpoint(Path(tmp) / "checkpoint", fresh)
    assert not _differences(_weights(model), _weights(fresh)), "loaded weights differ from the saved ones"
    assert json.loads(json.dumps(model.extra_state())) == fresh.extra_state(), "extra_state did not round-trip"
    lrs = [[g["lr"] for g in opt.param_groups] for opt in model.optimizers().values()]
    assert lrs == [[g["lr"] for g in opt.param_groups] for opt in fresh.optimizers().values()], \
        "learning rates differ after loading"
    text = subject.text(model, 3, seed=5)
    model.eval(), fresh.eval()
    assert torch.equal(_generate(model, text, 7), _generate(fresh, text, 7)), "loaded model generates other images"
    model.train(), fresh.train()
    batch = subject.batch(model, seed=9)
    a, b = _step(model, batch, seed=20), _step(fresh, batch, seed=20)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), \
        "the step after loading gives other losses (optimiser or extra state not restored)"
    diff = _differences(_weights(model), _weights(fresh))
    assert not diff, f"the step after loading gives other weights: {diff[:5]}"


def check_generate(subject: Subject) -> None:
    model = subject.build().eval()
    size = model.image_size
    for n in (1, 3):
        images = _generate(model, subject.text(model, n), seed=0)
        want = (n, 3, size, size)
        assert tuple(images.shape) == want, f"generate gave {tuple(images.shape)}, not {want}"
        assert images.is_floating_point() and torch.isfinite(images).all(), "generated images must be finite floats"
        assert images.min() >= -1 and images.max() <= 1, "generated images must lie in [-1, 1]"
    text = subject.text(model, 2)
    torch.manual_seed(3)
    z = model.sample_z(2)
    assert z.shape[0] == 2 and torch.equal(_generate(model, text, 0, z), _generate(model, text, 0, z.clone())), \
        "generate(text, z) must be a function of text and z"
    far = _generate(model, text, 0, 10 * z)  # an untrained net stays near 0: push it to show its bound
    assert far.min() >= -1 and far.max() <= 1, "generated images must lie in [-1, 1] for any z (a bounded output)"


def check_determinism(subject: Subject) -> None:
    a, b = subject.build(seed=3), subject.build(seed=3)
    assert not _differences(_weights(a), _weights(b)), "the same seed must build the same weights"
    batch = subject.batch(a, seed=4)
    la, lb = _step(a.train(), batch, seed=5), _step(b.train(), batch, seed=5)
    assert all(torch.equal(la[k], lb[k]) for k in la), "the same seed must give the same losses"
    assert not _differences(_weights(a), _weights(b)), "the same seed must give the same weights after a step"
    text = subject.text(a, 3)
    a.eval(), b.eval()
    first = _generate(a, text, 6)
    assert torch.equal(first, _generate(b, text, 6)), "the same seed must generate the same images"
    assert not torch.equal(first, _generate(a, text, 7)), "another seed (another z) must generate other images"


CHECKS: dict[str, Callable[[Subject], None]] = {
    "config": check_config, "train_step": check_train_step, "save_load": check_save_load,
    "generate": check_generate, "determinism": check_determinism,
}


def check_model(model: type[GanzooModel] | str, preset: str | None = None, overrides: dict | None = None,
                text_dim: int = 6, checks=tuple(CHECKS)) -> None:
    """Run the named checks (all by default) on ``model``; an AssertionError says what broke."""
    subject = Subject.of(model, preset, overrides, text_dim)
    for name in checks:
        CHECKS[name](subject)


def contract_tests(model: type[GanzooModel] | str, preset: str | None = None, overrides: dict | None = None,
                   text_dim: int = 6):
    """A pytest test parametrized over every check: ``test_contract = contract_tests(MyGan)``."""
    import pytest

    @pytest.mark.parametrize("check", list(CHECKS))
    def test_contract(check: str) -> None:
        check_model(model, preset, overrides, text_dim, checks=(check,))

    return test_contract
