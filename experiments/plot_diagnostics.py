"""Plot StackGAN's training diagnostics (``diagnostics=true``) of several runs side by side.

Usage: python experiments/plot_diagnostics.py --out reports/ca-diagnosis LABEL=RUN_DIR [LABEL=RUN_DIR ...]

Reads each run's ``log.jsonl`` and writes ``diagnostics.csv`` (one row per logged step and
run) and ``diagnostics.png`` (one panel per statistic, one line per run) into ``--out``.
Run directories are named in the CSV by their label only, never by their path.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

PANELS = [
    ("ca_mu_spread", "std of CA mu across captions (text signal)"),
    ("ca_sigma", "mean CA sigma (noise)"),
    ("kl", "KL term"),
    ("ca_dead", "share of dead CA units"),
    ("g_dead", "share of dead channels, G's last block"),
    ("img_spread", "pixel std across the batch (fakes)"),
    ("d_blank_logit", "D logit on a blank canvas"),
    ("d_fake_logit", "D logit on fakes"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR")
    args = parser.parse_args()
    frames = []
    for item in args.runs:
        label, _, run_dir = item.partition("=")
        records = [json.loads(line) for line in (Path(run_dir) / "log.jsonl").read_text().splitlines()]
        frame = pd.DataFrame(records)
        frame.insert(0, "run", label)
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    args.out.mkdir(parents=True, exist_ok=True)
    data.to_csv(args.out / "diagnostics.csv", index=False)
    panels = [(k, t) for k, t in PANELS if k in data.columns]
    cols = 4
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, (key, title) in zip(axes.flat, panels):
        for label, group in data.groupby("run", sort=False):
            ax.plot(group["step"], group[key], label=label, lw=1.2)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        if key in ("ca_mu_spread", "kl", "img_spread"):
            ax.set_yscale("log")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / "diagnostics.png", dpi=110)
    print(f"wrote {args.out / 'diagnostics.csv'} and {args.out / 'diagnostics.png'}")


if __name__ == "__main__":
    main()
