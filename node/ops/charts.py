"""Small line charts as inline SVG, drawn on the server (no JavaScript, nothing external).

Presentation attributes only (``stroke=``), no ``style=``: the node's Content-Security-Policy
allows no inline styles.
"""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 320, 90, 4


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


def line_chart(label: str, times: list[datetime], values: list[float]) -> Markup:
    """An SVG chart of ``values`` over ``times`` (same length), labelled for screen readers
    with ``label``, its latest value and its maximum."""
    latest = values[-1] if values else 0.0
    top = max(values) if values else 0.0
    summary = f"{label}: {_fmt(latest)} (max {_fmt(top)})"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{HEIGHT}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(summary)}">',
        f"<title>{escape(summary)}</title>",
        f'<rect x="0.5" y="0.5" width="{WIDTH - 1}" height="{HEIGHT - 1}" fill="#f3f5f8"'
        ' stroke="#c4cad3"/>',
    ]
    if len(values) >= 2 and times[-1] > times[0]:
        span = (times[-1] - times[0]).total_seconds()
        scale = top if top > 0 else 1.0
        points = " ".join(
            f"{PAD + (t - times[0]).total_seconds() / span * (WIDTH - 2 * PAD):.1f},"
            f"{HEIGHT - PAD - v / scale * (HEIGHT - 2 * PAD):.1f}"
            for t, v in zip(times, values, strict=True)
        )
        parts.append(f'<polyline fill="none" stroke="#0b5394" stroke-width="2" points="{points}"/>')
    parts.append(
        f'<text x="{WIDTH - PAD}" y="14" text-anchor="end" font-size="12" fill="#1a1a1a">'
        f"{escape(_fmt(latest))}</text>"
    )
    parts.append("</svg>")
    # Safe: every text piece above went through escape(); the rest are numbers we formatted.
    return Markup("".join(parts))  # noqa: S704
