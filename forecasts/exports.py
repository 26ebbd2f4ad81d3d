"""Forecast results as people read them (the original app's table) and as files (CSV, JSON)."""

import csv
import io

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


def results_json(results: list[RegionForecast], *, start: int, end: int) -> dict:
    """Results grouped by region, with the settings that produced them."""
    first = results[0] if results else None
    return {
        "params": {
            "from": start,
            "to": end,
            "lags": first.lags if first else None,
            "level": first.level if first else None,
        },
        "unit": "persons",
        "results": [
            {
                "region": {"code": result.code, "name": result.name},
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
            }
            for result in results
        ],
    }
