"""The population chart drawn on the server as SVG, from the same data the browser's chart uses.

Why a second drawing: without JavaScript (or before Chart.js loads) a page would otherwise show an
empty box where the chart goes; a link preview, an embed or a download needs an image that exists
at a URL (/runs/<id>.svg). The shapes come from presenters.chart_data, so both drawings show the
same lines: history solid, forecast dashed, its interval as a band, the UN Medium dotted with its
band, a label at the end of each line, a few nice ticks on either scale.

The drawing is a list of shapes (lines, bands, strokes, labels), rendered two ways: as SVG (no
styles and no scripts: presentation attributes only, so the strict CSP allows it inline) and as PNG
(Pillow, imported only when a PNG is asked for: link previews need a raster image).
"""

import io
import itertools
import math
from pathlib import Path
from typing import NamedTuple
from xml.sax.saxutils import escape, quoteattr

from . import presenters


class Line(NamedTuple):
    x1: float
    y1: float
    x2: float
    y2: float
    colour: str


class Band(NamedTuple):
    """A filled outline: an interval between its lower and upper lines."""

    points: list[tuple[float, float]]
    colour: str
    opacity: float


class Stroke(NamedTuple):
    """A line through points: history, forecast, the UN Medium."""

    points: list[tuple[float, float]]
    colour: str
    width: float = 2
    dash: tuple[int, ...] = ()
    opacity: float = 1.0


class Label(NamedTuple):
    x: float
    y: float
    text: str
    anchor: str = "start"
    fill: str = "#212529"
    weight: str = "400"
    size: int = 12


WIDTH, HEIGHT = 800, 450
LEFT, RIGHT, TOP, BOTTOM = 64, 150, 40, 40
FONTS = Path(__file__).resolve().parent / "fonts"
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


def shapes(chart: dict) -> list:
    """What both renderers draw, in order, on a WIDTH × HEIGHT canvas."""
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
    if not points:
        return [Label(WIDTH / 2, HEIGHT / 2, "No data to draw", anchor="middle")]
    return _plot(chart, series, palette, points, log)


def svg(chart: dict, *, standalone: bool = True) -> str:
    """The chart as an SVG document (``standalone``) or an element to put inside HTML."""
    title = chart.get("title", "Population")
    parts = [_svg_shape(shape) for shape in shapes(chart)]
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
    parts = [Label(LEFT, 22, chart.get("title", ""), weight="600", size=14)]
    # Axes and grid.
    for tick in y_ticks:
        y = y_of(tick)
        parts.append(Line(LEFT, y, WIDTH - RIGHT, y, "#e5e5e5"))
        parts.append(Label(LEFT - 6, y + 4, presenters.persons_compact(tick), anchor="end"))
    for tick in nice_linear_ticks(x_low, x_high, 6):
        if x_low <= tick <= x_high:
            x = x_of(tick)
            parts.append(Line(x, HEIGHT - BOTTOM, x, HEIGHT - BOTTOM + 5, "#333333"))
            parts.append(Label(x, HEIGHT - BOTTOM + 18, f"{tick:.0f}", anchor="middle"))
    parts.append(Line(LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, HEIGHT - BOTTOM, "#333333"))
    parts.append(Line(LEFT, TOP, LEFT, HEIGHT - BOTTOM, "#333333"))

    def path(pairs):
        return [
            (x_of(year), y_of(value))
            for year, value in pairs
            if value is not None and (not log or value > 0)
        ]

    ends = []
    for index, item in enumerate(series):
        colour = palette[index % len(palette)]
        for lower_key, upper_key, opacity in (
            ("un_lower", "un_upper", 0.08),
            ("lower", "upper", 0.18),
        ):
            lower, upper = item.get(lower_key) or [], item.get(upper_key) or []
            if lower and upper and len(lower) == len(upper):
                outline = path(lower) + path(list(reversed(upper)))
                parts.append(Band(outline, colour, opacity))
        lines = (
            ("history", {}),
            ("bridge", {"dash": (3, 4), "opacity": 0.6}),
            ("forecast", {"dash": (6, 4)}),
            ("un_medium", {"dash": (2, 3), "width": 1.5}),
        )
        last = None
        for key, style in lines:
            pairs = item.get(key) or []
            if len(pairs) > 1:
                parts.append(Stroke(path(pairs), colour, **style))
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
        parts.append(Label(WIDTH - RIGHT + 6, y + 4, label, fill=colour, weight="600"))
    return parts


def _scale(low, high, out_low, out_high):
    """A linear map of [low, high] onto [out_low, out_high] (pixels)."""
    span = (high - low) or 1

    def position(value):
        return out_low + (value - low) / span * (out_high - out_low)

    return position


