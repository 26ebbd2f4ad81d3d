"""One presenter of forecasts: what people see and download, in every front door.

The site's tables and chart, the command's text table, the CSV and the JSON documents are all built
here from the services' RegionForecast results, so the same forecast never has two shapes. The run's
JSON download and ``GET /api/runs/<id>/`` return the same document (run_document).
"""

import csv
import hashlib
import html
import io
import json
import math

from . import rules

CSV_COLUMNS = [
    "region_code",
    "region_name",
    "year",
    "value",
    "lower",
    "upper",
    "actual",
    "un_medium",
    "un_lower",
    "un_upper",
    "outside_un_band",
    "last_recorded_year",
]
UNIT = "persons"


def persons_rounded(value: float | None) -> str:
    """Persons rounded to the nearest thousand with thousands separators: 1,234,567,000."""
    if value is None:
        return ""
    return f"{round(value / 1000) * 1000:,.0f}"


SCALE_WORDS = ((1e9, "billion"), (1e6, "million"), (1e3, "thousand"))


def persons_readable(value: float | None) -> str:
    """Persons as people read them: "8.58 billion", "46.4 million", "812 thousand", "801"
    (three significant figures, so a table of twenty regions stays scannable); "" for no value.
    The exact number goes in the cell's title, the tooltip and the downloads."""
    if value is None or not math.isfinite(value):
        return ""
    size = abs(value)
    for factor, word in SCALE_WORDS:
        if size >= factor * 0.9995:
            scaled = value / factor
            if round(abs(scaled), 2) >= 1000 and word != "billion":
                continue
            digits = 2 if abs(scaled) < 9.995 else 1 if abs(scaled) < 99.95 else 0
            return f"{scaled:,.{digits}f} {word}"
    return f"{value:,.0f}"


def persons_exact(value: float | None) -> str:
    """To the person, with thousands separators: 8,583,606,109 ("" for no value)."""
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:,.0f}"


def persons_compact(value: float) -> str:
    """An axis tick: 8B, 450M, 12.5K, 800 (what Intl.NumberFormat's compact notation writes)."""
    size = abs(value)
    for factor, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if size >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def persons(value: float | None) -> float | None:
    """A value for JSON: JSON has no infinity or NaN, so an unbounded interval end is None."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def percent(level: float) -> str:
    return f"{level * 100:g}%"


def results_table(results) -> tuple[list[str], list[list[str]]]:
    """The original app's table: a row per year, a column per region, rounded persons."""
    header = ["Year"] + [result.name for result in results]
    years = [point.year for point in results[0].points] if results else []
    rows = [
        [str(year)] + [persons_rounded(result.points[index].value) for result in results]
        for index, year in enumerate(years)
    ]
    return header, rows


def number_cell(value: float | None) -> dict | None:
    """A table cell's number: what the page shows ("8.58 billion") and, for its title and
    <data value>, the exact persons; None for no value."""
    if value is None or not math.isfinite(value):
        return None
    return {"value": f"{value:.0f}", "text": persons_readable(value), "exact": persons_exact(value)}


def results_cells(results) -> list[dict]:
    """The run page's table: a row per year, a cell per region (number_cell), in the order of
    results_table's header; the interval's bounds beside each value."""
    years = [point.year for point in results[0].points] if results else []
    return [
        {
            "year": year,
            "cells": [
                {
                    "value": number_cell(result.points[index].value),
                    "lower": number_cell(result.points[index].lower),
                    "upper": number_cell(result.points[index].upper),
                }
                for result in results
            ],
        }
        for index, year in enumerate(years)
    ]


def forecast_headline(results, *, level: str = "") -> str:
    """The run in a sentence, for the page's lead, its meta description and link previews:
    "WORLD: 8.61 billion in 2030 to 10.1 billion in 2050 (95% interval 9.35–10.8 billion)."
    (the first three regions)."""
    sentences = []
    for result in results[:3]:
        predicted = [point for point in result.points if point.value is not None]
        if not predicted:
            continue
        first, last = predicted[0], predicted[-1]
        text = f"{result.name}: {persons_readable(first.value)} in {first.year}"
        if last.year != first.year:
            text += f" to {persons_readable(last.value)} in {last.year}"
        if last.lower is not None and last.upper is not None:
            interval = f"{level} interval" if level else "interval"
            text += (
                f" ({interval} {persons_readable(persons(last.lower))}–"
                f"{persons_readable(persons(last.upper))})"
            )
        sentences.append(text + ".")
    if len(results) > 3:
        sentences.append(f"And {len(results) - 3} more regions.")
    return " ".join(sentences)


def region_description(region, history, outlook) -> str:
    """A region page in a sentence (meta description, link previews): its latest record and,
    when there is one, the outlook's last year."""
    years, values = history
    if not len(years):
        return f"{region.name}: a heading of the UN World Population Prospects, without data."
    text = f"Population of {region.name}: {persons_readable(float(values[-1]))} in {int(years[-1])}"
    if outlook is not None and outlook.points and outlook.points[-1].value is not None:
        last = outlook.points[-1]
        text += f", forecast {persons_readable(last.value)} in {last.year}"
    return text + " (UN World Population Prospects; forecasts with intervals)."


