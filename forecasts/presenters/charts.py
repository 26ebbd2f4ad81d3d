"""The chart's data (series, colours, title, scale) for population-chart.js and the server's SVG."""

import html

from .numbers import UNIT, persons
from .tables import un_rows

# Twenty line colours people can tell apart, each at least 4.5:1 against white (so the end
# labels drawn in them are readable text too); the chart and the server-drawn SVG share them.
PALETTE = [
    "#1f77b4",
    "#d62728",
    "#267d26",
    "#b35600",
    "#7b4fb8",
    "#8c564b",
    "#c2379b",
    "#5f6368",
    "#767600",
    "#00838f",
    "#1a237e",
    "#880e4f",
    "#00695c",
    "#966400",
    "#4a148c",
    "#bf360c",
    "#33691e",
    "#d81b60",
    "#3f51b5",
    "#795548",
]

SCALES = ("linear", "log")


def chart_scale(value: str | None) -> str:
    """The chart's y scale from the query string (``?scale=log``); anything else is linear."""
    return "log" if value == "log" else "linear"


def chart_series(result, history, *, name: str = "") -> dict:
    """One region's lines for the chart: recorded Estimates, the predictions and interval, and
    the UN Medium and band when the data has them. ``result`` may be None (history only).

    History and forecast are joined at the last recorded year whatever years were asked for:
    ``bridge`` is a segment from the last recorded point to the first forecast after it. When
    the forecast starts the year after, it is simply the forecast line's first step (and the band
    opens from that point); when a run starts later (from 2030 on data to 2020) it spans the
    years that were not asked for. We draw it as a faint dashed line rather than computing the
    missing years on the fly: the page then shows only numbers the run stored, and
    ``gap`` = [first, last] missing year lets the caption say so.
    """
    years, values = history if history is not None else ([], [])
    recorded = [[int(year), float(value)] for year, value in zip(years, values, strict=True)]
    series = {"name": name or (result.name if result else ""), "history": recorded}
    if result is None:
        return series
    predicted = [point for point in result.points if point.value is not None]
    forecast = [[point.year, persons(point.value)] for point in predicted]
    lower = [[point.year, persons(point.lower)] for point in predicted]
    upper = [[point.year, persons(point.upper)] for point in predicted]
    bridge, gap = [], None
    if recorded:
        last_year, last_value = recorded[-1]
        after = [pair for pair in forecast if pair[0] > last_year]
        if after:
            bridge = [[last_year, last_value], after[0]]
            if after[0][0] > last_year + 1:
                gap = [last_year + 1, after[0][0] - 1]
            elif len(after) == len(forecast):
                # The interval opens from the last record, which is certain.
                lower.insert(0, [last_year, last_value])
                upper.insert(0, [last_year, last_value])
    un = un_rows(result)
    return {
        **series,
        "name": name or result.name,
        "forecast": forecast,
        "lower": lower,
        "upper": upper,
        "bridge": bridge,
        "gap": gap,
        "un_medium": [[row["year"], row["medium"]] for row in un],
        "un_lower": [[row["year"], row["lower"]] for row in un if row["lower"] is not None],
        "un_upper": [[row["year"], row["upper"]] for row in un if row["upper"] is not None],
    }


def chart_data(series: list[dict], *, title: str, level: str = "", scale: str = "linear") -> dict:
    """Everything population-chart.js and charts.svg need: the lines, their colours, the title,
    the interval's level ("95%") for the tooltips and the y scale."""
    return {
        "unit": UNIT,
        "title": title,
        "level": level,
        "scale": chart_scale(scale),
        "palette": PALETTE,
        "series": series,
    }


def chart_title(names: list[str], *, first_year, last_recorded, forecast_span=None) -> str:
    """What the chart shows, in one line: whose population, which years, what is forecast."""
    who = _names_in_words(names)
    if not forecast_span:
        return f"Population of {who}, recorded {first_year}–{last_recorded}"
    start, end = forecast_span
    return f"Population of {who}: recorded {first_year}–{last_recorded}, forecast {start}–{end}"


def forecast_chart(results, histories, *, level: str = "", scale: str = "linear") -> dict:
    """A run's (or a region's outlook's) chart: one series per result with its history
    (``histories``: (years, persons) per result, in order), titled with what it shows."""
    series = [
        chart_series(result, history) for result, history in zip(results, histories, strict=True)
    ]
    recorded = [item["history"] for item in series if item["history"]]
    years = [point.year for result in results for point in result.points]
    title = chart_title(
        [result.name for result in results],
        first_year=min((pairs[0][0] for pairs in recorded), default=None),
        last_recorded=max((pairs[-1][0] for pairs in recorded), default=None),
        forecast_span=(min(years), max(years)) if years else None,
    )
    return chart_data(series, title=title, level=level, scale=scale)


def history_chart(name: str, history, *, scale: str = "linear") -> dict:
    """A region's recorded population alone (no forecast could be made)."""
    series = [chart_series(None, history, name=name)]
    pairs = series[0]["history"]
    title = chart_title(
        [name],
        first_year=pairs[0][0] if pairs else None,
        last_recorded=pairs[-1][0] if pairs else None,
    )
    return chart_data(series, title=title, scale=scale)


def _names_in_words(names: list[str]) -> str:
    if len(names) > 3:
        return f"{', '.join(names[:3])} and {len(names) - 3} more"
    if len(names) > 1:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return names[0] if names else "the regions"


def embed_html(url: str, *, title: str) -> str:
    """The <iframe> another site pastes to show a run's chart (the page escapes it)."""
    return (
        f'<iframe src="{html.escape(url)}" width="800" height="500" title="{html.escape(title)}" '
        'loading="lazy"></iframe>'
    )


def chart_gaps(series: list[dict]) -> str:
    """The caption's note on years between the record and a later forecast, "" when none."""
    gaps = {tuple(item["gap"]) for item in series if item.get("gap")}
    if not gaps:
        return ""
    first = min(gap[0] for gap in gaps)
    last = max(gap[1] for gap in gaps)
    return (
        f"{first}–{last} were not forecast (not asked for): a faint dashed line joins the last "
        "record to the first forecast year."
    )
