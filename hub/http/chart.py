"""A horizontal bar chart drawn on the server as SVG: no script and no external asset, so
it shows on any phone and prints as it looks. Labels sit above their bars, so long names
(a kelurahan and a sex) fit a narrow screen.

Example:
    >>> svg = bar_chart([("Meral", 120), ("Tebing", 80)], "Jumlah penduduk")
    >>> svg.startswith("<svg")
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

# The drawing is about a phone's width, so that at 320-400 CSS pixels its 12 px labels stay
# about 12 px (at 640 they were drawn at 6 px); portal.css caps its width on wider screens.
WIDTH = 360
LABEL = 16  # height of a label line
BAR = 18
GAP = 10
VALUE_ROOM = 56  # right of the longest bar, for its number


def bar_chart(bars: Sequence[tuple[str, float]], title: str) -> str:
    """One bar per (label, value), in the order given; values < 0 are drawn as 0."""
    top = max((v for _, v in bars), default=0) or 1
    step = LABEL + BAR + GAP
    height = max(step * len(bars), step)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" aria-label={quoteattr(title)}>',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(bars):
        y = i * step
        length = max(value, 0) / top * (WIDTH - VALUE_ROOM)
        parts.append(
            f'<g class="bar"><text x="0" y="{y + LABEL - 4}" class="label">{escape(label)}</text>'
            f'<rect x="0" y="{y + LABEL}" width="{length:.1f}" height="{BAR}" rx="2"></rect>'
            f'<text x="{length + 6:.1f}" y="{y + LABEL + BAR - 4}" class="value">{_number(value)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _number(value: float) -> str:
    """Indonesian digit grouping: 12.345 and 1.234,5."""
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", ".")
    whole, _, decimals = f"{value:,.1f}".partition(".")
    return whole.replace(",", ".") + "," + decimals
