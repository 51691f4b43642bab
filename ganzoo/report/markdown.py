"""Render report blocks as GitHub-flavoured Markdown (images linked relative to the report)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ganzoo.report.document import Block, Code, Details, Heading, Image, Paragraph, Table


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame) -> str:
    """A pipe table; written here because DataFrame.to_markdown needs the `tabulate` package."""
    header = [_cell(c) for c in frame.columns]
    body = [[_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(header)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |" for row in body]
    return "\n".join(lines)


def render_markdown(blocks: list[Block], out_dir: Path) -> str:
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Details):  # GitHub renders <details> with Markdown inside
            inner = render_markdown(block.blocks, out_dir).rstrip("\n")
            parts.append(f"<details><summary><h2>{block.title}</h2></summary>\n\n{inner}\n\n</details>")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Code):
            parts.append(f"```\n{block.text}\n```")
        elif isinstance(block, Table):
            text = markdown_table(block.frame)
            parts.append(f"{block.caption}\n\n{text}" if block.caption else text)
        elif isinstance(block, Image):
            target = Path(os.path.relpath(block.path, out_dir)).as_posix()
            text = f"![{block.alt}]({target})"
            if block.caption:
                text += f"\n\n{block.caption}"
            if block.lines:
                text += "\n\n" + "\n".join(f"{i}. {_cell(line)}" for i, line in enumerate(block.lines, 1))
            parts.append(text)
        else:  # pragma: no cover - a new block type without a renderer
            raise TypeError(f"cannot render {type(block).__name__} as markdown")
    return "\n\n".join(parts) + "\n"
