"""HTML report of an evaluation: the paper's tables and figures plus wall clock."""

from rhocat.report.html import build_report, render_report

__all__ = ["build_report", "render_report"]
