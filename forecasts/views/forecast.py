"""The home page: the forecast form, and storing the run it asks for."""

from django.http import HttpResponseRedirect
from django.shortcuts import render

from forecasts import forms, page_cache, rules, selectors, services, throttling
from forecasts.active_data import active_data
from forecasts.models.runs import run_path


def home(request):
    """What the site does, the loaded dataset, and the forecast form.

    POST validates the form, stores a run and redirects to it (to the run already stored with
    the same settings on the same data, when there is one: nothing is stored twice). GET with the form's fields in the
    query string (``?regions=900&regions=901&from=2030&to=2035``) fills the form in and shows any
    problems (answered 400, like every bad input), but runs nothing: a shared link or a region's
    "Forecast" button opens a prepared form, and the person presses "Forecast" (a GET never
    writes).
    """
    data = active_data()
    status = 200
    if request.method == "POST":
        form = forms.ForecastForm(request.POST, data_source=data)
        if form.is_valid():
            run_id, status = _store_run(request, form, data)
            if run_id is not None:
                return HttpResponseRedirect(run_path(run_id))
        else:
            status = 400
    elif any(name in request.GET for name in ("regions", "from", "to", "method", "lags", "level")):
        form = forms.forecast_form_from_query(request.GET, data)
        if not form.is_valid():
            status = 400  # the page still shows the form, each problem beside its field
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


def _store_run(request, form, data) -> tuple[int | None, int]:
    """The id of the valid form's run: one stored with the same settings on the same data, else
    one stored now within the client's budget (forecasts.throttling), which an identical run
    does not use. Or None, with the problem added to the form and the status to answer (429 over
    budget, else 400)."""
    settings = form.cleaned_data
    budget = throttling.run_budget(
        request, regions=len(settings["regions"]), years=settings["end"] - settings["start"] + 1
    )
    try:
        run_id, _ = services.forecast_run_reuse_or_create(data=data, budget=budget, **settings)
    except throttling.RunBudgetSpent as spent:
        form.add_error(None, str(spent))
        return None, 429
    except rules.ForecastError as error:
        form.add_error(None, str(error))
        return None, 400
    return run_id, 200


def _limits():
    return {
        "year_min": rules.YEAR_MIN,
        "year_max": rules.YEAR_MAX,
        "max_regions": rules.MAX_REGIONS,
    }


LAG_NUMBERS = range(rules.LAGS_MIN, rules.LAGS_MAX + 1)
