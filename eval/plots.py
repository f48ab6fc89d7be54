"""Small inline SVG charts for the report: no plotting library, no network, text stays searchable."""

from collections.abc import Sequence
from html import escape

from eval.metrics import percentile

FONT = "font-family='system-ui,sans-serif' font-size='12'"
SMALL = "font-family='system-ui,sans-serif' font-size='10'"
COLOURS = {"this run": "#2563eb", "previous run": "#9ca3af", "BM25 baseline": "#f59e0b"}


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>"
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def metric_bars(labels: Sequence[str], series: dict[str, Sequence[float | None]], title: str) -> str:
    """Horizontal grouped bars of 0..1 metrics, one group a metric, one bar a series (missing values left out)."""
    names = [n for n, values in series.items() if any(v is not None for v in values)]
    bar, gap, left, width = 13, 10, 230, 760
    plot = width - left - 60
    group = bar * len(names) + gap
    top = 28
    height = top + group * len(labels) + 30
    body = []
    x = left
    for name in names:  # legend
        colour = COLOURS.get(name, "#6b7280")
        body.append(f"<rect x='{x}' y='6' width='12' height='12' fill='{colour}'/>")
        body.append(f"<text x='{x + 16}' y='16' {FONT}>{escape(name)}</text>")
        x += 30 + 7 * len(name)
    for t in (0, 0.25, 0.5, 0.75, 1):
        gx = left + plot * t
        body.append(f"<line x1='{gx}' y1='{top - 4}' x2='{gx}' y2='{height - 24}' stroke='#e5e7eb'/>")
        body.append(f"<text x='{gx}' y='{height - 8}' text-anchor='middle' {FONT} fill='#6b7280'>{t:g}</text>")
    for i, label in enumerate(labels):
        y0 = top + i * group
        present = [n for n in names if series[n][i] is not None]
        body.append(
            f"<text x='{left - 8}' y='{y0 + max(1, len(present)) * bar / 2}' text-anchor='end' "
            f"dominant-baseline='middle' {FONT}>{escape(label)}</text>"
        )
        for j, name in enumerate(present):
            v = series[name][i]
            y = y0 + j * bar
            colour = COLOURS.get(name, "#6b7280")
            body.append(f"<rect x='{left}' y='{y}' width='{max(1.0, plot * v):.1f}' height='{bar - 2}' fill='{colour}'>"
                        f"<title>{escape(name)}: {v:.3f}</title></rect>")  # fmt: skip
            body.append(f"<text x='{left + plot * v + 4:.1f}' y='{y + bar - 4}' {SMALL}>{v:.2f}</text>")
    return _svg(width, height, body, title)


def latency_histograms(timings: dict[str, Sequence[float]], title: str, bins: int = 24) -> str:
    """One histogram per timing (seconds), on its own axis, with the p50 and p95 marked."""
    width, panel, left = 760, 120, 150
    plot = width - left - 30
    body = []
    shown = [(name, list(values)) for name, values in timings.items() if values]
    for i, (name, values) in enumerate(shown):
        y0 = 10 + i * panel
        hi = max(values) * 1.05 or 1.0
        counts = [0] * bins
        for v in values:
            counts[min(bins - 1, int(v / hi * bins))] += 1
        top = max(counts)
        base = y0 + panel - 40
        body.append(f"<text x='{left - 10}' y='{y0 + 40}' text-anchor='end' {FONT}>{escape(name)}</text>")
        body.append(f"<text x='{left - 10}' y='{y0 + 56}' text-anchor='end' {FONT} fill='#6b7280'>n={len(values)}</text>")
        for b, c in enumerate(counts):
            if c:
                h = (panel - 50) * c / top
                body.append(f"<rect x='{left + plot * b / bins:.1f}' y='{base - h:.1f}' width='{plot / bins - 1:.1f}' "
                            f"height='{h:.1f}' fill='#60a5fa'><title>{c}</title></rect>")  # fmt: skip
        body.append(f"<line x1='{left}' y1='{base}' x2='{left + plot}' y2='{base}' stroke='#9ca3af'/>")
        for t in range(5):
            v = hi * t / 4
            body.append(f"<text x='{left + plot * t / 4:.1f}' y='{base + 14}' text-anchor='middle' {SMALL} "
                        f"fill='#6b7280'>{v:.2f} s</text>")  # fmt: skip
        for q, colour in ((50, "#16a34a"), (95, "#dc2626")):
            v = percentile(values, q)
            x = left + plot * v / hi
            body.append(f"<line x1='{x:.1f}' y1='{y0 + 4}' x2='{x:.1f}' y2='{base}' stroke='{colour}' stroke-dasharray='4 2'/>")
            body.append(f"<text x='{x + 3:.1f}' y='{y0 + 12 + (q == 95) * 12}' {SMALL} fill='{colour}'>"
                        f"p{q} {v:.2f} s</text>")  # fmt: skip
    return _svg(width, 10 + panel * max(1, len(shown)), body, title)


