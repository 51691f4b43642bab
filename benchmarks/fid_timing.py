"""Time of FID and KID from N Inception-sized features, and of both beside the Inception forward passes.

Features only (always): ganzoo's FID (:func:`ganzoo_metrics.fidelity.frechet_distance`) vs
torch-fidelity's ``fid_statistics_to_metric`` (``np.linalg.eigvals`` of sigma1 sigma2), and
ganzoo's KID (:func:`ganzoo_metrics.kid.kid`) vs torch-fidelity's ``kid_features_to_metric``
(100 subsets of min(1000, N), the same subsets), on the same synthetic 2048-d features; wall
and process CPU seconds, and the relative differences.

``--forward``: what an evaluation at N pays. torch-fidelity's InceptionV3 (the offline FID
weights, or torch-fidelity's downloaded file if present; channels-last as
:func:`ganzoo_metrics.inception_offline.speed_up` runs it) over N real images (the shapes
test split at ``--image-size``) and N "generated" ones (uniform uint8 noise), batch 50, then
FID and KID (ganzoo's) of those features. Per round: the forward passes alone (real +
generated), FID, KID, and the ratio (forward passes + FID + KID) / forward passes, all timed
in the same minutes; torch-fidelity's KID on the same features once at the end (``--no-tf-kid``
to skip). Rendering the real images and loading the weights are not timed.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fid_timing.py --samples 600 2500
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fid_timing.py --samples 600 --forward --rounds 2 --json OUT.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

BATCH = 50
KID_SUBSETS = 100  # torch-fidelity's default, as ganzoo's evaluation uses it


def _timed(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, round(time.perf_counter() - t, 3), round(time.process_time() - c, 3)


def _secs(wall: float, cpu: float) -> dict[str, float]:
    return {"wall": wall, "cpu": cpu}


def features_only(n: int, dim: int, g: torch.Generator, seed: int) -> dict:
    """FID and KID of synthetic features: ganzoo's vs torch-fidelity's, times and differences."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, kid_features_to_metric

    from ganzoo_metrics.fidelity import KEY_FID, KID_SUBSET_SIZE, frechet_distance
    from ganzoo_metrics.kid import kid

    mix = torch.randn(dim, dim, generator=g) / dim ** 0.5
    f1 = torch.relu(torch.randn(n, dim, generator=g) @ mix)
    f2 = torch.relu(torch.randn(n, dim, generator=g) @ mix + 0.2)
    m = min(KID_SUBSET_SIZE, n)
    fid, wall, cpu = _timed(lambda: frechet_distance(f1, f2))
    tf_fid, t_wall, t_cpu = _timed(lambda: fid_statistics_to_metric(
        fid_features_to_statistics(f1), fid_features_to_statistics(f2), verbose=False)[KEY_FID])
    (kid_mean, _), k_wall, k_cpu = _timed(lambda: kid(f1, f2, subsets=KID_SUBSETS, subset_size=m, seed=seed))
    tf_kid, tk_wall, tk_cpu = _timed(lambda: kid_features_to_metric(
        f1, f2, kid_subsets=KID_SUBSETS, kid_subset_size=m, rng_seed=seed, verbose=False)[KEY_METRIC_KID_MEAN])
    return {"samples": n, "dim": dim, "threads": torch.get_num_threads(),
            "ganzoo_s": _secs(wall, cpu), "torch_fidelity_s": _secs(t_wall, t_cpu),
            "fid": fid, "relative_difference": abs(fid - tf_fid) / abs(tf_fid),
            "kid_subsets": KID_SUBSETS, "kid_subset_size": m,
            "ganzoo_kid_s": _secs(k_wall, k_cpu), "torch_fidelity_kid_s": _secs(tk_wall, tk_cpu),
            "kid": kid_mean, "kid_relative_difference": abs(kid_mean - tf_kid) / abs(tf_kid)}


