"""Forecasts as rows: the original app's table, intervals, the UN comparison, text for a terminal."""

from forecasts import rules

from .numbers import number_cell, persons, persons_readable, persons_rounded


def results_table(results) -> tuple[list[str], list[list[str]]]:
    """The original app's table: a row per year, a column per region, rounded persons."""
    header = ["Year"] + [result.name for result in results]
    years = [point.year for point in results[0].points] if results else []
    rows = [
        [str(year)] + [persons_rounded(result.points[index].value) for result in results]
        for index, year in enumerate(years)
    ]
    return header, rows


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
