"""Benchmark and ablation reports (Markdown + self-contained HTML + PNG figures) from a results store."""

from ganzoo.report.build import build_ablation_report, build_report

__all__ = ["build_ablation_report", "build_report"]
