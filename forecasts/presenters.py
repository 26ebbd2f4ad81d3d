"""One presenter of forecasts: what people see and download, in every front door.

The site's tables and chart, the command's text table, the CSV and the JSON documents are all built
here from the services' RegionForecast results, so the same forecast never has two shapes. The run's
JSON download and ``GET /api/runs/<id>/`` return the same document (run_document).
"""

import csv
import hashlib
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


def chart_series(result, history) -> dict:
    """One region's lines for the chart: recorded Estimates, the predictions and interval, and
    the UN Medium when the data has it. ``result`` may be None (a region with history only)."""
    years, values = history if history is not None else ([], [])
    series = {
        "history": [[int(year), float(value)] for year, value in zip(years, values, strict=True)]
    }
    if result is None:
        return series
    predicted = [point for point in result.points if point.value is not None]
    return {
        "name": result.name,
        **series,
        "forecast": [[point.year, persons(point.value)] for point in predicted],
        "lower": [[point.year, persons(point.lower)] for point in predicted],
        "upper": [[point.year, persons(point.upper)] for point in predicted],
        "un_medium": [[row["year"], row["medium"]] for row in un_rows(result)],
    }


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
