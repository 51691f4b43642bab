"""Captions of shape images: templates, synonyms, and the way back from a caption to attributes.

Every image gets one caption per template (K = 5). The synonyms a caption uses are a
fixed function of (attribute combination, template), independent of the dataset seed,
so the caption table has at most ``N_COMBINATIONS * K`` distinct strings and a given
combination is always described the same way. Synonym sets of different values never
share a word sequence, so each caption names exactly one combination: :func:`parse`
inverts :func:`caption_text`.
"""

from __future__ import annotations

import functools

import torch

from ganzoo_shapes.attributes import (ATTRIBUTE_VALUES, ATTRIBUTES, N_COMBINATIONS, combination_code,
                                      decode_combination_values)

#: attribute -> value -> words usable for it (the first is the plain name)
SYNONYMS: dict[str, dict[str, list[str]]] = {
    "shape": {
        "circle": ["circle", "disc"],
        "square": ["square", "block"],
        "triangle": ["triangle", "wedge"],
        "diamond": ["diamond", "rhombus", "lozenge"],
        "cross": ["cross", "plus sign"],
    },
    "colour": {
        "red": ["red", "crimson", "scarlet"],
        "green": ["green", "emerald"],
        "blue": ["blue", "cobalt"],
        "yellow": ["yellow", "lemon"],
        "purple": ["purple", "violet"],
        "orange": ["orange", "tangerine"],
        "cyan": ["cyan", "turquoise", "aqua"],
        "pink": ["pink", "rose"],
    },
    "size": {
        "small": ["small", "tiny", "little"],
        "large": ["large", "big", "huge"],
    },
    # phrases that follow a noun: "a red circle <position>"
    "position": {
        "top left": ["in the top left corner", "at the upper left", "in the top-left"],
        "top centre": ["at the top", "at the top centre", "in the upper middle"],
        "top right": ["in the top right corner", "at the upper right", "in the top-right"],
        "middle left": ["on the left", "at the middle left", "on the left side"],
        "centre": ["in the centre", "in the middle", "at the center"],
        "middle right": ["on the right", "at the middle right", "on the right side"],
        "bottom left": ["in the bottom left corner", "at the lower left", "in the bottom-left"],
        "bottom centre": ["at the bottom", "at the bottom centre", "in the lower middle"],
        "bottom right": ["in the bottom right corner", "at the lower right", "in the bottom-right"],
    },
    "background": {
        "white": ["white", "bright white"],
        "grey": ["grey", "gray"],
        "black": ["black", "jet-black"],
    },
}
assert all(list(SYNONYMS[a]) == ATTRIBUTE_VALUES[a] for a in ATTRIBUTES)

TEMPLATES: list[str] = [
    "{a} {size} {colour} {shape} {position} on a {background} background",
    "{a} {size} {colour} {shape} {position}, {background} backdrop",
    "{background} background with {a} {size} {colour} {shape} {position}",
    "there is {a} {colour} {shape} {position}; it is {size} and the background is {background}",
    "{a} {size} {shape} coloured {colour}, {position}, against {background}",
]
CAPTIONS_PER_IMAGE = len(TEMPLATES)


def _article(template: str, words: dict[str, str]) -> str:
    nxt = template.split("{a} ", 1)[1].split("}", 1)[0].lstrip("{")
    return "an" if words[nxt][0] in "aeiou" else "a"


def _mix(key: int) -> int:
    """A fixed 64-bit integer hash (splitmix64 finaliser): synonym choice per key."""
    z = (key * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


def caption_text(combination: int, template: int) -> str:
    """The caption of one attribute combination under one template."""
    values = decode_combination_values(combination)
    h = _mix(combination * CAPTIONS_PER_IMAGE + template)
    words = {}
    for i, a in enumerate(ATTRIBUTES):
        options = SYNONYMS[a][ATTRIBUTE_VALUES[a][values[a]]]
        words[a] = options[(h >> (8 * i)) % len(options)]
    text = TEMPLATES[template]
    return text.format(a=_article(text, words), **words)


def caption(attrs: dict[str, torch.Tensor]) -> tuple[list[str], torch.Tensor]:
    """Deduplicated captions of a batch: (unique strings, ids (B, K) indexing them)."""
    code = combination_code(attrs)
    keys = code.view(-1, 1) * CAPTIONS_PER_IMAGE + torch.arange(CAPTIONS_PER_IMAGE)
    unique, ids = torch.unique(keys, return_inverse=True)
    texts = [caption_text(k // CAPTIONS_PER_IMAGE, k % CAPTIONS_PER_IMAGE) for k in unique.tolist()]
    return texts, ids.reshape(-1, CAPTIONS_PER_IMAGE).long()


@functools.cache
def _caption_index() -> dict[str, int]:
    return {caption_text(c, t): c for c in range(N_COMBINATIONS) for t in range(CAPTIONS_PER_IMAGE)}


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def parse(text: str) -> dict[str, int] | None:
    """Attribute codes named by a caption of this dataset, or None for any other text.

    Matching ignores case and repeated whitespace; otherwise the caption must be one the
    dataset generates (this is a lookup, not a language parser).
    """
    combination = _caption_index().get(normalise(text))
    if combination is None:
        return None
    return decode_combination_values(combination)


def parse_names(text: str) -> dict[str, str] | None:
    """Like :func:`parse`, with value names instead of codes."""
    codes = parse(text)
    return None if codes is None else {a: ATTRIBUTE_VALUES[a][v] for a, v in codes.items()}
