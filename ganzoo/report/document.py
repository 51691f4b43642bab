"""A report as a list of plain blocks, rendered by both markdown.py and html.py.

Building the content once and rendering it twice keeps report.md and report.html saying
exactly the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Paragraph:
    text: str
    css: str = ""  # HTML class, e.g. "answer" for the summary at the top


@dataclass
class Code:
    text: str


@dataclass
class Table:
    frame: pd.DataFrame  # cells already formatted as strings
    caption: str = ""


@dataclass
class Image:
    path: Path  # a PNG inside the report's output directory
    alt: str
    caption: str = ""
    lines: list[str] = field(default_factory=list)  # e.g. the captions of a sample grid's rows
    pixelated: bool = False  # small sample grids are enlarged without smoothing in HTML


@dataclass
class Details:
    """A folded section (``<details>`` in HTML and in Markdown): its title stays visible, its blocks open on a click."""

    title: str
    blocks: list = field(default_factory=list)


Block = Heading | Paragraph | Code | Table | Image | Details
