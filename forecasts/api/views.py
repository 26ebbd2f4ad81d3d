"""The REST API: each view validates its input, calls one selector or service, serializes.

Reads are open to everyone; creating a forecast run is open and throttled (scope "runs").
Errors: 400 {field: [messages]} for bad input, 404 {"detail"} for unknown codes and ids, 409 {"detail"}
when no data is loaded yet, 415 for a body that is not JSON or a form, 429 with Retry-After.
"""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import APIException, NotFound, Throttled, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from forecasts import presenters, rules, selectors, services, throttling
from forecasts.active_data import ActiveData, active_data
from forecasts.models import Dataset, ForecastRun, Region

from . import serializers
from .filters import RegionFilter

# The largest integer a database column holds; larger path ids are unknown, not an overflow.
BIGINT_MAX = 2**63 - 1


class NoDataLoaded(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "No data is loaded yet: an operator must import a WPP file first."
    default_code = "no_data"


VALIDATION_ERROR = OpenApiResponse(
    {
        "type": "object",
        "description": (
            'Each key names a field (or "detail" for a body that cannot be parsed) and holds '
            "the messages that say what is wrong."
        ),
        "additionalProperties": True,
    },
    description="Bad input",
)
DETAIL = OpenApiResponse(
    {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]},
)
NOT_FOUND = OpenApiResponse(DETAIL.response, description="No such code or id")
NO_DATA = OpenApiResponse(DETAIL.response, description="No data is loaded yet")
THROTTLED = OpenApiResponse(
    DETAIL.response,
    description="Too many runs created; the Retry-After header says after how many seconds to retry",
)
UNSUPPORTED = OpenApiResponse(DETAIL.response, description="The body is neither JSON nor a form")


def _get_or_404(queryset, **lookup):
    """get_object_or_404 that answers 404 for numbers too large for any column (SQLite overflows)."""
    if any(isinstance(value, int) and value > BIGINT_MAX for value in lookup.values()):
        raise NotFound("Not found.")
    return get_object_or_404(queryset, **lookup)


def _active_data() -> ActiveData:
    data = active_data()
    if data is None:
        raise NoDataLoaded()
    return data


def _forecast_error(error: rules.ForecastError):
    """A fit that fails for one region's series (the message names the region)."""
    return ValidationError({"regions": [str(error)]})


@extend_schema(
    summary="Regions",
    description="Regions, countries and groups in the data's order; search by name, code or ISO3.",
)
class RegionListApi(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = serializers.RegionListOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = RegionFilter
    queryset = Region.objects.all()


REGION_CODE = OpenApiParameter(
    "code",
    {"type": "integer", "minimum": 0},
    OpenApiParameter.PATH,
    description="UN M49 code.",
    examples=[OpenApiExample("WORLD", value=900)],
)


class RegionDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="A region with its parent and children",
        parameters=[REGION_CODE],
        responses={200: serializers.RegionDetailOutputSerializer, 404: NOT_FOUND},
    )
    def get(self, request, code):
        region = _get_or_404(
            Region.objects.select_related("parent").prefetch_related("children"), code=code
        )
        return Response(serializers.RegionDetailOutputSerializer(region).data)


class RegionSeriesApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="A region's yearly population in one variant",
        parameters=[REGION_CODE, serializers.RegionSeriesInputSerializer],
        responses={
            200: serializers.RegionSeriesOutputSerializer,
            400: VALIDATION_ERROR,
            404: NOT_FOUND,
        },
    )
    def get(self, request, code):
        region = _get_or_404(Region.objects.all(), code=code)
        query = serializers.RegionSeriesInputSerializer(
            data=request.query_params, context={"region": region}
        )
        query.is_valid(raise_exception=True)
        variant = query.validated_data["variant"]
        years, persons = selectors.region_series(
            region=region,
            variant=variant,
            first_year=query.validated_data.get("start"),
            last_year=query.validated_data.get("end"),
        )
        series = {
            "region": region,
            "variant": variant,
            "unit": "persons",
            "points": [
                {"year": year, "population": population}
                for year, population in zip(years, persons, strict=True)
            ],
        }
        return Response(serializers.RegionSeriesOutputSerializer(series).data)


class ForecastApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Forecast regions (computed, not stored)",
        description=(
            "Fits AutoReg to each region's Estimates and predicts every year from `from` to `to`. "
            "Values are persons, unrounded; `value`, `lower` and `upper` are null for the first "
            "years of the history, which the model cannot predict. `method` and `lags` choose the "
            f"model (default {rules.DEFAULT_METHOD} with lags {rules.DEFAULT_LAGS}, "
            "the best backtest accuracy, with calibrated intervals; `method=levels&lags=1` is the "
            "original app's model, with model-based intervals). When the data has UN projection "
            "variants, each result's `un_projection` gives the UN Medium and band for the same "
            "years; otherwise it is null. Identical requests are answered from a cache until the "
            "data is replaced."
        ),
        parameters=[serializers.ForecastInputSerializer],
        responses={
            200: serializers.ForecastOutputSerializer,
            400: VALIDATION_ERROR,
            409: NO_DATA,
        },
    )
    def get(self, request):
        data = _active_data()
        query = serializers.ForecastInputSerializer(
            data=request.query_params, context={"data": data}
        )
        query.is_valid(raise_exception=True)
        try:
            return Response(services.forecast_document(data=data, **query.validated_data))
        except rules.ForecastError as error:
            raise _forecast_error(error) from None


class RunListCreateApi(generics.GenericAPIView):
    """GET: the history of runs, newest first. POST: compute and store a run (throttled)."""

    permission_classes = [AllowAny]
    serializer_class = serializers.RunOutputSerializer

    @extend_schema(
        summary="Forecast runs, newest first",
        parameters=[serializers.RunListInputSerializer],
        responses={200: serializers.RunOutputSerializer(many=True), 400: VALIDATION_ERROR},
    )
    def get(self, request):
        query = serializers.RunListInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        runs = selectors.forecast_runs(region_code=query.validated_data.get("region"))
        page = self.paginate_queryset(runs)
        output = serializers.RunOutputSerializer(page, many=True, context={"request": request})
        return self.get_paginated_response(output.data)

    @extend_schema(
        summary="Compute and store a forecast run",
        description=(
            "Open to everyone and rate-limited per client. Answers 201 with the stored run and "
            "its address in the Location header."
        ),
        request=serializers.RunCreateInputSerializer,
        examples=[
            OpenApiExample(
                "World and more developed regions",
                value={
                    "regions": ["900", "901"],
                    "from": 2030,
                    "to": 2035,
                    "method": rules.DEFAULT_METHOD,
                    "lags": rules.DEFAULT_LAGS,
                    "level": 0.95,
                },
                request_only=True,
            )
        ],
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                OpenApiParameter.HEADER,
                description="The new run's address.",
                response=[201],
            ),
            OpenApiParameter(
                "Retry-After",
                OpenApiTypes.INT,
                OpenApiParameter.HEADER,
                description="Seconds to wait before creating another run.",
                response=[429],
            ),
        ],
        responses={
            201: serializers.RunDetailOutputSerializer,
            400: VALIDATION_ERROR,
            409: NO_DATA,
            415: UNSUPPORTED,
            429: THROTTLED,
        },
    )
    def post(self, request):
        data = _active_data()
        body = serializers.RunCreateInputSerializer(data=request.data, context={"data": data})
        body.is_valid(raise_exception=True)
        wait = throttling.run_budget_charge(
            request,
            regions=len(body.validated_data["regions"]),
            years=body.validated_data["end"] - body.validated_data["start"] + 1,
        )
        if wait is not None:
            raise Throttled(wait=wait)
        try:
            stored = services.forecast_run_create(data=data, **body.validated_data)
        except rules.ForecastError as error:
            raise _forecast_error(error) from None
        location = request.build_absolute_uri(reverse("api:run_detail", args=[stored.run.pk]))
        document = presenters.run_document(stored.run, stored.results, url=location)
        return Response(document, status=status.HTTP_201_CREATED, headers={"Location": location})


class RunDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="A forecast run with its results",
        parameters=[
            OpenApiParameter("id", {"type": "integer", "minimum": 1}, OpenApiParameter.PATH)
        ],
        responses={200: serializers.RunDetailOutputSerializer, 404: NOT_FOUND},
    )
    def get(self, request, id):
        run = _get_or_404(ForecastRun.objects.select_related("dataset"), pk=id)
        url = request.build_absolute_uri(reverse("api:run_detail", args=[run.pk]))
        results = services.forecast_run_results(run, data=active_data())
        return Response(presenters.run_document(run, results, url=url))


@extend_schema(
    summary="Imports of WPP files, newest first",
    responses=serializers.DatasetOutputSerializer(many=True),
)
class DatasetListApi(generics.ListAPIView):
    """Everyone sees what was imported and when; only staff see where from and why it failed
    (an error can name internal hosts, a source URL an internal address)."""

    permission_classes = [AllowAny]
    queryset = Dataset.objects.all()

    def get_serializer_class(self):
        if self.request.user.is_staff:
            return serializers.DatasetStaffOutputSerializer
        return serializers.DatasetOutputSerializer


NO_BACKTEST = OpenApiResponse(DETAIL.response, description="No backtest of the loaded data yet")


class AccuracyApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Backtest accuracy of the forecasts",
        description=(
            "`horizons`: the site's default model and the original app's model backtested at "
            "10, 20 and 30 years after every import (median and mean MAPE, coverage, interval "
            "score). The rest: the default model's 10-year backtest (or, before it exists, the "
            "newest backtest of the data) with every region's errors, lowest error first."
        ),
        responses={200: serializers.AccuracyOutputSerializer, 404: NO_BACKTEST, 409: NO_DATA},
    )
    def get(self, request):
        dataset = _active_data().dataset
        summary = selectors.accuracy_summary(dataset=dataset)
        backtest_run = summary[0] if summary else selectors.backtest_latest(dataset=dataset)
        if backtest_run is None:
            raise NotFound(
                "No backtest of the loaded data yet: an operator can run "
                "`python manage.py backtest --all`."
            )
        output = serializers.AccuracyOutputSerializer(
            backtest_run,
            context={
                "results": selectors.backtest_results(backtest_run=backtest_run),
                "horizons": summary,
            },
        )
        return Response(output.data)


class WorldApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="The world at a glance: every country's forecast change between two years",
        description=(
            "Every country (or, with `kind`, every region of that kind) forecast with the default "
            f"model ({rules.DEFAULT_METHOD}, lags {rules.DEFAULT_LAGS}) in one batched fit: its "
            "population in `from` and `to` (recorded inside its history, else forecast), the "
            "change in percent and, when the data has UN projections, the UN Medium for `to` and "
            "this model's difference from it. The world page's map reads it. Answered from a "
            "cache per pair of years until the data is replaced."
        ),
        parameters=[serializers.WorldInputSerializer],
        responses={200: serializers.WorldOutputSerializer, 400: VALIDATION_ERROR, 409: NO_DATA},
    )
    def get(self, request):
        data = _active_data()
        query = serializers.WorldInputSerializer(data=request.query_params, context={"data": data})
        query.is_valid(raise_exception=True)
        settings = query.validated_data
        ranking = services.world_ranking(
            data=data,
            start=settings["start"],
            end=settings["end"],
            kind=settings["kind"],
            region=settings.get("region"),
        )
        document = presenters.world_document(
            ranking, dataset=data.dataset, kind=settings["kind"], region=settings.get("region")
        )
        return Response(document)
