"""The HTML site: thin views that validate with a form, call one service or selector, and render."""

from urllib.parse import urlencode

from csp.decorators import csp_replace
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt

from . import charts, forms, page_cache, presenters, rules, selectors, services, throttling
from .active_data import active_data
from .models import ForecastRun, Region

RUNS_PER_PAGE = 25
LATEST_RUNS = 10
# A run never changes: its page lives as long as the data it is shown with (or memory allows).
RUN_PAGE_SECONDS = 60 * 60


def home(request):
    """What the site does, the loaded dataset, and the forecast form.

    POST validates the form, stores a run and redirects to it (to the run already stored with
    the same settings on the same data, when there is one: nothing is stored twice). GET with the form's fields in the
    query string (``?regions=900&regions=901&from=2030&to=2035``) fills the form in and shows any
    problems, but runs nothing: a shared link or a region's "Forecast" button opens a prepared
    form, and the person presses "Forecast" (a GET never writes).
    """
    data = active_data()
    status = 200
    if request.method == "POST":
        form = forms.ForecastForm(request.POST, data_source=data)
        if form.is_valid():
            existing = services.forecast_run_find(data=data, **form.cleaned_data)
            if existing is not None:
                return redirect(existing)
            stored, status = _store_run(request, form, data)
            if stored is not None:
                return redirect(stored.run)
        else:
            status = 400
    elif any(name in request.GET for name in ("regions", "from", "to", "method", "lags", "level")):
        form = forms.forecast_form_from_query(request.GET, data)
        form.is_valid()
    else:
        # The plain form: the same page for everyone until the data or the latest runs change.
        key = ("home", data.generation if data else None, page_cache.newest_run_id())
        return page_cache.cached_page(request, key, lambda: _home_page(request, data))
    return _home_page(request, data, form=form, status=status)


def _home_page(request, data, *, form=None, status=200):
    """The home page; without ``form``, the empty form with its defaults and the CSRF token's
    placeholder (page_cache)."""
    dataset = data.dataset if data else None
    context = {
        "dataset": dataset,
        "form": form
        or forms.ForecastForm(initial=forms.forecast_form_defaults(dataset), data_source=data),
        "search_form": forms.RegionSearchForm(),
        "latest_runs": selectors.forecast_runs()[:5],
        "limits": _limits(),
        "lag_numbers": LAG_NUMBERS,
    }
    if form is None:
        context["csrf_token"] = page_cache.CSRF_PLACEHOLDER
    return render(request, "forecasts/home.html", context, status=status)


def _store_run(request, form, data) -> tuple[services.StoredRun | None, int]:
    """Store the valid form's run within the client's budget (forecasts.throttling); or None,
    with the problem added to the form and the status to answer (429 over budget, else 400)."""
    settings = form.cleaned_data
    wait = throttling.run_budget_charge(
        request, regions=len(settings["regions"]), years=settings["end"] - settings["start"] + 1
    )
    if wait is not None:
        form.add_error(None, f"Too many forecasts stored from here; try again in {wait:.0f} s.")
        return None, 429
    try:
        return services.forecast_run_create(data=data, **settings), 200
    except rules.ForecastError as error:
        form.add_error(None, str(error))
        return None, 400


def run_detail(request, pk):
    """A stored run. Its page is cached (page_cache) per chart scale and data generation, since the UN
    projections and backtest errors beside the run come from the active data, and per host, for
    the permalink; the run itself never changes, and a deleted one is a 404 at once."""
    run = get_object_or_404(ForecastRun.objects.select_related("dataset"), pk=pk)
    data = active_data()
    key = (
        "run",
        run.pk,
        request.GET.get("scale"),
        data.generation if data else None,
        request.get_host(),
        request.is_secure(),
    )
    return page_cache.cached_page(
        request, key, lambda: _run_page(request, run, data), seconds=RUN_PAGE_SECONDS
    )


