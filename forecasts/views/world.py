"""The world page and its CSV: every country's forecast change, on a map and in a ranking."""

import math
from urllib.parse import urlencode

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse

from forecasts import forms, presenters, rules, services, throttling
from forecasts.active_data import active_data


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
    try:
        ranking = _world_ranking(request, data, state)
    except throttling.BudgetSpent as spent:
        response = render(request, "429.html", {"message": str(spent)}, status=429)
        response["Retry-After"] = str(math.ceil(spent.wait))
        return response
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
    try:
        ranking = _world_ranking(request, data, state)
    except throttling.BudgetSpent as spent:
        return _budget_spent(spent)
    response = HttpResponse(presenters.world_csv(ranking), content_type="text/csv; charset=utf-8")
    filename = f"world-{state['start']}-{state['end']}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _budget_spent(spent) -> HttpResponse:
    """The CSV's 429 when the client has used its forecast budget (the page renders 429.html)."""
    response = HttpResponse(str(spent), status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(math.ceil(spent.wait))
    return response


def _world_ranking(request, data, state):
    """The ranking for the page's state; a span the cache does not hold is charged to the
    client's forecast budget (throttling.world_budget_guard)."""
    return services.world_ranking(
        before_compute=throttling.world_budget_guard(
            request, data=data, start=state["start"], end=state["end"]
        ),
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
