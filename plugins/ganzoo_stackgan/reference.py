"""The StackGAN paper's own ablation figures, printed beside ganzoo's ablations of the same keys.

Inception scores on CUB from the StackGAN paper (Zhang et al., ICCV 2017), as gathered in
the project's reference notes, which quote them from secondary sources: they are not
checked against the paper's table. CUB birds at 64/256 px, scored by a birds-fine-tuned
Inception network: they show the direction the paper reports, never a target for shapes.
"""

from __future__ import annotations

NOTE = ("CUB Inception scores from the paper, not comparable to these shapes numbers. Quoted from "
        "secondary sources, not confirmed against the paper's own table; CUB birds at 64/256 px scored "
        "by a birds-fine-tuned Inception network. They show the direction the paper reports, not a target.")
TITLE = "StackGAN paper ablation (CUB, Inception score; secondary sources)"


def _table(*rows: tuple[str, float]) -> dict:
    return {"title": TITLE, "note": NOTE,
            "rows": [{"configuration": c, "inception score (CUB)": v} for c, v in rows]}


REFERENCE_ABLATIONS = {
    "ca": _table(("Stage-I 64 px, without CA", 2.66), ("Stage-I 64 px, with CA", 2.95),
                 ("StackGAN 256 px, with CA and text twice", 3.70), ("StackGAN 256 px, without CA", 3.31)),
    "stage": _table(("Stage-I 64 px, with CA", 2.95), ("StackGAN 256 px, with CA and text twice", 3.70)),
    "text_twice": _table(("StackGAN 256 px, with CA and text twice", 3.70),
                         ("StackGAN 256 px, without text twice", 3.45)),
}