def _run_page(request, run, data):
    results = services.forecast_run_results(run, data=data)
    header, rows = presenters.results_table(results)
    chart = _run_chart(run, results, data, request.GET.get("scale"))
    context = {
        "run": run,
        "header": header,
        "rows": rows,
        "has_unpredictable_years": any(cell == "" for row in rows for cell in row[1:]),
        "interval_rows": presenters.interval_rows(results),
        "level_percent": presenters.percent(run.level),
        "results": results,
        "un_results": [result for result in results if result.un],
        "lags_used": presenters.lags_used(run.lags_choice, results),
        "method_description": rules.method_label(run.method),
        "is_original_model": rules.is_original_model(run.method, run.lags_choice),
        "has_un": any(result.un for result in results),
        "table_rows": presenters.results_cells(results),
        "headline": presenters.forecast_headline(results, level=presenters.percent(run.level)),
        "chart": chart,
        "chart_svg": charts.svg(chart, standalone=False),
        "chart_gaps": presenters.chart_gaps(chart["series"]),
        "chart_caption": _run_chart_caption(run, any(result.un for result in results)),
        "image_url": request.build_absolute_uri(reverse("forecasts:run_svg", args=[run.pk])),
        "embed_html": presenters.embed_html(
            request.build_absolute_uri(reverse("forecasts:run_embed", args=[run.pk])),
            title=chart["title"],
        ),
        "scale": chart["scale"],
        "permalink": request.build_absolute_uri(run.get_absolute_url()),
        "again_url": reverse("forecasts:home") + "?" + _form_query(run),
    }
    return render(request, "forecasts/run_detail.html", context)


def _run_chart_caption(run, has_un: bool) -> str:
    caption = (
        f"Recorded population (solid), forecast (dashed) and its {presenters.percent(run.level)} "
        f"{run.get_interval_display()} prediction interval (band)"
    )
    if has_un:
        caption += ", UN Medium projection (dotted) and its band (light)"
    return caption + ". Each line is named at its end."


def _run_chart(run, results, data, scale) -> dict:
    return presenters.forecast_chart(
        results,
        [data.history(result.code) if data else None for result in results],
        level=presenters.percent(run.level),
        scale=presenters.chart_scale(scale),
    )


def run_svg(request, pk):
    """The run's chart drawn on the server (charts.svg): the no-JavaScript chart, the "Download
    SVG" button and the link preview's image; ``?scale=log`` as on the page."""
    run = get_object_or_404(ForecastRun.objects.select_related("dataset"), pk=pk)
    data = active_data()
    chart = _run_chart(
        run, services.forecast_run_results(run, data=data), data, request.GET.get("scale")
    )
    response = HttpResponse(charts.svg(chart), content_type="image/svg+xml; charset=utf-8")
    if "download" in request.GET:
        response["Content-Disposition"] = f'attachment; filename="forecast-run-{run.pk}.svg"'
    return response


@xframe_options_exempt
@csp_replace({"frame-ancestors": ["*"]})
def run_embed(request, pk):
    """The run's chart alone, for other sites to put in an <iframe>: this view only may be
    framed by anyone (X-Frame-Options left out, CSP frame-ancestors *); every other page keeps
    DENY / 'none'."""
    run = get_object_or_404(ForecastRun.objects.select_related("dataset"), pk=pk)
    data = active_data()
    chart = _run_chart(
        run, services.forecast_run_results(run, data=data), data, request.GET.get("scale")
    )
    context = {
        "run": run,
        "chart": chart,
        "chart_svg": charts.svg(chart, standalone=False),
        "permalink": request.build_absolute_uri(run.get_absolute_url()),
    }
    return render(request, "forecasts/run_embed.html", context)


