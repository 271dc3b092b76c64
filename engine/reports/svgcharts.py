"""Charts as inline SVG text, for a dashboard that works offline and prints.

Written by hand on purpose: the page must be one file with no script and no web font, and
the labels are Chinese. Charting libraries either need JavaScript to draw (pygal's
tooltips, plotly, Chart.js) or embed glyph outlines for a font that must be installed
(matplotlib). Plain SVG text lets the reader's own CJK font draw the labels, and four chart
shapes are all the dashboard needs.
"""

from __future__ import annotations

from html import escape

# Distinct, print-safe colours, one per state in workflow order.
PALETTE = ["#8c8c8c", "#1f77b4", "#17becf", "#9467bd", "#e377c2", "#ff7f0e", "#d62728", "#2ca02c",
           "#bcbd22", "#7f7f7f", "#8c564b", "#aec7e8"]
PASS, FAIL, INK, GRID = "#2ca02c", "#d62728", "#333333", "#dddddd"
ROW = 22  # height of one bar row, px
LABEL_W = 150  # room for a Chinese label left of the bars


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _svg(name: str, title: str, width: int, height: int, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(name)}" role="img" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            f"<title>{escape(title)}</title>{''.join(body)}</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 12, fill: str = INK,
          weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}" '
            f'font-weight="{weight}">{escape(str(text))}</text>')


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str) -> str:
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" fill="{fill}">'
            f"<title>{escape(tip)}</title></rect>")


def legend(items: list[tuple[str, str]], width: int) -> tuple[list[str], int]:
    """Colour keys laid out in rows; returns the SVG parts and the height they take."""
    parts, x, y = [], 0.0, 14.0
    for label, fill in items:
        w = 18 + 13 * len(label) + 14
        if x + w > width and x > 0:
            x, y = 0.0, y + 18
        parts += [f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{fill}"/>',
                  _text(x + 16, y, label, size=12)]
        x += w
    return parts, int(y + 8)


def bars(name: str, title: str, rows: list[tuple[str, float, str]], width: int = 560,
         unit: str = "") -> str:
    """Horizontal bars: (label, value, colour) per row, the value written after each bar."""
    top = max((v for _, v, _ in rows), default=0) or 1
    span = width - LABEL_W - 60
    body = []
    for i, (label, value, fill) in enumerate(rows):
        y = 8 + i * ROW
        w = span * value / top
        body += [_text(LABEL_W - 8, y + 14, label, anchor="end"),
                 _rect(LABEL_W, y + 2, w, ROW - 6, fill, f"{label}：{value:g}{unit}"),
                 _text(LABEL_W + w + 6, y + 14, f"{value:g}{unit}")]
    return _svg(name, title, width, 16 + len(rows) * ROW, body)


def stacked_bars(name: str, title: str, rows: list[tuple[str, list[float]]],
                 keys: list[tuple[str, str]], width: int = 1100) -> str:
    """One bar per row, split by key (label, colour), with a legend above."""
    parts, legend_h = legend(keys, width)
    top = max((sum(v) for _, v in rows), default=0) or 1
    span = width - LABEL_W - 50
    body = list(parts)
    for i, (label, values) in enumerate(rows):
        y = legend_h + 8 + i * ROW
        x = float(LABEL_W)
        body.append(_text(LABEL_W - 8, y + 14, label, anchor="end"))
        for (key, fill), value in zip(keys, values, strict=True):
            if value:
                w = span * value / top
                body.append(_rect(x, y + 2, w, ROW - 6, fill, f"{label} {key}：{value:g}"))
                x += w
        body.append(_text(x + 6, y + 14, f"{sum(values):g}"))
    return _svg(name, title, width, legend_h + 16 + len(rows) * ROW, body)


def ratio_bars(name: str, title: str, rows: list[tuple[str, float, bool]], mark: float,
               band: tuple[float, float] | None = None, mark_label: str = "", width: int = 560,
               top: float | None = None) -> str:
    """Percent bars against a reference line (a threshold or a target), with an optional
    tolerance band; each bar is green when ``ok`` and red when not."""
    top = top or max([mark * 1.5, *(v for _, v, _ in rows), band[1] if band else 0]) or 1
    span = width - LABEL_W - 60
    height = 30 + len(rows) * ROW

    def at(v: float) -> float:
        return LABEL_W + span * min(v, top) / top

    body = []
    if band:
        body.append(f'<rect x="{at(band[0]):.1f}" y="18" width="{at(band[1]) - at(band[0]):.1f}" '
                    f'height="{height - 24}" fill="#f0f0f0"/>')
    for i, (label, value, ok) in enumerate(rows):
        y = 22 + i * ROW
        body += [_text(LABEL_W - 8, y + 14, label, anchor="end"),
                 _rect(LABEL_W, y + 2, at(value) - LABEL_W, ROW - 6, PASS if ok else FAIL, f"{label}：{value:.1%}"),
                 _text(at(value) + 6, y + 14, f"{value:.1%}")]
    body += [f'<line x1="{at(mark):.1f}" y1="16" x2="{at(mark):.1f}" y2="{height - 4}" stroke="{INK}" '
             f'stroke-width="1.5" stroke-dasharray="5 3"/>',
             _text(at(mark), 12, mark_label or f"{mark:.0%}", anchor="middle", weight="bold")]
    return _svg(name, title, width, height, body)


def stacked_area(name: str, title: str, dates: list[str], series: list[tuple[str, str, list[float]]],
                 width: int = 1100, height: int = 280) -> str:
    """Counts over time, stacked: one band per (label, colour, values), dates along the bottom."""
    if not dates:
        return _svg(name, title, width, 40, [_text(10, 24, "暂无数据")])
    parts, legend_h = legend([(label, fill) for label, fill, _ in series], width)
    left, right, bottom = 40, 10, 30
    plot_h = height - legend_h - bottom - 10
    base_y = legend_h + 10 + plot_h
    n = len(dates)
    top = max((sum(s[2][i] for s in series) for i in range(n)), default=0) or 1

    def x(i: int) -> float:
        return left + (width - left - right) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return base_y - plot_h * v / top

    body = list(parts)
    for tick in sorted({0, top // 2, top}):
        body += [f'<line x1="{left}" y1="{y(tick):.1f}" x2="{width - right}" y2="{y(tick):.1f}" stroke="{GRID}"/>',
                 _text(left - 4, y(tick) + 4, f"{tick:g}", anchor="end", size=11)]
    below = [0.0] * n
    for label, fill, values in series:
        above = [b + v for b, v in zip(below, values, strict=True)]
        if any(values):
            outline = [f"{x(i):.1f},{y(above[i]):.1f}" for i in range(n)]
            outline += [f"{x(i):.1f},{y(below[i]):.1f}" for i in reversed(range(n))]
            body.append(f'<polygon points="{" ".join(outline)}" fill="{fill}" fill-opacity="0.85">'
                        f"<title>{escape(label)}</title></polygon>")
        below = above
    for i in sorted({0, n // 4, n // 2, 3 * n // 4, n - 1}):
        anchor = "start" if i == 0 else "end" if i == n - 1 else "middle"
        body.append(_text(x(i), base_y + 18, dates[i], anchor=anchor, size=11))
    return _svg(name, title, width, height, body)
