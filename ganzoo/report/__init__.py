"""Benchmark and ablation reports (Markdown + self-contained HTML + PNG figures) from a results store."""

from ganzoo.report.build import (
    PAPER_NOT_COMPARABLE,
    STACKGAN_PAPER_ABLATION,
    build_ablation_report,
    build_report,
)

__all__ = ["PAPER_NOT_COMPARABLE", "STACKGAN_PAPER_ABLATION", "build_ablation_report", "build_report"]
