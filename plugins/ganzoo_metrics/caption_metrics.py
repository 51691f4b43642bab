"""Does the image show what its caption says? Caption accuracy and R-precision, read by the
shapes attribute evaluator (:mod:`ganzoo_metrics.evaluator`).

A caption's attributes come from the split: caption ``c`` describes the images whose row of
``caption_ids`` contains it; an attribute all those images share is what the caption says
(:func:`caption_attribute_table`), otherwise the caption does not pin it (-1) and it is
left out of that caption's checks.

* ``caption-accuracy``: per attribute, the fraction of generated images whose predicted
  value equals the caption's; ``exact`` requires every pinned attribute. Each comes with
  its chance level (1 / number of values; the product for ``exact``) and a normalised
  score (acc - chance) / (1 - chance). On ``shapes`` the exact match is also split into
  ``unseen`` / ``seen`` by whether the caption's image has a held-out (shape, colour) pair.
* ``r-precision``: the generating caption is ranked against 99 other captions of the split
  (drawn with a generator seeded by ``ctx.seed``; each differs from it in at least one
  attribute) by the evaluator's log-likelihood of the caption's attributes,
  sum over pinned attributes of log p(value | image); a hit is a strictly higher score than
  all 99. Chance is 1/100.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganzoo.metrics import Metric, MetricResult, SampleStream, memo

R_CANDIDATES = 100


def caption_attribute_table(split) -> dict[str, torch.Tensor]:
    """{attribute: LongTensor (len(captions),)}: the value a caption states, or -1."""
    n_caps = len(split.captions)
    rows = split.caption_ids.long()
    cap = rows.reshape(-1)
    table = {}
    for a, values in split.attributes.items():
        v = values.long().unsqueeze(1).expand_as(rows).reshape(-1)
        lo = torch.full((n_caps,), 1 << 30, dtype=torch.long).scatter_reduce(0, cap, v, "amin")
        hi = torch.full((n_caps,), -1, dtype=torch.long).scatter_reduce(0, cap, v, "amax")
        table[a] = torch.where((lo == hi) & (hi >= 0), hi, torch.full_like(hi, -1))
    return table


def evaluator_scores(ctx, shared) -> dict:
    """Per-attribute log-probabilities of every generated sample, computed once per evaluate()."""
    from ganzoo_metrics import evaluator

    def run():
        net = evaluator.shipped(str(ctx.device))
        caption_ids, image_indices, logp = [], [], {a: [] for a in net.attribute_values}
        with torch.no_grad():
            for batch in SampleStream(ctx):
                _, logits = net(batch.images.to(ctx.device))
                for a, lg in logits.items():
                    logp[a].append(F.log_softmax(lg.float(), 1).cpu())
                caption_ids.append(batch.caption_ids)
                image_indices.append(batch.image_indices)
        return {"caption_ids": torch.cat(caption_ids), "image_indices": torch.cat(image_indices),
                "log_probs": {a: torch.cat(v) for a, v in logp.items()},
                "table": caption_attribute_table(ctx.split)}

    return memo(shared, "evaluator:scores", run)


def _info(ctx) -> dict:
    from ganzoo_metrics import evaluator

    return {"samples": ctx.sample_info(), "evaluator": str(evaluator.SHIPPED_WEIGHTS),
            "evaluator_input_size": evaluator.INPUT_SIZE}


class CaptionAccuracy(Metric):
    name = "caption-accuracy"
    description = "Attributes of generated images (shapes evaluator) that match their caption, per attribute and exact"

    def compute(self, ctx, shared):
        from ganzoo_metrics import evaluator

        reason = evaluator.unavailable_reason(ctx)
        if reason:
            return MetricResult(unavailable={self.name: reason})
        s = evaluator_scores(ctx, shared)
        values: dict[str, float] = {}
        all_ok = torch.ones(len(s["caption_ids"]), dtype=torch.bool)
        exact_chance = 1.0
        for a, logp in s["log_probs"].items():
            target = s["table"][a][s["caption_ids"]]
            pinned = target >= 0
            ok = (logp.argmax(1) == target) | ~pinned
            all_ok &= ok
            chance = 1.0 / logp.shape[1]
            exact_chance *= chance
            acc = float(ok[pinned].float().mean()) if pinned.any() else float("nan")
            values.update({f"{self.name}.{a}": acc, f"{self.name}.{a}.chance": chance,
                           f"{self.name}.{a}.normalised": (acc - chance) / (1 - chance)})
        normalised = [v for k, v in values.items() if k.endswith(".normalised") and v == v]
        # the weakest attribute decides whether a model "follows the caption": the mean and the
        # minimum of the normalised accuracies make tuning criteria that no single attribute dominates
        if normalised:
            values[f"{self.name}.mean_normalised"] = sum(normalised) / len(normalised)
            values[f"{self.name}.min_normalised"] = min(normalised)
        exact = float(all_ok.float().mean())
        values.update({f"{self.name}.exact": exact, f"{self.name}.exact.chance": exact_chance,
                       f"{self.name}.exact.normalised": (exact - exact_chance) / (1 - exact_chance)})
        unseen = getattr(ctx.split, "unseen", None)
        info = _info(ctx)
        if unseen is not None:
            flag = torch.as_tensor(unseen, dtype=torch.bool)[s["image_indices"]]
            for part, sel in (("unseen", flag), ("seen", ~flag)):
                if sel.any():
                    values[f"{self.name}.exact.{part}"] = float(all_ok[sel].float().mean())
                    info[f"samples_{part}"] = int(sel.sum())
        return MetricResult(values=values, info=info)


def draw_distractors(table: dict[str, torch.Tensor], caption_ids: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    """(N, k) caption ids, each differing from its row's caption in at least one attribute."""
    attrs = torch.stack(list(table.values()), 1)  # (n_captions, n_attributes)
    pool = torch.nonzero((attrs >= 0).any(1)).squeeze(1)
    g = torch.Generator().manual_seed(int(seed) + 2)
    out = torch.empty(len(caption_ids), k, dtype=torch.long)
    todo = torch.arange(len(caption_ids))
    for _ in range(100):
        if len(todo) == 0:
            return out
        cand = pool[torch.randint(len(pool), (len(todo), 4 * k), generator=g)]
        differs = (attrs[cand] != attrs[caption_ids[todo]].unsqueeze(1)).any(2)
        enough = differs.sum(1) >= k
        order = torch.argsort((~differs).to(torch.int8), dim=1, stable=True)[:, :k]  # valid ones first
        chosen = torch.gather(cand, 1, order)
        out[todo[enough]] = chosen[enough]
        todo = todo[~enough]
    raise RuntimeError("could not find enough distinct captions for R-precision")


class RPrecision(Metric):
    name = "r-precision"
    description = f"Generating caption ranked first among {R_CANDIDATES} by the shapes evaluator's likelihood"

    def compute(self, ctx, shared):
        from ganzoo_metrics import evaluator

        reason = evaluator.unavailable_reason(ctx)
        if reason:
            return MetricResult(unavailable={self.name: reason})
        s = evaluator_scores(ctx, shared)
        table, caps = s["table"], s["caption_ids"]
        candidates = torch.cat([caps.unsqueeze(1), draw_distractors(table, caps, R_CANDIDATES - 1, ctx.seed)], 1)
        score = torch.zeros(candidates.shape, dtype=torch.float64)
        for a, logp in s["log_probs"].items():
            value = table[a][candidates]
            picked = torch.gather(logp.double(), 1, value.clamp_min(0))
            score += torch.where(value >= 0, picked, torch.zeros_like(picked))
        hits = score[:, 0] > score[:, 1:].max(1).values
        info = dict(_info(ctx), candidates=R_CANDIDATES)
        return MetricResult(values={self.name: float(hits.float().mean()), f"{self.name}.chance": 1 / R_CANDIDATES},
                            info=info)


METRICS = (CaptionAccuracy, RPrecision)