def _svg_points(points) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def _svg_shape(shape) -> str:
    if isinstance(shape, Line):
        return (
            f'<line x1="{shape.x1:.1f}" y1="{shape.y1:.1f}" x2="{shape.x2:.1f}" '
            f'y2="{shape.y2:.1f}" stroke="{shape.colour}"/>'
        )
    if isinstance(shape, Band):
        return (
            f'<polygon points="{_svg_points(shape.points)}" fill="{shape.colour}" '
            f'fill-opacity="{shape.opacity}" stroke="none"/>'
        )
    if isinstance(shape, Stroke):
        dash = f' stroke-dasharray="{" ".join(map(str, shape.dash))}"' if shape.dash else ""
        opacity = f' stroke-opacity="{shape.opacity}"' if shape.opacity < 1 else ""
        return (
            f'<polyline points="{_svg_points(shape.points)}" fill="none" stroke="{shape.colour}" '
            f'stroke-width="{shape.width:g}"{dash}{opacity}/>'
        )
    return (
        f'<text x="{shape.x:.1f}" y="{shape.y:.1f}" text-anchor="{shape.anchor}" '
        f'fill="{shape.fill}" font-weight="{shape.weight}" font-size="{shape.size}">'
        f"{escape(shape.text)}</text>"
    )


def png(chart: dict, *, scale: int = 2) -> bytes:
    """The same chart as a PNG (``scale`` × the SVG's size: 1600 × 900 by default, a link
    preview's usual 16:9), drawn with Pillow in DejaVu Sans (vendored in forecasts/fonts: it has
    the accents and dashes of region names, which Pillow's built-in font lacks)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (WIDTH * scale, HEIGHT * scale), "#ffffff")
    fonts = {}

    def font(size, weight):
        name = FONTS / ("DejaVuSans-Bold.ttf" if int(weight) >= 600 else "DejaVuSans.ttf")
        if (name, size) not in fonts:
            fonts[name, size] = ImageFont.truetype(str(name), size * scale)
        return fonts[name, size]

    for shape in shapes(chart):
        if isinstance(shape, Band):
            layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
            fill = (*_rgb(shape.colour), round(255 * shape.opacity))
            ImageDraw.Draw(layer).polygon([(x * scale, y * scale) for x, y in shape.points], fill)
            image.paste(layer, mask=layer)
            continue
        draw = ImageDraw.Draw(image)
        if isinstance(shape, Line):
            xy = [shape.x1 * scale, shape.y1 * scale, shape.x2 * scale, shape.y2 * scale]
            draw.line(xy, fill=shape.colour, width=scale)
        elif isinstance(shape, Stroke):
            colour = _blend(shape.colour, shape.opacity)
            width = round(shape.width * scale)
            for segment in _dashed(
                [(x * scale, y * scale) for x, y in shape.points], shape.dash, scale
            ):
                draw.line(segment, fill=colour, width=width, joint="curve")
        else:
            anchor = {"start": "ls", "middle": "ms", "end": "rs"}[shape.anchor]
            draw.text(
                (shape.x * scale, shape.y * scale),
                shape.text,
                fill=shape.fill,
                font=font(shape.size, shape.weight),
                anchor=anchor,
            )
    output = io.BytesIO()
    image.save(output, format="PNG", optimize=True)
    return output.getvalue()


def _rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return tuple(int(colour[i : i + 2], 16) for i in (0, 2, 4))


def _blend(colour: str, opacity: float) -> tuple[int, int, int]:
    """The colour at ``opacity`` over the white background (a stroke's opacity, flattened)."""
    return tuple(round(255 - (255 - c) * opacity) for c in _rgb(colour))


def _dashed(points, dash, scale):
    """The polyline as the runs of points to draw: whole, or cut into dashes of ``dash``
    (on, off, ... in SVG units) along its length."""
    if not dash or len(points) < 2:
        return [points]
    pattern = [length * scale for length in dash]
    segments, current, index, left, drawing = [], [points[0]], 0, pattern[0], True
    for (x1, y1), (x2, y2) in itertools.pairwise(points):
        length = math.hypot(x2 - x1, y2 - y1)
        done = 0.0
        while length - done > left:
            done += left
            point = (x1 + (x2 - x1) * done / length, y1 + (y2 - y1) * done / length)
            if drawing:
                current.append(point)
                segments.append(current)
            current = [point]
            drawing = not drawing
            index = (index + 1) % len(pattern)
            left = pattern[index]
        left -= length - done
        if drawing:
            current.append((x2, y2))
        else:
            current = [(x2, y2)]
    if drawing and len(current) > 1:
        segments.append(current)
    return segments
