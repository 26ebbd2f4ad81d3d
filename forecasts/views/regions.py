"""Regions: the hierarchy and search, and a region's page with its outlook."""

from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse

from forecasts import charts, forms, page_cache, presenters, selectors, services
from forecasts.active_data import active_data
from forecasts.models import Region

from .charts import chart_image, embed_page

LATEST_RUNS = 10


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
    (page_cache) per chart scale, data generation, newest run including it and host (the
    permalink)."""
    data = active_data()
    if data is None or code not in data.regions:
        return _region_page(request, code, data)
    key = (
        "region",
        code,
        request.GET.get("scale"),
        data.generation,
        page_cache.newest_run_id(region_code=code),
        request.get_host(),
        request.is_secure(),
    )
    return page_cache.cached_page(request, key, lambda: _region_page(request, code, data))


def _region_page(request, code, data):
    region = get_object_or_404(Region.objects.select_related("parent"), code=code)
    history, outlook, chart = _region_chart(request, region, data)
    scale = chart["scale"]
    permalink = request.build_absolute_uri(region.get_absolute_url())
    context = {
        "region": region,
        "children": region.children.all(),
        "latest_runs": selectors.region_latest_runs(region_code=region.code, limit=LATEST_RUNS),
        "tables": region_tables(region, data) if data and region.code in data.regions else "",
        "forecast_url": reverse("forecasts:home") + "?" + urlencode({"regions": region.code}),
        "chart": chart,
        "chart_svg": charts.svg(chart, standalone=False),
        "scale": scale,
        "chart_caption": _region_chart_caption(region, outlook),
        "description": presenters.region_description(region, history, outlook),
        "permalink": permalink,
        "image_url": (
            request.build_absolute_uri(reverse("forecasts:region_png", args=[code]))
            if region.has_data
            else ""
        ),
        "image_name": f"population-{code}",
        "embed_html": presenters.embed_html(
            request.build_absolute_uri(reverse("forecasts:region_embed", args=[code])),
            title=chart["title"],
        ),
    }
    return render(request, "forecasts/region_detail.html", context)


def region_tables(region: Region, data) -> str:
    """The region's outlook and history tables as HTML, rendered once per data generation in
    each process (a gunicorn worker renders every region's while it boots: warm_up).

    They are a third of a region page's first drawing (8 of 30 ms: 100 numbers, each with its
    words and exact count), yet depend only on the dataset, while the page around them is drawn
    again for every new run of the region, host and chart scale."""

    def draw() -> str:
        history = data.history(region.code)
        outlook = services.region_outlook(data=data, region=region)
        context = {
            "region": region,
            "history_rows": [(int(year), int(count)) for year, count in zip(*history, strict=True)],
            "outlook": outlook,
            "outlook_rows": presenters.outlook_rows(outlook),
            "outlook_last_year": outlook.points[-1].year if outlook else None,
            "outlook_level": presenters.percent(outlook.level) if outlook else "",
        }
        return render_to_string("forecasts/includes/region_tables.html", context)

    return data.remember(("region-tables", region.code), draw)


def region_image(request, code, kind):
    """The region's chart (history and outlook) as ``kind``, svg or png: downloads and previews."""
    region, data = _region_with_data(code)
    return chart_image(request, _region_chart(request, region, data)[2], kind, f"population-{code}")


def region_embed(request, code):
    region, data = _region_with_data(code)
    return embed_page(
        request,
        _region_chart(request, region, data)[2],
        permalink=request.build_absolute_uri(region.get_absolute_url()),
        link_text=region.name,
    )


def _region_with_data(code):
    """The region and the active data, or a 404 when it has no recorded population to draw."""
    data = active_data()
    region = data.regions.get(code) if data else None
    if region is None or not region.has_data:
        raise Http404("No recorded population for this region.")
    return region, data


def _region_chart(request, region, data) -> tuple:
    """The region's history, its outlook (None without data) and the chart of both."""
    history = data.history(region.code) if data else ([], [])
    outlook = services.region_outlook(data=data, region=region) if data else None
    scale = presenters.chart_scale(request.GET.get("scale"))
    if outlook:
        level = presenters.percent(outlook.level)
        chart = presenters.forecast_chart([outlook], [history], level=level, scale=scale)
    else:
        chart = presenters.history_chart(region.name, history, scale=scale)
    return history, outlook, chart


def _region_chart_caption(region: Region, outlook) -> str:
    caption = (
        f"Population of {region.name} (persons): recorded {region.first_year}–{region.last_year}"
    )
    if outlook:
        caption += f", forecast to {outlook.points[-1].year} (dashed) with its interval (band)"
    return caption
