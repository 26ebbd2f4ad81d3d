"""Store forecasts as runs and read them back; re-run them on new data, prune old ones.

Creating a run returns the run with its results: nothing is written and read back, nothing
computed twice; on PostgreSQL the run and its points are stored in one statement. Stored results
never change afterwards.
"""

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from forecasts import modeling, rules, selectors
from forecasts.active_data import ActiveData, active_data
from forecasts.models import ForecastPoint, ForecastRun, Region, RunBudgetUse

from .forecasts import (
    RegionForecast,
    _un_between,
    backtest_error,
    forecast_compute,
    required_data,
)

if TYPE_CHECKING:  # the front doors build a client's budget; the store only charges it
    from forecasts.throttling import RunBudget


@dataclass(frozen=True)
class StoredRun:
    """A run just stored, with the results it was stored from."""

    run: ForecastRun
    results: list[RegionForecast]


def forecast_run_find(
    *,
    data: ActiveData | None = None,
    regions: list[Region],
    start: int,
    end: int,
    method: str = rules.DEFAULT_METHOD,
    lags: int | str = rules.DEFAULT_LAGS,
    level: float = rules.DEFAULT_LEVEL,
) -> int | None:
    """The id of the newest stored run with exactly these settings (regions in the same order)
    on the same data, or None. A run is a pure function of them, so pressing "Forecast" twice
    should open the same page instead of storing the same numbers again (the site's form stores
    with forecast_run_reuse_or_create, which looks the same way; this lookup alone serves a
    client over its budget).

    One indexed probe in plain SQL (``_find_sql``): building the query through the ORM took
    four fifths of its time (1.0 ms against 0.15 ms, measured on PostgreSQL).
    """
    data = data or required_data()
    key = ForecastRun.settings_key_of(
        codes=[region.code for region in regions],
        start=start,
        end=end,
        method=method,
        lags=None if lags == rules.LAGS_AUTO else lags,
        level=level,
    )
    return _stored_id(data.dataset.pk, key)


@functools.cache
def _find_sql() -> str:
    """The newest run of a dataset with a settings key (the run_settings_key index)."""
    quote = connection.ops.quote_name
    fields = {field.name: quote(field.column) for field in ForecastRun._meta.concrete_fields}
    return (
        f"SELECT {fields['id']} FROM {quote(ForecastRun._meta.db_table)} "
        f"WHERE {fields['dataset']} = %s AND {fields['settings_key']} = %s "
        f"ORDER BY {fields['created_at']} DESC, {fields['id']} DESC LIMIT 1"
    )


def forecast_run_create(
    *,
    data: ActiveData | None = None,
    regions: list[Region],
    start: int,
    end: int,
    method: str = rules.DEFAULT_METHOD,
    lags: int | str = rules.DEFAULT_LAGS,
    level: float = rules.DEFAULT_LEVEL,
    budget: "RunBudget | None" = None,
) -> StoredRun:
    """Compute a forecast and store it with its settings and the dataset it was fitted on.

    The run records the lags asked for (None for "auto") and, in each ``regions`` entry, the lags
    fitted to that region. The run and all its points are stored together (``_store``): a run
    is never seen without its points. With ``budget`` (a front door's client), the run is
    charged to it as it is stored, and RunBudgetSpent is raised instead when it is spent.
    """
    data = data or required_data()
    if budget is not None and budget.known_spent():
        raise budget.spent()
    run, results = _computed_run(data, regions, start, end, method, lags, level)
    _store(run, _point_rows(results), budget=budget)
    return StoredRun(run=run, results=results)


def forecast_run_reuse_or_create(
    *,
    data: ActiveData | None = None,
    regions: list[Region],
    start: int,
    end: int,
    method: str = rules.DEFAULT_METHOD,
    lags: int | str = rules.DEFAULT_LAGS,
    level: float = rules.DEFAULT_LEVEL,
    budget: "RunBudget | None" = None,
) -> tuple[int, bool]:
    """The id of the newest run with exactly these settings on the same data (as
    forecast_run_find finds it), else of a run stored now (as forecast_run_create stores it,
    charged to ``budget``); and whether it was stored now. What the site's form does: pressing
    "Forecast" twice opens the same page instead of storing the same numbers again, and a
    stored run is opened even when the budget is spent (RunBudgetSpent otherwise).

    Why not forecast_run_find and then forecast_run_create: on PostgreSQL the lookup goes into
    the statement that stores the run (``_insert_sql(reuse=True)``), one round trip instead of
    two, and each round trip cost the web worker 0.1-0.15 ms of CPU on this machine, a twentieth
    of a form POST. The forecast is computed either way (0.1 ms); only a new run is stored.
    """
    data = data or required_data()
    if budget is not None and budget.known_spent():
        asked = dict(start=start, end=end, method=method, lags=lags, level=level)
        existing = forecast_run_find(data=data, regions=regions, **asked)
        if existing is None:
            raise budget.spent()
        return existing, False
    run, results = _computed_run(data, regions, start, end, method, lags, level)
    created = _store(run, _point_rows(results), reuse=True, budget=budget)
    return run.pk, created


