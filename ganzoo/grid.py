"""Sample grids: one row per caption (several z), stages side by side, captions written beside."""

from __future__ import annotations

import textwrap
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8 (B, 3, H, W)."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()


@torch.no_grad()
def generate_rows(model, text: torch.Tensor, n_per_caption: int, seed: int = 0,
                  captions: list[str] | None = None) -> list[list[torch.Tensor]]:
    """For each caption embedding: its images per stage, each (n, 3, S, S), with fixed z per column.

    ``captions`` (the strings ``text`` embeds) are required for word-level models."""
    from ganzoo.conditioning import condition

    g = torch.Generator().manual_seed(seed)
    z = model.sample_z(n_per_caption, generator=g)
    rows = []
    for i in range(text.shape[0]):
        t = text[i : i + 1].expand(n_per_caption, -1).to(model.device)
        t = condition(model, t, None if captions is None else [captions[i]] * n_per_caption)
        torch.manual_seed(seed + 1)  # CA's eps and any other sampling: reproducible per row
        rows.append([s.cpu() for s in model.generate_stages(t, z)])
    return rows


def render_grid(rows: list[list[torch.Tensor]], captions: list[str], cell: int | None = None,
                caption_width: int = 260) -> Image.Image:
    """A PIL image: caption | stage-1 images | stage-2 images ... for each row."""
    n_stages = len(rows[0])
    n = rows[0][0].shape[0]
    cell = cell or max(64, max(s.shape[-1] for s in rows[0]))
    pad = 4
    width = caption_width + n_stages * (n * (cell + pad) + 2 * pad)
    height = len(rows) * (cell + pad) + pad
    canvas = Image.new("RGB", (width, height), (200, 205, 220))  # not a shapes background colour
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    for r, (stages, caption) in enumerate(zip(rows, captions)):
        y = pad + r * (cell + pad)
        draw.multiline_text((pad, y + 2), "\n".join(textwrap.wrap(caption, 38)[:6]), fill=(0, 0, 0), font=font)
        x = caption_width
        for images in stages:
            up = F.interpolate(images.float(), size=(cell, cell), mode="nearest")
            for img in to_uint8(up):
                canvas.paste(Image.fromarray(img.permute(1, 2, 0).numpy()), (x, y))
                x += cell + pad
            x += 2 * pad
    return canvas


def save_grid(path: str | Path, rows, captions, **kw) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    render_grid(rows, captions, **kw).save(tmp, format="PNG")
    tmp.replace(path)
    return path
