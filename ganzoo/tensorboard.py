"""TensorBoard event files for a run (``--tensorboard``; needs the optional extra ``ganzoo[tensorboard]``).

Everything goes to ``RUN/tensorboard/``: the losses at every logged step (``loss/<name>``),
the metrics measured during training (``eval/<value>``, step = training step; also
``eval/images_seen`` and ``eval/wall_time_s``) and sample grids (``samples``: the same
captions and the same z at every evaluation, and once at the end). ``tensorboard --logdir
OUT/runs`` then shows every run of a bench side by side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganzoo.errors import UsageError

FOLDER = "tensorboard"
INSTALL_HINT = "pip install 'ganzoo[tensorboard]' (or: pip install tensorboard)"


def available() -> bool:
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        return False
    return True


def check_available() -> None:
    """A one-line error before any work when the extra is not installed."""
    if not available():
        raise UsageError(f"--tensorboard needs the tensorboard package: {INSTALL_HINT}")


class TensorBoardLog:
    """A SummaryWriter on ``run_dir/tensorboard`` with the few calls the harness makes."""

    def __init__(self, run_dir: str | Path):
        check_available()
        from torch.utils.tensorboard import SummaryWriter

        self.dir = Path(run_dir) / FOLDER
        self.writer = SummaryWriter(log_dir=str(self.dir), flush_secs=30)

    def losses(self, step: int, losses: dict[str, float]) -> None:
        for name, value in losses.items():
            self.writer.add_scalar(f"loss/{name}", float(value), int(step))

    def metrics(self, step: int, values: dict[str, float], images_seen: int, wall_time_s: float) -> None:
        for name, value in values.items():
            self.writer.add_scalar(f"eval/{name}", float(value), int(step))
        self.writer.add_scalar("eval/images_seen", float(images_seen), int(step))
        self.writer.add_scalar("eval/wall_time_s", float(wall_time_s), int(step))

    def image(self, tag: str, image, step: int) -> None:
        """A PIL image (or an HxWx3 uint8 array)."""
        array = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image)
        self.writer.add_image(tag, array, int(step), dataformats="HWC")

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


def sample_grid(model, split, table, seed: int, n_captions: int = 4, n_z: int = 4):
    """A small grid (PIL) of ``model``: the first captions of distinct images of ``split``, fixed z per column."""
    from ganzoo.grid import generate_rows, render_grid

    n_captions = max(1, min(n_captions, len(split)))
    step = max(len(split) // n_captions, 1)
    cap_ids = [int(split.caption_ids[i * step, 0]) for i in range(n_captions)]
    captions = [split.captions[c] for c in cap_ids]
    model.eval()
    try:
        rows = generate_rows(model, table[cap_ids], n_z, seed=seed, captions=captions)
    finally:
        model.train()  # called from the training loop
    return render_grid(rows, captions)
