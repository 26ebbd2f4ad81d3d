"""The population chart drawn on the server as SVG, from the same data the browser's chart uses.

Why a second drawing: without JavaScript (or before Chart.js loads) a page would otherwise show an
empty box where the chart goes; a link preview, an embed or a download needs an image that exists
at a URL (/runs/<id>.svg). The shapes come from presenters.chart_data, so both drawings show the
same lines: history solid, forecast dashed, its interval as a band, the UN Medium dotted with its
band, a label at the end of each line, a few nice ticks on either scale.

No styles and no scripts: presentation attributes only, so the strict CSP allows it inline.
"""

import math
from xml.sax.saxutils import escape, quoteattr

from . import presenters

WIDTH, HEIGHT = 800, 450
LEFT, RIGHT, TOP, BOTTOM = 64, 150, 40, 40
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"


def nice_linear_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round values (1, 2 or 5 × 10^k apart) covering [low, high]."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(value)
        value += step
    if ticks[-1] < high:
        ticks.append(ticks[-1] + step)
    return ticks


def nice_log_ticks(low: float, high: float) -> list[float]:
    """1, 2 and 5 × 10^k between low and high (only powers of ten when they span many decades),
    so a log axis has readable ticks instead of Chart.js's three."""
    low = max(low, 1.0)
    decades = math.log10(high / low) if high > low else 0
    multipliers = (1,) if decades > 4 else (1, 2, 5) if decades > 1.5 else (1, 1.5, 2, 3, 5, 7)
    ticks = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for multiplier in multipliers:
            value = multiplier * 10**exponent
            if low <= value <= high:
                ticks.append(value)
    return ticks or [low, high]


def svg(chart: dict, *, standalone: bool = True) -> str:
    """The chart as an SVG document (``standalone``) or an element to put inside HTML."""
    series = chart["series"]
    palette = chart.get("palette") or presenters.PALETTE
    log = chart.get("scale") == "log"
    points = [
        pair
        for item in series
        for key in ("history", "forecast", "lower", "upper", "un_medium", "un_lower", "un_upper")
        for pair in item.get(key) or []
        if pair[1] is not None and (not log or pair[1] > 0)
    ]
    title = chart.get("title", "Population")
    parts = []
    if points:
        parts = _plot(chart, series, palette, points, log)
    else:
        parts.append(_text(WIDTH / 2, HEIGHT / 2, "No data to draw", anchor="middle"))
    namespace = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    header = '<?xml version="1.0" encoding="UTF-8"?>\n' if standalone else ""
    return (
        f'{header}<svg{namespace} viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label={quoteattr(title)} class="chart-svg" '
        f'font-family="{FONT}" font-size="12">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>' + "".join(parts) + "</svg>"
    )


def _plot(chart, series, palette, points, log) -> list[str]:
    years = [pair[0] for pair in points]
    values = [pair[1] for pair in points]
    x_low, x_high = min(years), max(years)
    if x_low == x_high:
        x_low, x_high = x_low - 1, x_high + 1
    if log:
        y_ticks = nice_log_ticks(min(values) * 0.9, max(values) * 1.1)
        y_low, y_high = min(min(values) * 0.9, y_ticks[0]), max(max(values) * 1.1, y_ticks[-1])
        logged = _scale(math.log10(y_low), math.log10(y_high), HEIGHT - BOTTOM, TOP)

        def y_of(value):
            return logged(math.log10(value))

    else:
        y_ticks = nice_linear_ticks(min(0, min(values)), max(values))
        y_low, y_high = y_ticks[0], y_ticks[-1]
        y_of = _scale(y_low, y_high, HEIGHT - BOTTOM, TOP)
    x_of = _scale(x_low, x_high, LEFT, WIDTH - RIGHT)
    parts = [_text(LEFT, 22, chart.get("title", ""), weight="600", size=14)]
    # Axes and grid.
    for tick in y_ticks:
        y = y_of(tick)
        parts.append(_line(LEFT, y, WIDTH - RIGHT, y, "#e5e5e5"))
        parts.append(_text(LEFT - 6, y + 4, presenters.persons_compact(tick), anchor="end"))
    for tick in nice_linear_ticks(x_low, x_high, 6):
        if x_low <= tick <= x_high:
            x = x_of(tick)
            parts.append(_line(x, HEIGHT - BOTTOM, x, HEIGHT - BOTTOM + 5, "#333333"))
            parts.append(_text(x, HEIGHT - BOTTOM + 18, f"{tick:.0f}", anchor="middle"))
    parts.append(_line(LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, HEIGHT - BOTTOM, "#333333"))
    parts.append(_line(LEFT, TOP, LEFT, HEIGHT - BOTTOM, "#333333"))

    def path(pairs):
        return " ".join(
            f"{x_of(year):.1f},{y_of(value):.1f}"
            for year, value in pairs
            if value is not None and (not log or value > 0)
        )

    ends = []
    for index, item in enumerate(series):
        colour = palette[index % len(palette)]
        for lower_key, upper_key, opacity in (
            ("un_lower", "un_upper", 0.08),
            ("lower", "upper", 0.18),
        ):
            lower, upper = item.get(lower_key) or [], item.get(upper_key) or []
            if lower and upper and len(lower) == len(upper):
                outline = path(lower) + " " + path(list(reversed(upper)))
                parts.append(
                    f'<polygon points="{outline}" fill="{colour}" fill-opacity="{opacity}" '
                    'stroke="none"/>'
                )
        lines = (
            ("history", ""),
            ("bridge", ' stroke-dasharray="3 4" stroke-opacity="0.6"'),
            ("forecast", ' stroke-dasharray="6 4"'),
            ("un_medium", ' stroke-dasharray="2 3" stroke-width="1.5"'),
        )
        last = None
        for key, style in lines:
            pairs = item.get(key) or []
            if len(pairs) > 1:
                parts.append(
                    f'<polyline points="{path(pairs)}" fill="none" stroke="{colour}" '
                    f'stroke-width="2"{style}/>'
                )
            ends_here = pairs and key in ("history", "forecast") and pairs[-1][1] is not None
            if ends_here and (last is None or pairs[-1][0] >= last[0]):
                last = pairs[-1]
        if last is not None and (not log or last[1] > 0):
            ends.append([y_of(last[1]), item.get("name", ""), colour])
    # Labels at the ends of the lines, pushed apart so they never overlap.
    ends.sort()
    for position in range(1, len(ends)):
        ends[position][0] = max(ends[position][0], ends[position - 1][0] + 13)
    for y, name, colour in ends:
        label = name if len(name) <= 22 else name[:21] + "…"
        parts.append(_text(WIDTH - RIGHT + 6, y + 4, label, fill=colour, weight="600"))
    return parts


def _scale(low, high, out_low, out_high):
    """A linear map of [low, high] onto [out_low, out_high] (pixels)."""
    span = (high - low) or 1

    def position(value):
        return out_low + (value - low) / span * (out_high - out_low)

    return position


def _line(x1, y1, x2, y2, colour):
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}"/>'


def _text(x, y, text, *, anchor="start", fill="#212529", weight="400", size=12):
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" '
        f'font-weight="{weight}" font-size="{size}">{escape(text)}</text>'
    )
