"""Forecast results as people read them (the original app's table) and as files (CSV, JSON)."""

import csv
import io

from . import modeling
from .services import RegionForecast

CSV_COLUMNS = ["region_code", "region_name", "year", "value", "lower", "upper", "actual"]


def persons_rounded(value: float | None) -> str:
    """Persons rounded to the nearest thousand with thousands separators: 1,234,567,000."""
    if value is None:
        return ""
    return f"{round(value / 1000) * 1000:,.0f}"


def results_table(results: list[RegionForecast]) -> tuple[list[str], list[list[str]]]:
    """The original app's table: a row per year, a column per region, rounded persons."""
    header = ["Year"] + [result.name for result in results]
    years = [point.year for point in results[0].points] if results else []
    rows = [
        [str(year)] + [persons_rounded(result.points[index].value) for result in results]
        for index, year in enumerate(years)
    ]
    return header, rows


def results_text_table(results: list[RegionForecast]) -> str:
    header, rows = results_table(results)
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(widths[0]) if column == 0 else cell.rjust(widths[column])
            for column, cell in enumerate(row)
        )
        for row in [header, *rows]
    ]
    return "\n".join(lines)


def results_records(results: list[RegionForecast]) -> list[dict]:
    """One flat record per region and year with unrounded values in persons."""
    return [
        {
            "region_code": result.code,
            "region_name": result.name,
            "year": point.year,
            "value": point.value,
            "lower": point.lower,
            "upper": point.upper,
            "actual": point.actual,
        }
        for result in results
        for point in result.points
    ]


def results_csv(results: list[RegionForecast]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(results_records(results))
    return buffer.getvalue()


def lags_used(lags: int | str, results: list[RegionForecast]) -> str:
    """The lags as people read them: "3", or "auto (chosen by AIC: 3)" with the orders fitted
    ("auto (chosen by AIC: WORLD 3, France 2)" when the regions differ)."""
    if lags != modeling.LAGS_AUTO:
        return str(lags)
    orders = {result.lags for result in results}
    if len(orders) == 1:
        return f"auto (chosen by AIC: {orders.pop()})"
    chosen = ", ".join(f"{result.name} {result.lags}" for result in results)
    return f"auto (chosen by AIC: {chosen})"


def model_description(method: str, lags: int | str, results: list[RegionForecast]) -> str:
    """method=..., lags=... as the command prints it, naming the original app's model."""
    text = f"method={method}, lags={lags_used(lags, results)}"
    if method == modeling.ORIGINAL_METHOD and lags == 1:
        text += " (the original app's model)"
    return text


def results_json(
    results: list[RegionForecast], *, start: int, end: int, lags: int | str | None = None
) -> dict:
    """Results grouped by region, with the settings that produced them.

    ``lags`` is what was asked (a number or "auto"); each region carries the lags fitted to it,
    its kind of interval, and the UN projection beside the forecast when the data has one.
    """
    first = results[0] if results else None
    return {
        "params": {
            "from": start,
            "to": end,
            "method": first.method if first else None,
            "lags": lags if lags is not None else (first.lags if first else None),
            "level": first.level if first else None,
        },
        "unit": "persons",
        "results": [
            {
                "region": {"code": result.code, "name": result.name},
                "lags": result.lags,
                "interval": result.interval_label,
                "backtest_mape": result.backtest_mape,
                "points": [
                    {
                        "year": point.year,
                        "value": point.value,
                        "lower": point.lower,
                        "upper": point.upper,
                        "actual": point.actual,
                    }
                    for point in result.points
                ],
                "un_projection": un_projection_json(result),
            }
            for result in results
        ],
    }


def un_projection_json(result: RegionForecast) -> dict | None:
    """The UN projection beside a forecast (None when the data has none for the region)."""
    if result.un is None:
        return None
    return {"band": result.un.band, "points": result.un_rows}
