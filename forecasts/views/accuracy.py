"""The accuracy page: the site's models at 10, 20 and 30 years, and the regions by error."""

from django.shortcuts import render

from forecasts import page_cache, rules, selectors
from forecasts.active_data import active_data


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
        "earlier": selectors.accuracy_earlier(dataset=dataset),
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
