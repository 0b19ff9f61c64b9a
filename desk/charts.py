"""Server-side SVG bar charts for the report page: no chart library, no script, nothing from a CDN."""

from __future__ import annotations

from html import escape
from typing import Optional, Sequence, Tuple

from markupsafe import Markup

BAR_HEIGHT, GAP, LABEL_WIDTH, BAR_WIDTH = 18, 6, 190, 320


def bar_chart(rows: Sequence[Tuple[str, float]], title: str, percent: bool = False, colour: str = "#1d4ed8",
              maximum: Optional[float] = None) -> Markup:
    """Horizontal bars, one per (label, value); values as numbers or percentages of 1."""
    if not rows:
        return Markup("")
    top = maximum or max((value for _, value in rows), default=0) or 1
    height = len(rows) * (BAR_HEIGHT + GAP) + GAP
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{LABEL_WIDTH + BAR_WIDTH + 70}" '
             f'height="{height}" viewBox="0 0 {LABEL_WIDTH + BAR_WIDTH + 70} {height}" style="max-width:100%;height:auto" '
             f'xmlns="http://www.w3.org/2000/svg" font-size="12" font-family="sans-serif">'
             f"<title>{escape(title)}</title>"]
    for index, (label, value) in enumerate(rows):
        y = GAP + index * (BAR_HEIGHT + GAP)
        width = max(1, round(BAR_WIDTH * (value / top))) if value else 0
        shown = f"{value * 100:.0f}%" if percent else f"{value:g}"
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + 13}" text-anchor="end">{escape(str(label))[:40]}</text>'
                     f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{BAR_HEIGHT}" fill="{colour}"/>'
                     f'<text x="{LABEL_WIDTH + width + 4}" y="{y + 13}">{shown}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
