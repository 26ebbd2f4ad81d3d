"""What a web worker loads while it boots (gunicorn's post_worker_init hook in gunicorn.conf.py),
so that its first request does not pay for it: the URLconf with every view it imports (Django
imports it on the first request: over 100 ms), the active data (every region's estimates, read
from the database), the default model's calibration table (parsed from the JSON stored with the
dataset), and what a default forecast shows beside its numbers (the UN projections, the
backtest errors), and the modelling code with numpy (forecasts.modeling loads it on first use).
Together that was most of a fresh worker's first forecast. It also computes every region's
outlook, which fits each region and runs its forecast path to 2100 (kept per data version:
damped.forecast_many), so that no request of a fresh worker pays for a fit or the recursion,
and renders every region's tables (forecasts.views.regions.region_tables: 2-3 s for WPP2019's
289 regions), which no region page's first drawing pays for then."""

import logging

from django.urls import get_resolver

from forecasts import modeling, rules
from forecasts.active_data import active_data

from .calibration import forecast_calibration
from .forecasts import region_outlooks

logger = logging.getLogger(__name__)


def warm_up() -> bool:
    """Load the active data and the default model's table into this process; whether there was
    data to load. Never raises: a worker that boots while the database is down still starts,
    and loads the data on its first request, as it would have without this."""
    get_resolver().url_patterns  # noqa: B018 - imports the URLconf and its views
    modeling.forecast_many  # noqa: B018 - imports the models, numpy with them
    try:
        data = active_data()
        if data is None:
            return False
        forecast_calibration(data, method=rules.DEFAULT_METHOD, lags=rules.DEFAULT_LAGS)
        data.un_projections()
        data.backtest_mapes(rules.DEFAULT_METHOD, rules.DEFAULT_LAGS)
        region_outlooks(data)
        _render_region_tables(data)
    except Exception:  # noqa: BLE001 - a boot-time optimisation must never stop a worker
        logger.warning("Warm-up failed; the first request will load the data.", exc_info=True)
        return False
    return True


def _render_region_tables(data) -> None:
    from forecasts.views.regions import region_tables  # the URLconf imported it above

    for region in data.regions.values():
        if region.has_data:
            region_tables(region, data)
