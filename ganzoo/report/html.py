"""Render report blocks as one self-contained HTML file: inline CSS, images as data URIs."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from ganzoo.report.document import Block, Code, Details, Heading, Image, Paragraph, Table

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 1.5em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
.scroll { max-width: 100%; overflow-x: auto; }
details { margin: 0.8em 0; border-top: 1px solid #ddd; padding-top: 0.3em; }
summary { cursor: pointer; }
summary h2 { display: inline; font-size: 1.3em; }
p.answer { font-size: 1.08em; background: #f4f8ff; border-left: 4px solid #4a7bd0; padding: 0.6em 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
tr:nth-child(even) td { background: #fafafa; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 0.3em 0; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; white-space: pre-wrap; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; border: 1px solid #ddd; }
img.pixelated { image-rendering: pixelated; min-width: 256px; }
figcaption { font-size: 0.9em; color: #444; }
code { background: #f6f6f6; padding: 0 0.2em; }
"""


def data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _inline(text: str) -> str:
    """Escape text; `code` and **bold** are the only inline markup the blocks use."""
    pieces = html.escape(text).split("`")
    text = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)


def _table(block: Table) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in block.frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in block.frame.itertuples(index=False, name=None)
    )
    caption = f"<caption>{_inline(block.caption)}</caption>" if block.caption else ""
    return f'<div class="scroll"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def _image(block: Image) -> str:
    css_class = ' class="pixelated"' if block.pixelated else ""
    parts = [f'<figure><img{css_class} src="{data_uri(block.path)}" alt="{html.escape(block.alt)}">']
    if block.caption or block.lines:
        parts.append("<figcaption>")
        if block.caption:
            parts.append(_inline(block.caption))
        if block.lines:
            parts.append("<ol>" + "".join(f"<li>{html.escape(line)}</li>" for line in block.lines) + "</ol>")
        parts.append("</figcaption>")
    parts.append("</figure>")
    return "".join(parts)


def _body(blocks: list[Block]) -> list[str]:
    body: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Details):
            body.append(f"<details><summary><h2>{_inline(block.title)}</h2></summary>")
            body += _body(block.blocks)
            body.append("</details>")
        elif isinstance(block, Paragraph):
            css = f' class="{block.css}"' if getattr(block, "css", "") else ""
            body.append(f"<p{css}>{_inline(block.text)}</p>")
        elif isinstance(block, Code):
            body.append(f"<pre>{html.escape(block.text)}</pre>")
        elif isinstance(block, Table):
            body.append(_table(block))
        elif isinstance(block, Image):
            body.append(_image(block))
        else:  # pragma: no cover
            raise TypeError(f"cannot render {type(block).__name__} as HTML")
    return body


def render_html(blocks: list[Block], title: str) -> str:
    body = _body(blocks)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
