"""Stored runs: the page, its chart as SVG and PNG, the embeddable chart, the downloads, and the
history."""

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from forecasts import charts, forms, page_cache, presenters, rules, selectors, services
from forecasts.active_data import active_data
from forecasts.models import ForecastRun, Region

from .charts import chart_image, embed_page

RUNS_PER_PAGE = 25


# A run never changes: its page lives as long as the data it is shown with (or memory allows).
RUN_PAGE_SECONDS = 60 * 60


def run_detail(request, pk):
    """A stored run. Its page is cached (page_cache) per chart scale and data generation, since the UN
    projections and backtest errors beside the run come from the active data, and per host, for
    the permalink; the run itself never changes, and a deleted one is a 404 at once."""
    # Only whether the run exists, before the cache: the run itself (its regions, its dataset)
    # is read only when the page must be drawn.
    if not ForecastRun.objects.filter(pk=pk).exists():
        raise Http404("No such run.")
    data = active_data()
    key = (
        "run",
        pk,
        request.GET.get("scale"),
        data.generation if data else None,
        request.get_host(),
        request.is_secure(),
    )
    return page_cache.cached_page(
        request, key, lambda: _run_page(request, pk, data), seconds=RUN_PAGE_SECONDS
    )


def _run_page(request, pk, data):
    run = get_object_or_404(ForecastRun.objects.select_related("dataset"), pk=pk)
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
        "image_url": request.build_absolute_uri(reverse("forecasts:run_png", args=[run.pk])),
        "image_name": f"forecast-run-{run.pk}",
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


def run_image(request, pk, kind):
    """The run's chart as ``kind`` (svg or png) drawn on the server: the no-JavaScript chart's
    twin, the download buttons and the link previews' image; ``?scale=log`` as on the page."""
    run = get_object_or_404(ForecastRun.objects.select_related("dataset"), pk=pk)
    return chart_image(request, _stored_run_chart(request, run), kind, f"forecast-run-{run.pk}")


def run_embed(request, pk):
    run = get_object_or_404(ForecastRun.objects.select_related("dataset"), pk=pk)
    return embed_page(
        request,
        _stored_run_chart(request, run),
        permalink=request.build_absolute_uri(run.get_absolute_url()),
        link_text=f"Forecast #{run.pk}",
    )


def _stored_run_chart(request, run) -> dict:
    data = active_data()
    results = services.forecast_run_results(run, data=data)
    return _run_chart(run, results, data, request.GET.get("scale"))


def run_csv(request, pk):
    run = get_object_or_404(ForecastRun.objects.select_related("dataset"), pk=pk)
    response = HttpResponse(
        presenters.results_csv(services.forecast_run_results(run), dataset=run.dataset.edition),
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
