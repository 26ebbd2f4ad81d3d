"""The HTML site: thin views that validate with a form, call one service or selector, and render."""

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from . import exports, forms, modeling, selectors, services
from .models import ForecastRun, Region

RUNS_PER_PAGE = 25
LATEST_RUNS = 10


def home(request):
    """What the site does, the loaded dataset, and the forecast form.

    POST validates the form, stores a run and redirects to it. GET with the form's fields in the
    query string (``?regions=900&regions=901&from=2030&to=2035``) fills the form in and shows any
    problems, but runs nothing: a shared link or a region's "Forecast" button opens a prepared
    form, and the person presses "Forecast" (a GET never writes).
    """
    dataset = selectors.dataset_active()
    status = 200
    if request.method == "POST":
        form = forms.ForecastForm(request.POST)
        if form.is_valid():
            try:
                run = services.forecast_run_create(
                    regions=form.cleaned_data["regions"],
                    start=form.cleaned_data["start"],
                    end=form.cleaned_data["end"],
                    method=form.cleaned_data["method"],
                    lags=form.cleaned_data["lags"],
                    level=form.cleaned_data["level"],
                )
            except modeling.ForecastError as error:
                form.add_error(None, str(error))
            else:
                return redirect(run)
        status = 400
    elif any(name in request.GET for name in ("regions", "from", "to", "method", "lags", "level")):
        form = forms.forecast_form_from_query(request.GET, dataset)
        form.is_valid()
    else:
        form = forms.ForecastForm(initial=forms.forecast_form_defaults(dataset))
    context = {
        "dataset": dataset,
        "form": form,
        "search_form": forms.RegionSearchForm(),
        "latest_runs": selectors.forecast_runs()[:5],
        "limits": _limits(),
        "lag_numbers": LAG_NUMBERS,
    }
    return render(request, "forecasts/home.html", context, status=status)


def run_detail(request, pk):
    run = get_object_or_404(ForecastRun.objects.select_related("dataset"), pk=pk)
    results = services.forecast_run_results(run)
    header, rows = exports.results_table(results)
    history = selectors.regions_estimates(codes=run.region_codes)
    context = {
        "run": run,
        "header": header,
        "rows": rows,
        "has_unpredictable_years": any(cell == "" for row in rows for cell in row[1:]),
        "interval_rows": _interval_rows(results),
        "level_percent": _percent(run.level),
        "results": results,
        "lags_used": exports.lags_used(run.lags_choice, results),
        "method_description": modeling.METHODS[run.method],
        "is_original_model": run.method == modeling.ORIGINAL_METHOD and run.lags == 1,
        "has_un": any(result.un for result in results),
        "chart": {
            "unit": "persons",
            "series": [_chart_series(result, history.get(result.code)) for result in results],
        },
        "permalink": request.build_absolute_uri(run.get_absolute_url()),
        "again_url": reverse("forecasts:home") + "?" + _form_query(run),
    }
    return render(request, "forecasts/run_detail.html", context)