def _computed_run(data, regions, start, end, method, lags, level):
    """The forecast's results and the run, not yet stored, that records them."""
    started = time.perf_counter()
    results = forecast_compute(
        data=data, regions=regions, start=start, end=end, method=method, lags=lags, level=level
    )
    run = ForecastRun(
        dataset=data.dataset,
        regions=[
            {
                "code": result.code,
                "name": result.name,
                "lags": result.lags,
                "last_recorded_year": result.last_recorded_year,
                "history_note": result.history_note,
            }
            for result in results
        ],
        start_year=start,
        end_year=end,
        method=method,
        lags=None if lags == rules.LAGS_AUTO else lags,
        level=level,
        interval=results[0].interval if results else ForecastRun.Interval.MODEL,
        duration_ms=(time.perf_counter() - started) * 1000,
    )
    return run, results


POINT_COLUMNS = ("region_code", "year", "value", "lower", "upper", "actual")
POINT_TYPES = ("integer", "smallint", "float8", "float8", "float8", "float8")


def _point_rows(results: list[RegionForecast]) -> list[tuple]:
    return [
        (
            result.code,
            point.year,
            *(_number(x) for x in (point.value, point.lower, point.upper, point.actual)),
        )
        for result in results
        for point in result.points
    ]


def _store(
    run: ForecastRun, rows: list[tuple], *, reuse: bool = False, budget: "RunBudget | None" = None
) -> bool:
    """Insert ``run`` and its point ``rows`` and give ``run`` its id: on PostgreSQL in one
    statement (``_insert_sql``), elsewhere the run and then its points with bulk_create, in one
    transaction. With ``reuse``, when a run with the same settings is stored on the same data,
    store nothing and give ``run`` that run's id. With ``budget``, a new run is charged to it
    (on PostgreSQL in the same statement), and RunBudgetSpent is raised when it is spent. True
    when the run was stored now."""
    run.fill_settings_key()
    # The wrapper itself, not the ``connection`` proxy: each attribute read through the proxy
    # looks the connection up again in a context-local (a few microseconds, a dozen times here).
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        with transaction.atomic():
            existing = _stored_id(run.dataset_id, run.settings_key) if reuse else None
            if existing is not None:
                run.pk = existing
                return False
            if budget is not None and not budget.charge_in_cache():
                raise budget.spent()
            run.save()
            ForecastPoint.objects.bulk_create(
                ForecastPoint(run=run, **dict(zip(POINT_COLUMNS, row, strict=True))) for row in rows
            )
        return True
    fields = _run_fields()
    values = [field.get_db_prep_save(field.pre_save(run, True), db) for field in fields]
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in POINT_COLUMNS]
    params = [*values, *map(_array_literal, columns)]
    if budget is not None:
        window, client = budget.window_start, budget.client
        params = [window, window, client, budget.cost, budget.limit, *params]
    if reuse:
        params = [run.dataset_id, run.settings_key, *params]
    name = "popforecasts_run_" + ("reuse_or_store" if reuse else "store")
    name += "_charged" if budget is not None else ""
    with db.cursor() as cursor:
        _execute(db, cursor, name, _insert_sql(reuse=reuse, charged=budget is not None), params)
        answer = cursor.fetchone()
    if answer is None:  # only a charge can keep a run from being stored or found
        raise budget.spent()
    run.pk, created = answer
    if created:
        run._state.adding = False
        run._state.db = db.alias
    return created


def _stored_id(dataset_id: int, settings_key: str) -> int | None:
    db = connections[DEFAULT_DB_ALIAS]
    with db.cursor() as cursor:
        _execute(db, cursor, "popforecasts_run_find", _find_sql(), [dataset_id, settings_key])
        row = cursor.fetchone()
    return row[0] if row else None


def _run_fields():
    return [field for field in ForecastRun._meta.concrete_fields if not field.primary_key]


def _array_literal(column) -> str:
    """A column of points as one PostgreSQL array literal, '{2030,2031}' or '{8.1e9,NULL}'.

    Why not a list: psycopg2 writes a list as ARRAY[8100000000.0, ...], one numeric constant per
    point for PostgreSQL to parse, plan and cast; one literal is parsed once by the array's input
    function. Storing a run of 22 points took 1.35 ms and now 0.8 ms (measured on PostgreSQL 15).
    str() of a float is the shortest text that reads back as the same float: nothing is rounded.
    The values are numbers or None, so "None" can only be a missing value (joining them all with
    str and then renaming it takes half the time of choosing per value).
    """
    return "{" + ",".join(map(str, column)).replace("None", "NULL") + "}"


