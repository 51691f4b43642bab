"""How much the shapes data varies for a fixed caption, in the collapse check's units.

The bench's collapse check (ganzoo/collapse.py) calls a run collapsed when its samples'
pixel std over z, for a fixed caption, is under 0.01 (pixels in [-1, 1]). This prints the
same measure for the data: C random captions, each rendered with J random jitters (the
dataset's own jitter ranges), std over the jitters, mean over captions, channels and pixels.

    python experiments/shapes_caption_spread.py [--size 32] [--captions 8] [--jitters 8] [--seed 0]
"""

from __future__ import annotations

import argparse

import torch

from ganzoo_shapes.attributes import ATTRIBUTE_VALUES, ATTRIBUTES, POSITION_JITTER, SIZE_JITTER
from ganzoo_shapes.render import render


def caption_spread(size: int, captions: int, jitters: int, seed: int) -> float:
    g = torch.Generator().manual_seed(seed)
    attrs = {a: torch.randint(len(ATTRIBUTE_VALUES[a]), (captions,), generator=g).repeat_interleave(jitters)
             for a in ATTRIBUTES}
    u = torch.rand(captions * jitters, 3, generator=g) * 2 - 1
    jitter = u * torch.tensor([POSITION_JITTER, POSITION_JITTER, SIZE_JITTER])
    images = render(attrs, size, jitter).float() / 127.5 - 1
    return images.view(captions, jitters, 3, size, size).std(dim=1).mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--captions", type=int, default=8)
    parser.add_argument("--jitters", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    spread = caption_spread(args.size, args.captions, args.jitters, args.seed)
    print(f"shapes at {args.size} px: pixel std over jitter for a fixed caption = {spread:.4f} "
          f"({args.captions} captions x {args.jitters} jitters, seed {args.seed})")


if __name__ == "__main__":
    main()