def _inception(cache_dir: Path):
    """torch-fidelity's InceptionV3 (pool3) with the weights an evaluation would pick, sped up."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    from ganzoo_metrics import fidelity, inception_offline

    path = fidelity.torch_fidelity_download_path()
    if not path.is_file():
        path = inception_offline.converted_weights(cache_dir)
    if path is None:
        raise SystemExit(fidelity.NO_INCEPTION)
    extractor = FeatureExtractorInceptionV3(fidelity.INCEPTION_EXTRACTOR, ["2048"],
                                            feature_extractor_weights_path=str(path))
    extractor.eval()
    return extractor, inception_offline.speed_up(extractor), path.name


@torch.no_grad()
def _features(extractor, batches: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([extractor(x)[0] for x in batches])


def with_forward_passes(n: int, image_size: int, rounds: int, cache_dir: Path, seed: int, tf_kid: bool) -> dict:
    """Forward passes over N real + N generated images, then FID and KID; per-round times."""
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, kid_features_to_metric

    from ganzoo_metrics.fidelity import KID_SUBSET_SIZE, RealImages, frechet_distance
    from ganzoo_metrics.kid import kid
    from ganzoo_shapes import make_shapes

    extractor, speed, weights = _inception(cache_dir)
    real = RealImages(make_shapes(n_train=1, n_test=n).split("test"), image_size, n, seed=seed)
    real_batches = [torch.stack(real.__getitems__(list(range(i, min(i + BATCH, n))))) for i in range(0, n, BATCH)]
    g = torch.Generator().manual_seed(seed)
    fake_batches = [torch.randint(0, 256, (len(b), 3, image_size, image_size), generator=g, dtype=torch.uint8)
                    for b in real_batches]
    m = min(KID_SUBSET_SIZE, n)
    _features(extractor, real_batches[:1])  # warm-up: first-call oneDNN set-up
    out_rounds = []
    for _ in range(rounds):
        fr, r_wall, r_cpu = _timed(lambda: _features(extractor, real_batches))
        ff, f_wall, f_cpu = _timed(lambda: _features(extractor, fake_batches))
        fid, fid_wall, fid_cpu = _timed(lambda: frechet_distance(ff, fr))
        (kid_mean, kid_std), kid_wall, kid_cpu = _timed(lambda: kid(ff, fr, subsets=KID_SUBSETS, subset_size=m,
                                                                      seed=seed))
        fwd = {"wall": r_wall + f_wall, "cpu": r_cpu + f_cpu}
        metrics = {"wall": fid_wall + kid_wall, "cpu": fid_cpu + kid_cpu}
        out_rounds.append({
            "forward_real_s": _secs(r_wall, r_cpu), "forward_generated_s": _secs(f_wall, f_cpu),
            "forward_passes_s": {k: round(v, 3) for k, v in fwd.items()},
            "fid_s": _secs(fid_wall, fid_cpu), "kid_s": _secs(kid_wall, kid_cpu),
            "forward_fid_kid_s": {k: round(fwd[k] + metrics[k], 3) for k in fwd},
            "ratio": {k: round((fwd[k] + metrics[k]) / fwd[k], 4) for k in fwd},
            "fid": round(fid, 4), "kid": kid_mean, "kid_std": kid_std})
    out = {"samples": n, "image_size": image_size, "batch_size": BATCH, "threads": torch.get_num_threads(),
           "inception": {"weights": weights, "forward": speed}, "kid_subsets": KID_SUBSETS, "kid_subset_size": m,
           "rounds": out_rounds}
    if tf_kid:
        theirs, wall, cpu = _timed(lambda: kid_features_to_metric(ff, fr, kid_subsets=KID_SUBSETS, kid_subset_size=m,
                                                                  rng_seed=seed, verbose=False))
        out["torch_fidelity_kid_s"] = _secs(wall, cpu)
        out["torch_fidelity_kid"] = theirs[KEY_METRIC_KID_MEAN]
        out["kid_relative_difference"] = abs(kid_mean - out["torch_fidelity_kid"]) / abs(out["torch_fidelity_kid"])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, nargs="+", default=[600])
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=0, help="features, images and KID subsets")
    ap.add_argument("--forward", action="store_true", help="also time the Inception forward passes and the ratio")
    ap.add_argument("--rounds", type=int, default=1, help="--forward rounds")
    ap.add_argument("--image-size", type=int, default=32, help="--forward: image size (stackgan's cpu preset: 32)")
    ap.add_argument("--cache-dir", type=Path, help="--forward: where the converted offline weights are cached "
                                                   "(default: $GANZOO_CACHE or ~/.cache/ganzoo)")
    ap.add_argument("--no-tf-kid", dest="tf_kid", action="store_false",
                    help="--forward: skip torch-fidelity's KID on the same features")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    ap.add_argument("--json", type=Path, help="write the figures here (one JSON list)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(args.seed)
    results = []
    for n in args.samples:
        load = os.getloadavg()[0]
        res = features_only(n, args.dim, g, args.seed)
        res["loadavg_start_end"] = [round(load, 2), round(os.getloadavg()[0], 2)]
        print(json.dumps(res), flush=True)
        results.append(res)
        if args.forward:
            from ganzoo.text import default_cache_dir

            load = os.getloadavg()[0]
            res = with_forward_passes(n, args.image_size, args.rounds, args.cache_dir or default_cache_dir(),
                                      args.seed, args.tf_kid)
            res["loadavg_start_end"] = [round(load, 2), round(os.getloadavg()[0], 2)]
            print(json.dumps(res), flush=True)
            results.append(res)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