@functools.cache
def _insert_sql(*, reuse: bool, charged: bool = False) -> str:
    """One statement that inserts a run and its points (six arrays, UNNEST) and gives the run's
    id and True; with ``reuse``, first looks up the newest run with the same settings on the
    same data (``_find_sql``'s query, two more parameters in front) and, when there is one,
    inserts nothing and gives its id and False; with ``charged``, charges a new run to the
    client's run budget (``_charge_sql``, five more parameters after those) and gives no row when
    the budget is spent.

    Why one statement: outside a transaction PostgreSQL runs it as its own, so storing a run is
    one round trip, where BEGIN, SET LOCAL, the run's INSERT, the points' INSERT and COMMIT were
    five, and building a model instance per point was a fifth of the time of storing a run.
    The first CTE turns synchronous_commit off for this transaction only: the COMMIT returns
    before its WAL reaches the disk (half the time of storing a run was the wait for fsync). Safe
    here: the database stays consistent after a crash, and what a crash could lose is the last
    fraction of a second of runs, each a pure function of settings and data that can be computed
    again. Imports and everything else keep the server's default.
    """
    quote = connection.ops.quote_name
    fields = _run_fields()
    run_columns = ", ".join(quote(field.column) for field in fields)
    # Typed placeholders: in INSERT ... SELECT (reuse) PostgreSQL does not take the parameters'
    # types from the columns, as it does in VALUES.
    run_values = ", ".join(f"%s::{field.cast_db_type(connection)}" for field in fields)
    point_columns = ", ".join(quote(name) for name in ("run_id", *POINT_COLUMNS))
    arrays = ", ".join(f"%s::{kind}[]" for kind in POINT_TYPES)
    insert_run = f"INSERT INTO {quote(ForecastRun._meta.db_table)} ({run_columns}) "
    ctes = ["commit_setting AS (SELECT set_config('synchronous_commit', 'off', true))"]
    if reuse:
        ctes.append(f"existing AS ({_find_sql()})")
    if charged:
        ctes.extend(_charge_sql(only_if_new=reuse))
        insert_run += f"SELECT {run_values} WHERE EXISTS (SELECT FROM charge)"
    elif reuse:
        insert_run += f"SELECT {run_values} WHERE NOT EXISTS (SELECT FROM existing)"
    else:
        insert_run += f"VALUES ({run_values})"
    ctes.append(f"new_run AS ({insert_run} RETURNING id)")
    ctes.append(
        f"new_points AS (INSERT INTO {quote(ForecastPoint._meta.db_table)} ({point_columns}) "
        f"SELECT new_run.id, point.* FROM new_run, UNNEST({arrays}) AS point)"
    )
    answer = "SELECT new_run.id, true FROM new_run, commit_setting"
    if reuse:
        answer += " UNION ALL SELECT id, false FROM existing"
    return "WITH " + ", ".join(ctes) + " " + answer


def _charge_sql(*, only_if_new: bool) -> list[str]:
    """The CTEs that charge a run to its client's budget (models.RunBudgetUse; parameters: the
    window's start twice, the client, the cost and the limit): ``stale`` deletes the counts of
    earlier windows, ``charge`` adds the cost to the client's count in this one and gives a row
    when the run is within the budget, none when it is not (and then nothing is added). As in
    throttling's cache counting, a run is refused when the count would pass the limit and the
    window was not empty before it: a first run dearer than the whole budget goes through alone.
    With ``only_if_new``, nothing is charged when ``existing`` found a stored run."""
    quote = connection.ops.quote_name
    table = quote(RunBudgetUse._meta.db_table)
    window, client, used = (
        quote(RunBudgetUse._meta.get_field(name).column)
        for name in ("window_start", "client", "used")
    )
    condition = " WHERE NOT EXISTS (SELECT FROM existing)" if only_if_new else ""
    return [
        f"stale AS (DELETE FROM {table} WHERE {window} < %s)",
        f"charge AS (INSERT INTO {table} ({window}, {client}, {used}) "
        f"SELECT %s::bigint, %s::varchar, %s::integer{condition} "
        f"ON CONFLICT ({window}, {client}) DO UPDATE SET {used} = {table}.{used} + EXCLUDED.{used} "
        f"WHERE {table}.{used} + EXCLUDED.{used} <= %s::bigint RETURNING 1)",
    ]


def _execute(db, cursor, name: str, sql: str, params: list) -> None:
    """Run one of this module's statements on ``db`` (a connection); prepared once per
    connection where the database backend offers it (popsite.postgresql), since the site runs
    them for every stored run."""
    execute_prepared = getattr(db, "execute_prepared", None)
    if execute_prepared is None:
        cursor.execute(sql, params)
    else:
        execute_prepared(cursor, name, sql, params)