def results_text_table(results) -> str:
    return text_table(*results_table(results))


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """Columns for a terminal: the first left-aligned, the others (numbers) right-aligned."""
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(widths[0]) if column == 0 else cell.rjust(widths[column])
            for column, cell in enumerate(row)
        )
        for row in [header, *rows]
    )


def interval_rows(results) -> list[dict]:
    """A row per year, a (lower, upper) pair per region, in the order of the results table."""
    years = [point.year for point in results[0].points] if results else []
    return [
        {
            "year": year,
            "bounds": [
                (result.points[index].lower, result.points[index].upper) for result in results
            ],
        }
        for index, year in enumerate(years)
    ]


def un_rows(result) -> list[dict]:
    """Per forecast year with a UN value: the UN Medium and band, and how far the forecast is
    from the Medium in percent of it. Empty when the data has no UN projection."""
    if result.un is None:
        return []
    rows = []
    for point in result.points:
        medium, lower, upper = result.un.by_year.get(point.year, (None, None, None))
        if medium is None:
            continue
        difference = None
        if point.value is not None and medium:
            difference = (point.value - medium) / medium * 100
        rows.append(
            {
                "year": point.year,
                "forecast": persons(point.value),
                "medium": medium,
                "lower": lower,
                "upper": upper,
                "difference_percent": difference,
                "outside_un_band": _outside(point.value, lower, upper),
            }
        )
    return rows


def _outside(value, lower, upper) -> bool | None:
    """Whether the forecast leaves the UN band (None when there is no band or no value)."""
    if value is None or lower is None or upper is None:
        return None
    return not lower <= value <= upper


def outlook_rows(result) -> list[dict]:
    """The forecast's years with the UN projection beside them (None where it has none)."""
    if result is None:
        return []
    un_by_year = {row["year"]: row for row in un_rows(result)}
    return [
        {
            "year": point.year,
            "value": point.value,
            "lower": point.lower,
            "upper": point.upper,
            "medium": un_by_year.get(point.year, {}).get("medium"),
            "un_lower": un_by_year.get(point.year, {}).get("lower"),
            "un_upper": un_by_year.get(point.year, {}).get("upper"),
            "difference_percent": un_by_year.get(point.year, {}).get("difference_percent"),
        }
        for point in result.points
    ]


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


def region_labels(regions) -> dict[int, str]:
    """code -> the name people choose it by; names that repeat (WPP2019 has "Europe", a Region,
    and "EUROPE", an SDG subregion) get their kind beside them: "Europe (Region)"."""
    counts: dict[str, int] = {}
    for region in regions:
        counts[region.name.casefold()] = counts.get(region.name.casefold(), 0) + 1
    return {
        region.code: (
            f"{region.name} ({region.kind})"
            if counts[region.name.casefold()] > 1 and region.kind
            else region.name
        )
        for region in regions
    }


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


def results_records(results) -> list[dict]:
    """One flat record per region and year with unrounded values in persons, the UN projection
    beside it when the data has one, and the last year the region's data record."""
    records = []
    for result in results:
        un_by_year = {row["year"]: row for row in un_rows(result)}
        for point in result.points:
            un = un_by_year.get(point.year, {})
            records.append(
                {
                    "region_code": result.code,
                    "region_name": result.name,
                    "year": point.year,
                    "value": point.value,
                    "lower": point.lower,
                    "upper": point.upper,
                    "actual": point.actual,
                    "un_medium": un.get("medium"),
                    "un_lower": un.get("lower"),
                    "un_upper": un.get("upper"),
                    "outside_un_band": un.get("outside_un_band"),
                    "last_recorded_year": result.last_recorded_year,
                }
            )
    return records


def results_csv(results) -> str:
    buffer = io.StringIO()
    # Text is quoted, so a name with a line break stays one cell; numbers stay bare.
    writer = csv.DictWriter(
        buffer, fieldnames=CSV_COLUMNS, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC
    )
    writer.writeheader()
    writer.writerows(
        {name: csv_safe(value) for name, value in record.items()}
        for record in results_records(results)
    )
    return buffer.getvalue()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """A text cell a spreadsheet would run as a formula gets a leading ' (OWASP's rule for CSV
    injection); numbers stay numbers, so a negative value is not touched."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def lags_used(lags: int | str, results) -> str:
    """The lags as people read them: "3", or "auto (chosen by AIC: 3)" with the orders fitted
    ("auto (chosen by AIC: WORLD 3, France 2)" when the regions differ)."""
    if lags != rules.LAGS_AUTO:
        return str(lags)
    orders = {result.lags for result in results}
    if len(orders) == 1:
        return f"auto (chosen by AIC: {orders.pop()})"
    chosen = ", ".join(f"{result.name} {result.lags}" for result in results)
    return f"auto (chosen by AIC: {chosen})"


def model_description(method: str, lags: int | str, results) -> str:
    """method=..., lags=... as the command prints it, naming the original app's model."""
    text = f"method={method}, lags={lags_used(lags, results)}"
    if rules.is_original_model(method, lags):
        text += " (the original app's model)"
    return text


