"""Time of FID from N Inception-sized features: ganzoo's :func:`ganzoo.fidelity.frechet_distance`
vs torch-fidelity's own ``fid_statistics_to_metric`` (``np.linalg.eigvals`` of sigma1 sigma2), on
the same synthetic 2048-d features; wall and process CPU seconds, and the relative difference.

    .venv/bin/python benchmarks/fid_timing.py --samples 600 2500
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def _timed(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, round(time.perf_counter() - t, 3), round(time.process_time() - c, 3)


def main(argv=None) -> int:
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    from ganzoo.fidelity import KEY_FID, frechet_distance

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, nargs="+", default=[600])
    ap.add_argument("--dim", type=int, default=2048)
    args = ap.parse_args(argv)
    g = torch.Generator().manual_seed(0)
    mix = torch.randn(args.dim, args.dim, generator=g) / args.dim ** 0.5
    for n in args.samples:
        f1 = torch.relu(torch.randn(n, args.dim, generator=g) @ mix)
        f2 = torch.relu(torch.randn(n, args.dim, generator=g) @ mix + 0.2)
        ours, wall, cpu = _timed(lambda: frechet_distance(f1, f2))
        theirs, t_wall, t_cpu = _timed(lambda: fid_statistics_to_metric(
            fid_features_to_statistics(f1), fid_features_to_statistics(f2), verbose=False)[KEY_FID])
        print(json.dumps({"samples": n, "dim": args.dim, "threads": torch.get_num_threads(),
                          "ganzoo_s": {"wall": wall, "cpu": cpu}, "torch_fidelity_s": {"wall": t_wall, "cpu": t_cpu},
                          "fid": ours, "relative_difference": abs(ours - theirs) / abs(theirs)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
