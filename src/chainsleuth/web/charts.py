"""Small charts drawn server-side as inline SVG: no chart library, no script, printable, readable without colour.

Each chart carries a ``<title>`` and ``<desc>`` and every bar its own ``<title>`` (a tooltip and what a screen
reader announces), and the page shows the same numbers in a table next to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#2f5d8a", "#c0692c", "#4f8a4b", "#8a4f7d", "#7a7a2f")


@dataclass(frozen=True)
class Series:
    """One named series of values, aligned with the chart's labels."""

    name: str
    values: Sequence[float]


def _compact(value: float) -> str:
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}"


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    width: int = 720,
    height: int = 240,
    unit: str = "",
) -> Markup:
    """Grouped vertical bars, one group per label, with a y axis of four ticks and a legend."""
    left, right, top, bottom = 56, 12, 28, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for s in series for v in s.values), default=0.0) or 1.0
    groups = max(len(labels), 1)
    group_w = plot_w / groups
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'aria-labelledby="chart-title">',
        f'<title id="chart-title">{escape(title)}</title>',
        f"<desc>{escape(title)}: {len(labels)} periods, series {escape(', '.join(s.name for s in series))}</desc>",
    ]
    for tick in range(5):
        value = peak * tick / 4
        y = top + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{_compact(value)}</text>')
    label_every = max(1, groups // 8)
    for index, label in enumerate(labels):
        x0 = left + index * group_w + group_w * 0.1
        for number, one in enumerate(series):
            value = one.values[index] if index < len(one.values) else 0.0
            bar_h = plot_h * value / peak
            x = x0 + number * bar_w
            y = top + plot_h - bar_h
            tip = f"{one.name}, {label}: {value:,.0f}{(' ' + unit) if unit else ''}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" height="{bar_h:.1f}" '
                f'fill="{PALETTE[number % len(PALETTE)]}"><title>{escape(tip)}</title></rect>'
            )
        if index % label_every == 0:
            cx = left + index * group_w + group_w / 2
            parts.append(
                f'<text x="{cx:.1f}" y="{height - bottom + 16}" text-anchor="middle" class="axis">'
                f"{escape(label)}</text>"
            )
    legend_x = left
    for number, one in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        parts.append(f'<rect x="{legend_x}" y="8" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{legend_x + 16}" y="18" class="legend">{escape(one.name)}</text>')
        legend_x += 24 + 8 * len(one.name)
    parts.append("</svg>")
    return Markup("".join(parts))


def hbar_rows(counts: Sequence[tuple[str, int]]) -> list[dict[str, object]]:
    """Rows for an HTML bar list (label, count, percentage of the largest), drawn with CSS widths."""
    peak = max((count for _, count in counts), default=0) or 1
    return [{"label": label, "count": count, "pct": round(100 * count / peak)} for label, count in counts]