def run_csv(request, pk):
    run = get_object_or_404(ForecastRun, pk=pk)
    response = HttpResponse(
        exports.results_csv(services.forecast_run_results(run)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="forecast-run-{run.pk}.csv"'
    return response


def run_json(request, pk):
    run = get_object_or_404(ForecastRun, pk=pk)
    document = exports.results_json(
        services.forecast_run_results(run),
        start=run.start_year,
        end=run.end_year,
        lags=run.lags_choice,
    )
    response = JsonResponse(document, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="forecast-run-{run.pk}.json"'
    return response


def run_list(request):
    """Past runs, newest first, 25 a page; ``?region=<code>`` keeps those that include it."""
    filter_form = forms.RunFilterForm(request.GET)
    if not filter_form.is_valid():
        context = {"filter_form": filter_form, "page_obj": None, "region_name": ""}
        return render(request, "forecasts/run_list.html", context, status=400)
    region_code = filter_form.cleaned_data["region"]
    paginator = Paginator(selectors.forecast_runs(region_code=region_code), RUNS_PER_PAGE)
    context = {
        "filter_form": filter_form,
        "page_obj": paginator.get_page(request.GET.get("page")),
        "region_code": region_code,
        "region_name": _region_name(region_code),
    }
    return render(request, "forecasts/run_list.html", context)


def region_list(request):
    """The hierarchy from World down, or with ``?q=`` the regions matching a name, code or ISO3."""
    search_form = forms.RegionSearchForm(request.GET)
    if not search_form.is_valid():
        context = {"search_form": search_form, "query": "", "tree": [], "matches": None}
        return render(request, "forecasts/region_list.html", context, status=400)
    query = search_form.cleaned_data["q"].strip()
    context = {
        "search_form": search_form,
        "query": query,
        "tree": [] if query else selectors.region_tree(),
        "matches": (
            Region.objects.search(query).select_related("parent").order_by("sort_order", "code")
            if query
            else None
        ),
    }
    return render(request, "forecasts/region_list.html", context)


def region_detail(request, code):
    region = get_object_or_404(Region.objects.select_related("parent"), code=code)
    years, persons = selectors.region_series(region=region)
    outlook = services.region_outlook(region=region)
    context = {
        "region": region,
        "children": region.children.all(),
        "history_rows": list(zip(years, persons, strict=True)),
        "latest_runs": selectors.forecast_runs(region_code=region.code)[:LATEST_RUNS],
        "outlook": outlook,
        "outlook_rows": _outlook_rows(outlook),
        "outlook_last_year": outlook.points[-1].year if outlook else None,
        "outlook_level": _percent(outlook.level) if outlook else "",
        "forecast_url": reverse("forecasts:home") + "?" + urlencode({"regions": region.code}),
        "chart": {
            "unit": "persons",
            "series": [
                _chart_series(outlook, (years, persons))
                if outlook
                else {
                    "name": region.name,
                    "history": [[year, value] for year, value in zip(years, persons, strict=True)],
                }
            ],
        },
    }
    return render(request, "forecasts/region_detail.html", context)


def _limits():
    return {
        "year_min": modeling.YEAR_MIN,
        "year_max": modeling.YEAR_MAX,
        "max_regions": modeling.MAX_REGIONS,
    }


LAG_NUMBERS = range(modeling.LAGS_MIN, modeling.LAGS_MAX + 1)


def _percent(level: float) -> str:
    return f"{level * 100:g}%"


def _interval_rows(results: list[services.RegionForecast]) -> list[dict]:
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


def _chart_series(result: services.RegionForecast, history) -> dict:
    """One region's lines for the chart: recorded Estimates, the run's predictions and interval."""
    years, persons = history or ([], [])
    predicted = [point for point in result.points if point.value is not None]
    un_rows = result.un_rows
    return {
        "name": result.name,
        "history": [[year, value] for year, value in zip(years, persons, strict=True)],
        "forecast": [[point.year, point.value] for point in predicted],
        "lower": [[point.year, point.lower] for point in predicted],
        "upper": [[point.year, point.upper] for point in predicted],
        "un_medium": [[row["year"], row["medium"]] for row in un_rows],
    }


def _outlook_rows(outlook: services.RegionForecast | None) -> list[dict]:
    """The outlook's years with the UN projection beside them (None where it has none)."""
    if outlook is None:
        return []
    un_by_year = {row["year"]: row for row in outlook.un_rows}
    rows = []
    for point in outlook.points:
        un = un_by_year.get(point.year, {})
        rows.append(
            {
                "year": point.year,
                "value": point.value,
                "lower": point.lower,
                "upper": point.upper,
                "medium": un.get("medium"),
                "un_lower": un.get("lower"),
                "un_upper": un.get("upper"),
                "difference_percent": un.get("difference_percent"),
            }
        )
    return rows


def accuracy(request):
    """The latest backtest of the active dataset: its summary and the regions by error."""
    dataset = selectors.dataset_active()
    backtest_run = selectors.backtest_latest(dataset=dataset)
    context = {
        "dataset": dataset,
        "backtest_run": backtest_run,
        "results": [
            {"result": result, "errors": [_error_at(result, step) for step in (1, 5, 10)]}
            for result in (
                selectors.backtest_results(backtest_run=backtest_run) if backtest_run else []
            )
        ],
    }
    return render(request, "forecasts/accuracy.html", context)


def _error_at(result, horizon: int) -> float | None:
    errors = result.errors_by_horizon
    return errors[horizon - 1] if len(errors) >= horizon else None


def _form_query(run: ForecastRun) -> str:
    """The forecast form's fields for this run's settings, as a query string."""
    return urlencode(
        {
            "regions": run.region_codes,
            "from": run.start_year,
            "to": run.end_year,
            "method": run.method,
            "lags": run.lags_choice,
            "level": f"{run.level:g}",
        },
        doseq=True,
    )


def _region_name(code: int | None) -> str:
    if code is None:
        return ""
    region = Region.objects.filter(code=code).first()
    return region.name if region else f"region {code}"
