"""Forecasts as files: CSV (spreadsheet-safe) and the JSON documents the API and downloads share."""

import csv
import hashlib
import io
import json

from forecasts import rules

from .numbers import LICENCE, SOURCE, UNIT, persons
from .tables import un_rows

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
    "method",
    "lags",
    "level",
    "interval",
    "dataset",
    "unit",
    "source",
    "licence",
]


def results_records(results, *, dataset: str) -> list[dict]:
    """One flat record per region and year with unrounded values in persons, the UN projection
    beside it when the data has one, the last year the region's data record, and what a file
    needs to stand alone: the model and its settings, the dataset edition, unit, source, licence."""
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
                    "method": result.method,
                    "lags": result.lags,
                    "level": result.level,
                    "interval": result.interval_label,
                    "dataset": dataset,
                    "unit": UNIT,
                    "source": SOURCE,
                    "licence": LICENCE,
                }
            )
    return records


def results_csv(results, *, dataset: str) -> str:
    """The results as CSV, one row per region and year (results_records), ``dataset`` its edition."""
    buffer = io.StringIO()
    # Text is quoted, so a name with a line break stays one cell; numbers stay bare.
    writer = csv.DictWriter(
        buffer, fieldnames=CSV_COLUMNS, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC
    )
    writer.writeheader()
    writer.writerows(
        {name: csv_safe(value) for name, value in record.items()}
        for record in results_records(results, dataset=dataset)
    )
    return buffer.getvalue()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """A text cell a spreadsheet would run as a formula gets a leading ' (OWASP's rule for CSV
    injection); numbers stay numbers, so a negative value is not touched."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def region_result_document(result) -> dict:
    """One region's forecast as JSON: its lags, kind of interval, points and UN comparison."""
    return {
        "region": {"code": result.code, "name": result.name},
        "lags": result.lags,
        "interval": result.interval_label,
        "backtest_mape": result.backtest_mape,
        "backtest_holdout": result.backtest_holdout,
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
        "source": SOURCE,
        "licence": LICENCE,
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
        "source": SOURCE,
        "licence": LICENCE,
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