def _number(value) -> float | None:
    """A float the database driver takes (numpy's float64 is not one psycopg2 adapts)."""
    return None if value is None else float(value)


def forecast_run_results(
    run: ForecastRun, *, data: ActiveData | None = None
) -> list[RegionForecast]:
    """A stored run's results in the shape forecast_compute returns, regions in the order asked.

    The UN projection and backtest errors beside them come from the run's dataset while it is the
    active one (``data``); a run on replaced data shows its own results only.
    """
    data = data or active_data()
    points_by_region: dict[int, list[modeling.Point]] = {}
    for code, year, value, lower, upper, actual in run.points.order_by(
        "region_code", "year"
    ).values_list("region_code", "year", "value", "lower", "upper", "actual"):
        points_by_region.setdefault(code, []).append(
            modeling.Point(year=year, value=value, lower=lower, upper=upper, actual=actual)
        )
    current = data is not None and data.dataset.pk == run.dataset_id
    projections = data.un_projections() if current else {}
    mapes = data.backtest_mapes(run.method, run.lags_choice) if current else {}
    return [
        RegionForecast(
            code=region["code"],
            name=region["name"],
            lags=region.get("lags", run.lags),
            level=run.level,
            points=points_by_region.get(region["code"], []),
            method=run.method,
            interval=run.interval,
            un=_un_between(projections.get(region["code"]), run.start_year, run.end_year),
            **backtest_error(
                mapes.get(region["code"]), run.end_year, region.get("last_recorded_year")
            ),
            last_recorded_year=region.get("last_recorded_year"),
            history_note=region.get("history_note", ""),
        )
        for region in run.regions
    ]


class RegionsMissingError(rules.ForecastError):
    """A run's regions that the current data lacks (the message names them)."""


def forecast_run_rerun(*, data: ActiveData | None = None, run: ForecastRun) -> StoredRun:
    """Store a new run with ``run``'s regions and settings, fitted on the active data.

    ``run`` itself stays as it was. Raises RegionsMissingError naming the run's regions that the
    current data lacks, ForecastError when a series cannot be fitted.
    """
    data = data or required_data()
    missing = [
        f"{region['name']} ({region['code']})"
        for region in run.regions
        if region["code"] not in data.regions or not data.regions[region["code"]].has_data
    ]
    if missing:
        raise RegionsMissingError(
            "Not in the current data: " + ", ".join(missing) + "; import a dataset that has them."
        )
    return forecast_run_create(
        data=data,
        regions=[data.regions[code] for code in run.region_codes],
        start=run.start_year,
        end=run.end_year,
        method=run.method,
        lags=run.lags_choice,
        level=run.level,
    )


@dataclass
class RerunOutcome:
    """What forecast_runs_rerun did: (old id, new id) pairs, and (old id, reason) for the rest."""

    created: list[tuple[int, int]] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


def forecast_runs_rerun(
    *, run_ids: list[int], progress: Callable[[int], None] | None = None
) -> RerunOutcome:
    """Re-run each of the given runs on the active data (forecast_run_rerun), oldest first.

    A run that cannot be re-run (a region the data lacks, a series that cannot be fitted, a run
    deleted since it was chosen) is listed in ``refused`` with the reason and the others go on:
    one bad run should not cost the operator the rest. Each new run is stored in its own
    transaction. ``progress`` receives the number of runs handled so far. Raises ForecastError
    when no data is loaded.
    """
    data = required_data()
    outcome = RerunOutcome()
    runs = {run.pk: run for run in ForecastRun.objects.filter(pk__in=run_ids)}
    for done, run_id in enumerate(sorted(run_ids), start=1):
        run = runs.get(run_id)
        if run is None:
            outcome.refused.append((run_id, "It was deleted before it could be re-run."))
        else:
            try:
                outcome.created.append((run_id, forecast_run_rerun(data=data, run=run).run.pk))
            except (selectors.RegionLookupError, rules.ForecastError) as error:
                outcome.refused.append((run_id, str(error)))
        if progress:
            progress(done)
    return outcome


@transaction.atomic
def forecast_runs_prune(*, older_than_days: int, dry_run: bool = False) -> int:
    """Delete the forecast runs created more than ``older_than_days`` days ago, with their points.

    Returns how many runs were deleted (or, with ``dry_run``, would be).
    """
    runs = ForecastRun.objects.filter(
        created_at__lt=timezone.now() - timedelta(days=older_than_days)
    )
    if dry_run:
        return runs.count()
    _, deleted = runs.delete()
    return deleted.get(ForecastRun._meta.label, 0)
