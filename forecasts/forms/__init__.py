"""The site's forms. They parse and validate; the rules themselves live in forecasts.rules."""

from .forecast import (
    ForecastForm,
    LagsField,
    RegionSelect,
    RegionsField,
    forecast_form_defaults,
    forecast_form_from_query,
)
from .lists import RegionSearchForm, RunFilterForm
from .world import WorldForm, world_form_from_query

__all__ = [
    "ForecastForm",
    "LagsField",
    "RegionSearchForm",
    "RegionSelect",
    "RegionsField",
    "RunFilterForm",
    "WorldForm",
    "forecast_form_defaults",
    "forecast_form_from_query",
    "world_form_from_query",
]