def run_csv(request, pk):
    run = get_object_or_404(ForecastRun, pk=pk)
    response = HttpResponse(
        presenters.results_csv(services.forecast_run_results(run)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="forecast-run-{run.pk}.csv"'
    return response


def run_json(request, pk):
    """The same document as GET /api/runs/<id>/, as a download."""
    run = get_object_or_404(ForecastRun.objects.select_related("dataset"), pk=pk)
    url = request.build_absolute_uri(reverse("api:run_detail", args=[run.pk]))
    document = presenters.run_document(run, services.forecast_run_results(run), url=url)
    response = JsonResponse(document, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="forecast-run-{run.pk}.json"'
    return response


def run_list(request):
    """Past runs, newest first, 25 a page; ``?region=<code>`` keeps those that include it.

    Cached (page_cache) per region filter, page, data generation and newest run."""
    data = active_data()
    key = (
        "runs",
        request.GET.get("region"),
        request.GET.get("page"),
        data.generation if data else None,
        page_cache.newest_run_id(),
    )
    return page_cache.cached_page(request, key, lambda: _run_list_page(request))


def _run_list_page(request):
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
    matches, suggestions = selectors.region_search(query) if query else (None, [])
    context = {
        "search_form": search_form,
        "query": query,
        "tree": [] if query else selectors.region_tree(),
        "matches": matches,
        "suggestions": suggestions,
    }
    return render(request, "forecasts/region_list.html", context)


def region_detail(request, code):
    """A region's history, its outlook and the latest runs that include it; cached
    (page_cache) per chart scale, data generation, newest run and host (the permalink)."""
    data = active_data()
    if data is None or code not in data.regions:
        return _region_page(request, code, data)
    key = (
        "region",
        code,
        request.GET.get("scale"),
        data.generation,
        page_cache.newest_run_id(),
        request.get_host(),
        request.is_secure(),
    )
    return page_cache.cached_page(request, key, lambda: _region_page(request, code, data))


def _region_page(request, code, data):
    region = get_object_or_404(Region.objects.select_related("parent"), code=code)
    history = data.history(region.code) if data else ([], [])
    outlook = services.region_outlook(data=data, region=region) if data else None
    scale = presenters.chart_scale(request.GET.get("scale"))
    if outlook:
        level = presenters.percent(outlook.level)
        chart = presenters.forecast_chart([outlook], [history], level=level, scale=scale)
    else:
        chart = presenters.history_chart(region.name, history, scale=scale)
    context = {
        "region": region,
        "children": region.children.all(),
        "history_rows": [(int(year), int(persons)) for year, persons in zip(*history, strict=True)],
        "latest_runs": selectors.forecast_runs(region_code=region.code)[:LATEST_RUNS],
        "outlook": outlook,
        "outlook_rows": presenters.outlook_rows(outlook),
        "outlook_last_year": outlook.points[-1].year if outlook else None,
        "outlook_level": presenters.percent(outlook.level) if outlook else "",
        "forecast_url": reverse("forecasts:home") + "?" + urlencode({"regions": region.code}),
        "chart": chart,
        "chart_svg": charts.svg(chart, standalone=False),
        "scale": scale,
        "chart_caption": _region_chart_caption(region, outlook),
        "description": presenters.region_description(region, history, outlook),
        "permalink": request.build_absolute_uri(region.get_absolute_url()),
    }
    return render(request, "forecasts/region_detail.html", context)


def _region_chart_caption(region: Region, outlook) -> str:
    caption = (
        f"Population of {region.name} (persons): recorded {region.first_year}–{region.last_year}"
    )
    if outlook:
        caption += f", forecast to {outlook.points[-1].year} (dashed) with its interval (band)"
    return caption


def _limits():
    return {
        "year_min": rules.YEAR_MIN,
        "year_max": rules.YEAR_MAX,
        "max_regions": rules.MAX_REGIONS,
    }


LAG_NUMBERS = range(rules.LAGS_MIN, rules.LAGS_MAX + 1)


def accuracy(request):
    """The site's models at 10, 20 and 30 years, then the default's 10-year backtest by region
    (or, before those exist, the newest backtest of the data). Cached (page_cache) per data
    generation, which names the newest backtest."""
    data = active_data()
    key = ("accuracy", data.generation if data else None)
    return page_cache.cached_page(request, key, lambda: _accuracy_page(request, data))


def _accuracy_page(request, data):
    dataset = data.dataset if data else None
    summary = selectors.accuracy_summary(dataset=dataset)
    backtest_run = summary[0] if summary else selectors.backtest_latest(dataset=dataset)
    context = {
        "dataset": dataset,
        "summary": [
            {"run": run, "is_original": rules.is_original_model(run.method, run.lags_choice)}
            for run in summary
        ],
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


def world(request):
    """Every country's forecast change between two years as a ranking table (and, with
    JavaScript, a map drawn from GET /api/world/), or this model against the UN Medium
    (``?view=disagreement``). All the state is in the query string (see forms.WorldForm)."""
    data = active_data()
    if data is None:
        return render(request, "forecasts/world.html", {"form": None, "ranking": None})
    form = forms.world_form_from_query(request.GET, data)
    if not form.is_valid():
        return render(request, "forecasts/world.html", {"form": form, "ranking": None}, status=400)
    state = form.cleaned_data
    ranking = _world_ranking(data, state)
    view = state["view"]
    no_un_message = ""
    if view == rules.WORLD_VIEW_DISAGREEMENT and not ranking.has_un:
        no_un_message = (
            f"The loaded data ({data.dataset.edition}) has no UN projections, so there is no UN "
            "Medium to compare this model with; the map shows the forecast change instead. "
            "Import a WPP long file (WPP2022 or later) to compare."
        )
        view = rules.WORLD_VIEW_CHANGE
    query = _world_query(state)
    context = {
        "form": form,
        "ranking": ranking,
        "dataset": data.dataset,
        "state": state,
        "view": view,
        "view_label": rules.WORLD_VIEWS[view],
        "no_un_message": no_un_message,
        "is_countries": state["kind"] == rules.COUNTRY_KIND,
        "kind_label": dict(form.fields["kind"].choices)[state["kind"]],
        "region_name": data.regions[state["region"]].name if state["region"] else "",
        "columns": _world_columns(state, ranking),
        "view_links": [
            {
                "view": name,
                "label": label,
                "url": "?" + _world_query(state, view=name, sort=None, dir=None),
                "current": name == view,
            }
            for name, label in rules.WORLD_VIEWS.items()
            if ranking.has_un or name == rules.WORLD_VIEW_CHANGE
        ],
        "api_url": reverse("api:world")
        + "?"
        + urlencode(
            {"from": state["start"], "to": state["end"], "kind": state["kind"]}
            | ({"region": state["region"]} if state["region"] else {})
        ),
        "csv_url": reverse("forecasts:world_csv") + "?" + query,
        "permalink": request.build_absolute_uri(reverse("forecasts:world") + "?" + query),
        "method": rules.DEFAULT_METHOD,
        "lags": rules.DEFAULT_LAGS,
    }
    return render(request, "forecasts/world.html", context)


def world_csv(request):
    """The world ranking as the page shows it (same query string: years, filter, order)."""
    data = active_data()
    if data is None:
        return HttpResponse(
            "No data is loaded yet.", status=409, content_type="text/plain; charset=utf-8"
        )
    form = forms.world_form_from_query(request.GET, data)
    if not form.is_valid():
        problems = "; ".join(
            f"{forms.WorldForm.HTML_NAMES.get(name, name)}: {' '.join(errors)}"
            for name, errors in form.errors.items()
        )
        return HttpResponse(problems, status=400, content_type="text/plain; charset=utf-8")
    state = form.cleaned_data
    response = HttpResponse(
        presenters.world_csv(_world_ranking(data, state)), content_type="text/csv; charset=utf-8"
    )
    filename = f"world-{state['start']}-{state['end']}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _world_ranking(data, state):
    return services.world_ranking(
        data=data,
        start=state["start"],
        end=state["end"],
        kind=state["kind"],
        region=state["region"],
        sort=state["sort"],
        descending=state["dir"] == "desc",
    )


def _world_query(state, **changes) -> str:
    """The world page's query string for ``state`` with ``changes`` (None leaves a field out)."""
    values = {
        "from": state["start"],
        "to": state["end"],
        "view": state["view"],
        "kind": state["kind"],
        "region": state["region"],
        "sort": state["sort"],
        "dir": state["dir"],
    } | changes
    return urlencode({name: value for name, value in values.items() if value is not None})


def _world_columns(state, ranking) -> list[dict]:
    """The ranking's column headers: label, the link that sorts by it (a second click reverses
    the order) and its aria-sort value."""
    start, end = ranking.start, ranking.end
    labels = {
        "name": "Country" if state["kind"] == rules.COUNTRY_KIND else "Region",
        "from": f"Population {start}",
        "to": f"Population {end}",
        "change": "Change (%)",
        "un": f"UN Medium {end}",
        "difference": "Difference from UN Medium (%)",
    }
    if not ranking.has_un:
        del labels["un"], labels["difference"]
    columns = []
    for key, label in labels.items():
        current = state["sort"] == key
        if current:
            direction = "asc" if state["dir"] == "desc" else "desc"
        else:
            direction = "asc" if key == "name" else "desc"
        columns.append(
            {
                "key": key,
                "label": label,
                "url": "?" + _world_query(state, sort=key, dir=direction),
                "aria_sort": (
                    ("ascending" if state["dir"] == "asc" else "descending") if current else ""
                ),
                "numeric": key != "name",
            }
        )
    return columns
