"""Speed and memory: training throughput (from the harness), sampling throughput, peak memory.

Every figure carries the device name, dtype and batch size it was measured with.
"""

from __future__ import annotations

import time

import torch

from ganzoo.metrics import Metric, MetricResult, SampleStream

WARMUP_BATCHES = 1


def device_name(device: str) -> str:
    dev = torch.device(device)
    if dev.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(dev)
    return f"{dev.type} ({torch.get_num_threads()} threads)"


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda" and torch.cuda.is_available():
        torch.cuda.synchronize(torch.device(device))


def _dtype(model) -> str:
    for net in model.networks().values():
        for p in net.parameters():
            return str(p.dtype).removeprefix("torch.")
    return "float32"


class TrainThroughput(Metric):
    name = "train-throughput"
    description = "Training images per second per stage, as measured by the training harness"

    def compute(self, ctx, shared):
        rates = (ctx.train_stats or {}).get("train_images_per_s")
        if not rates:
            return MetricResult(unavailable={self.name: "no training statistics recorded for this run "
                                                        "(train_stats lacks train_images_per_s)"})
        if not isinstance(rates, dict):
            rates = {"all": rates}
        info = {k: ctx.train_stats[k] for k in ("device", "dtype", "batch_size") if k in ctx.train_stats}
        return MetricResult(values={f"{self.name}.{stage}": float(v) for stage, v in rates.items()}, info=info)


class SampleThroughput(Metric):
    name = "sample-throughput"
    description = "Generated images per second (after warm-up, synchronised on GPU)"

    def compute(self, ctx, shared):
        stream = SampleStream(ctx, num_samples=ctx.num_samples + WARMUP_BATCHES * ctx.batch_size)
        with torch.no_grad():
            for _ in range(WARMUP_BATCHES):
                stream.next(ctx.batch_size)
            _sync(ctx.device)
            start = time.perf_counter()
            n = 0
            for batch in stream:
                n += len(batch.images)
            _sync(ctx.device)
            elapsed = time.perf_counter() - start
        return MetricResult(values={self.name: n / elapsed},
                            info={"device": device_name(ctx.device), "dtype": _dtype(ctx.model),
                                  "batch_size": int(ctx.batch_size), "images": n, "seconds": elapsed,
                                  "warmup_batches": WARMUP_BATCHES,
                                  "image_size": int(ctx.model.image_size)})


class PeakMemory(Metric):
    name = "peak-memory"
    description = "Peak memory in MB: CUDA max allocated on GPU, the process's peak anonymous memory on CPU"

    def compute(self, ctx, shared):
        values, info = {}, {"device": device_name(ctx.device), "dtype": _dtype(ctx.model),
                            "batch_size": int(ctx.batch_size)}
        if torch.device(ctx.device).type == "cuda" and torch.cuda.is_available():
            values[self.name] = torch.cuda.max_memory_allocated(torch.device(ctx.device)) / 2**20
            info["measure"] = "torch.cuda.max_memory_allocated since process start or last reset"
        else:
            from ganzoo.memory import peak_measure, process_peak_mb, process_peak_rss_mb

            values[self.name] = process_peak_mb()  # this run's process only (its sampled anonymous peak on Linux)
            info["measure"] = peak_measure()
            info["peak_rss_mb"] = process_peak_rss_mb()  # VmHWM: shared library pages included, page-cache dependent
        train = (ctx.train_stats or {}).get("peak_memory_mb")
        if train is not None:
            values[f"{self.name}.train"] = float(train)
            info["train"] = {k: ctx.train_stats[k] for k in ("device", "dtype", "batch_size") if k in ctx.train_stats}
        return MetricResult(values=values, info=info)


METRICS = (TrainThroughput, SampleThroughput, PeakMemory)
