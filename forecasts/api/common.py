"""What the API views share: the answers they document, and the lookups that turn a missing id,
missing data or a failed fit into the right error."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ValidationError

from forecasts import rules
from forecasts.active_data import ActiveData, active_data

# The largest integer a database column holds; larger path ids are unknown, not an overflow.
BIGINT_MAX = 2**63 - 1


class NoDataLoaded(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "No data is loaded yet: an operator must import a WPP file first."
    default_code = "no_data"


# Error bodies: forecasts.api.schema gives every 400 the `ValidationError` component and every other
# error the `Error` one ({"detail": ...}); these say when each is answered.
VALIDATION_ERROR = OpenApiResponse(description="Bad input")
NOT_FOUND = OpenApiResponse(description="No such code or id")
NOT_IN_DATA = OpenApiResponse(
    description="A region (or variant) the loaded data does not have; the messages also by field"
)
NO_DATA = OpenApiResponse(description="No data is loaded yet")
THROTTLED = OpenApiResponse(
    description="Too many runs created; the Retry-After header says after how many seconds to retry"
)
UNSUPPORTED = OpenApiResponse(description="The body is neither JSON nor a form")


def get_or_404(queryset, **lookup):
    """get_object_or_404 that answers 404 for numbers too large for any column (SQLite overflows)."""
    if any(isinstance(value, int) and value > BIGINT_MAX for value in lookup.values()):
        raise NotFound("Not found.")
    return get_object_or_404(queryset, **lookup)


def active_data_or_409() -> ActiveData:
    data = active_data()
    if data is None:
        raise NoDataLoaded()
    return data


def forecast_error(error: rules.ForecastError):
    """A fit that fails for one region's series (the message names the region)."""
    return ValidationError({"regions": [str(error)]})


REGION_CODE = OpenApiParameter(
    "code",
    {"type": "integer", "minimum": 0},
    OpenApiParameter.PATH,
    description="UN M49 code.",
    examples=[OpenApiExample("WORLD", value=900)],
)


NO_BACKTEST = OpenApiResponse(description="No backtest of the loaded data yet")