CURVE_COLOURS = ("#2563eb", "#f59e0b", "#16a34a", "#dc2626", "#7c3aed", "#0891b2")


def tradeoff_curves(curves: dict[str, Sequence[tuple[float, float, float]]], threshold: float, title: str) -> str:
    """Refusal trade-off: x = answerable refused, y = unanswerable refused, one curve per set as the
    threshold moves, the operating point (`threshold`) ringed on each."""
    width, height, left, top, plot = 560, 420, 60, 40, 320
    body = [f"<text x='{left}' y='20' {FONT} font-weight='bold'>{escape(title)}</text>"]
    for t in (0, 0.25, 0.5, 0.75, 1):
        x, y = left + plot * t, top + plot * (1 - t)
        body.append(f"<line x1='{x}' y1='{top}' x2='{x}' y2='{top + plot}' stroke='#e5e7eb'/>")
        body.append(f"<line x1='{left}' y1='{y}' x2='{left + plot}' y2='{y}' stroke='#e5e7eb'/>")
        body.append(f"<text x='{x}' y='{top + plot + 16}' text-anchor='middle' {FONT} fill='#6b7280'>{t:g}</text>")
        body.append(f"<text x='{left - 6}' y='{y + 4}' text-anchor='end' {FONT} fill='#6b7280'>{t:g}</text>")
    body.append(f"<text x='{left + plot / 2}' y='{top + plot + 34}' text-anchor='middle' {FONT}>answerable refused</text>")
    body.append(f"<text x='16' y='{top + plot / 2}' text-anchor='middle' {FONT} "
                f"transform='rotate(-90 16 {top + plot / 2})'>unanswerable refused</text>")  # fmt: skip
    lonely = 0  # sets drawn as a point on the axis, so their labels stack
    for i, (name, points) in enumerate(curves.items()):
        colour = CURVE_COLOURS[i % len(CURVE_COLOURS)]
        shown = [(t, u, a) for t, u, a in points if u == u and a == a]  # NaN: the set has no such questions
        legend_y = top + 14 + 18 * i
        body.append(f"<rect x='{left + plot + 20}' y='{legend_y - 10}' width='12' height='12' fill='{colour}'/>")
        body.append(f"<text x='{left + plot + 36}' y='{legend_y}' {FONT}>{escape(name)}</text>")
        if not shown:  # no unanswerable questions: only where the answerable ones stand at the threshold
            only = [(t, a) for t, u, a in points if a == a]
            if only:
                t, a = min(only, key=lambda p: abs(p[0] - threshold))
                x, y = left + plot * a, top + plot
                body.append(f"<path d='M{x:.1f},{y - 7} l6,7 l-6,7 l-6,-7 z' fill='{colour}'><title>{escape(name)}: "
                            f"answerable refused {a:.2f} at threshold {t:.2f} (no unanswerable questions)</title></path>")  # fmt: skip
                body.append(f"<text x='{x + 9:.1f}' y='{y - 6 - 13 * lonely}' {SMALL} fill='{colour}'>"
                            f"{escape(name)}: {a:.2f} (no unanswerable questions)</text>")  # fmt: skip
                lonely += 1
            continue
        path = " ".join(f"{left + plot * a:.1f},{top + plot * (1 - u):.1f}" for _, u, a in shown)
        body.append(f"<polyline points='{path}' fill='none' stroke='{colour}' stroke-width='2'/>")
        t, u, a = min(shown, key=lambda p: abs(p[0] - threshold))
        body.append(f"<circle cx='{left + plot * a:.1f}' cy='{top + plot * (1 - u):.1f}' r='6' fill='none' "
                    f"stroke='{colour}' stroke-width='2'><title>{escape(name)} at threshold {t:.2f}: "
                    f"unanswerable refused {u:.2f}, answerable refused {a:.2f}</title></circle>")  # fmt: skip
        body.append(f"<text x='{left + plot * a + 9:.1f}' y='{top + plot * (1 - u) + 4:.1f}' {SMALL} "
                    f"fill='{colour}'>{u:.2f} / {a:.2f}</text>")  # fmt: skip
    body.append(f"<text x='{left + plot + 20}' y='{top + 30 + 18 * len(curves)}' {SMALL} fill='#6b7280'>"
                f"ringed: threshold {threshold:.2f}</text>")  # fmt: skip
    return _svg(width, height, body, title)