def region_result_document(result) -> dict:
    """One region's forecast as JSON: its lags, kind of interval, points and UN comparison."""
    return {
        "region": {"code": result.code, "name": result.name},
        "lags": result.lags,
        "interval": result.interval_label,
        "backtest_mape": result.backtest_mape,
        "last_recorded_year": result.last_recorded_year,
        "history_note": result.history_note,
        "points": [
            {
                "year": point.year,
                "value": persons(point.value),
                "lower": persons(point.lower),
                "upper": persons(point.upper),
                "actual": persons(point.actual),
            }
            for point in result.points
        ],
        "un_projection": (
            {"band": result.un.band, "points": un_rows(result)} if result.un is not None else None
        ),
    }


def forecast_document(results, *, dataset, codes, start, end, method, lags, level) -> dict:
    """A computed forecast (GET /api/forecast/, the forecast command's JSON)."""
    return {
        "dataset": {"id": dataset.pk, "edition": dataset.edition},
        "params": {
            "regions": list(codes),
            "from": start,
            "to": end,
            "method": method,
            "lags": lags,
            "level": level,
        },
        "unit": UNIT,
        "results": [region_result_document(result) for result in results],
    }


def run_document(run, results, *, url: str) -> dict:
    """A stored run with its results: the API's run and the run's JSON download."""
    return {
        "id": run.pk,
        "url": url,
        "dataset": {"id": run.dataset_id, "edition": run.dataset.edition},
        "params": {
            "regions": run.region_codes,
            "from": run.start_year,
            "to": run.end_year,
            "method": run.method,
            "lags": run.lags_choice,
            "level": run.level,
            "interval": run.get_interval_display(),
        },
        "regions": [{"code": region["code"], "name": region["name"]} for region in run.regions],
        "created_at": _timestamp(run.created_at),
        "duration_ms": run.duration_ms,
        "unit": UNIT,
        "results": [region_result_document(result) for result in results],
    }


def _timestamp(moment) -> str:
    """ISO 8601 as DRF writes it (UTC as "Z"), so both front doors print the same text."""
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def settings_digest(*, codes, start, end, method, lags, level) -> str:
    """Same regions (in order) and settings -> same digest, for cache keys."""
    settings = [list(codes), start, end, method, lags, repr(level)]
    return hashlib.sha256(json.dumps(settings).encode()).hexdigest()


# --- The world ranking ---

WORLD_CSV_COLUMNS = [
    "region_code",
    "region_name",
    "kind",
    "from_year",
    "population_from",
    "to_year",
    "population_to",
    "change_percent",
    "un_medium",
    "difference_percent",
]


def world_records(ranking) -> list[dict]:
    """One flat record per region of a services.WorldRanking, in its order, unrounded."""
    return [
        {
            "code": row.code,
            "name": row.name,
            "kind": row.kind,
            "population_from": persons(row.start_population),
            "population_to": persons(row.end_population),
            "change_percent": row.change_percent,
            "un_medium": persons(row.un_medium),
            "difference_percent": row.un_difference_percent,
        }
        for row in ranking.rows
    ]


def world_document(ranking, *, dataset, kind, region) -> dict:
    """GET /api/world/: what the map colours and its tooltips say."""
    return {
        "dataset": {"id": dataset.pk, "edition": dataset.edition},
        "params": {"from": ranking.start, "to": ranking.end, "kind": kind, "region": region},
        "method": rules.DEFAULT_METHOD,
        "lags": rules.DEFAULT_LAGS,
        "unit": UNIT,
        "has_un_projections": ranking.has_un,
        "regions": world_records(ranking),
        "not_forecast": list(ranking.failures),
    }


def world_csv(ranking) -> str:
    """The ranking as the page shows it (same filter and order), one row per region."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(WORLD_CSV_COLUMNS)
    for record in world_records(ranking):
        writer.writerow(
            [
                record["code"],
                record["name"],
                record["kind"],
                ranking.start,
                _csv_persons(record["population_from"]),
                ranking.end,
                _csv_persons(record["population_to"]),
                _csv_percent(record["change_percent"]),
                _csv_persons(record["un_medium"]),
                _csv_percent(record["difference_percent"]),
            ]
        )
    return buffer.getvalue()


def _csv_persons(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def _csv_percent(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def percent_signed(value: float | None) -> str:
    """A change in percent with its sign and one decimal: +12.3%, −4.0% (a true minus sign)."""
    if value is None or not math.isfinite(value):
        return ""
    text = f"{abs(value):,.1f}%"
    if text == "0.0%":
        return text
    return ("+" if value > 0 else "\u2212") + text
