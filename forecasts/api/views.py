"""The REST API: each view validates its input, calls one selector or service, serializes.

Reads are open to everyone; creating a forecast run is open and throttled (scope "runs").
Errors are JSON: 400 {field: [messages]} for input the schema does not allow (or that breaks a rule
it cannot state, such as from after to), 404 {"detail"} for codes, ids, regions and variants the
data does not have (with the messages by field too), 409 {"detail"} when no data is loaded yet, 415
for a body that is not JSON or a form, 429 with Retry-After; forecasts.api.schema documents the
errors any operation can give (413, 414, 500, 503) and forecasts.api.errors answers them as JSON.
"""

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from forecasts import page_cache, presenters, rules, selectors, services, throttling
from forecasts.active_data import active_data
from forecasts.models import Dataset, ForecastRun, Region

from . import serializers
from .common import (
    NO_BACKTEST,
    NO_DATA,
    NOT_FOUND,
    NOT_IN_DATA,
    REGION_CODE,
    THROTTLED,
    UNSUPPORTED,
    VALIDATION_ERROR,
    active_data_or_409,
    forecast_error,
    get_or_404,
)
from .filters import filter_regions
from .schema import documented


class RegionListApi(generics.GenericAPIView):
    permission_classes = [AllowAny]
    serializer_class = serializers.RegionListOutputSerializer

    @documented(
        summary="Regions",
        description="Regions, countries and groups in the data's order; search by name, code or "
        "ISO3.",
        parameters=[serializers.RegionListInputSerializer],
        responses={200: serializers.RegionListOutputSerializer(many=True), 400: VALIDATION_ERROR},
    )
    def get(self, request):
        query = serializers.RegionListInputSerializer(data=request.query_params).validated()
        page = self.paginate_queryset(filter_regions(Region.objects.all(), **query))
        output = serializers.RegionListOutputSerializer(page, many=True)
        return self.get_paginated_response(output.data)


class RegionDetailApi(APIView):
    permission_classes = [AllowAny]

    @documented(
        summary="A region with its parent and children",
        parameters=[REGION_CODE],
        responses={200: serializers.RegionDetailOutputSerializer, 404: NOT_FOUND},
    )
    def get(self, request, code):
        serializers.NoParametersInputSerializer(data=request.query_params).validated()
        region = get_or_404(
            Region.objects.select_related("parent").prefetch_related("children"), code=code
        )
        return Response(serializers.RegionDetailOutputSerializer(region).data)


class RegionSeriesApi(APIView):
    permission_classes = [AllowAny]

    @documented(
        summary="A region's yearly population in one variant",
        parameters=[REGION_CODE, serializers.RegionSeriesInputSerializer],
        responses={
            200: serializers.RegionSeriesOutputSerializer,
            400: VALIDATION_ERROR,
            404: OpenApiResponse(description="No such region, or no such variant of its data"),
        },
    )
    def get(self, request, code):
        region = get_or_404(Region.objects.all(), code=code)
        query = serializers.RegionSeriesInputSerializer(
            data=request.query_params, context={"region": region}
        ).validated()
        variant = query["variant"]
        years, persons = selectors.region_series(
            region=region,
            variant=variant,
            first_year=query.get("start"),
            last_year=query.get("end"),
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

    @documented(
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
            "data is replaced. A forecast the cache does not hold costs the client work units "
            "(one per 200 region-years) from a budget per minute (FORECASTS_RATE); past it, 429 "
            "with Retry-After."
        ),
        parameters=[serializers.ForecastInputSerializer],
        responses={
            200: serializers.ForecastOutputSerializer,
            400: VALIDATION_ERROR,
            404: NOT_IN_DATA,
            409: NO_DATA,
            429: THROTTLED,
        },
    )
    def get(self, request):
        data = active_data_or_409()
        if request.accepted_renderer.format != "json":
            return Response(self._document(request, data))
        # The same question on the same data is the same JSON: kept as bytes in this process.
        query_string = request.META.get("QUERY_STRING", "")
        key = ("api-forecast", data.generation, query_string, request.accepted_media_type)
        return page_cache.cached_answer(request, key, lambda: self._json(request, data))

    def _json(self, request, data) -> HttpResponse:
        document = self._document(request, data)
        body = request.accepted_renderer.render(document, request.accepted_media_type)
        return HttpResponse(body, content_type=request.accepted_renderer.media_type)

    def _document(self, request, data) -> dict:
        """The forecast document of the query, computed within the client's forecast budget."""
        query = serializers.ForecastInputSerializer(
            data=request.query_params, context={"data": data}
        ).validated()
        guard = throttling.forecast_budget_guard(
            request, regions=len(query["regions"]), years=query["end"] - query["start"] + 1
        )
        try:
            document = services.forecast_document(data=data, before_compute=guard, **query)
        except rules.ForecastError as error:
            raise forecast_error(error) from None
        except throttling.BudgetSpent as spent:
            raise Throttled(wait=spent.wait) from None
        return document


class RunListCreateApi(generics.GenericAPIView):
    """GET: the history of runs, newest first. POST: compute and store a run (throttled)."""

    permission_classes = [AllowAny]
    serializer_class = serializers.RunOutputSerializer

    @documented(
        summary="Forecast runs, newest first",
        parameters=[serializers.RunListInputSerializer],
        responses={200: serializers.RunOutputSerializer(many=True), 400: VALIDATION_ERROR},
    )
    def get(self, request):
        query = serializers.RunListInputSerializer(data=request.query_params).validated()
        runs = selectors.forecast_runs(region_code=query.get("region"))
        page = self.paginate_queryset(runs)
        output = serializers.RunOutputSerializer(page, many=True, context={"request": request})
        return self.get_paginated_response(output.data)

    @documented(
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
            404: NOT_IN_DATA,
            409: NO_DATA,
            415: UNSUPPORTED,
            429: THROTTLED,
        },
    )
    def post(self, request):
        data = active_data_or_409()
        body = serializers.RunCreateInputSerializer(
            data=request.data, context={"data": data}
        ).validated()
        budget = throttling.run_budget(
            request, regions=len(body["regions"]), years=body["end"] - body["start"] + 1
        )
        try:
            stored = services.forecast_run_create(data=data, budget=budget, **body)
        except throttling.RunBudgetSpent as spent:
            raise Throttled(wait=spent.wait) from None
        except rules.ForecastError as error:
            raise forecast_error(error) from None
        location = request.build_absolute_uri(reverse("api:run_detail", args=[stored.run.pk]))
        document = presenters.run_document(stored.run, stored.results, url=location)
        return Response(document, status=status.HTTP_201_CREATED, headers={"Location": location})


class RunDetailApi(APIView):
    permission_classes = [AllowAny]

    @documented(
        summary="A forecast run with its results",
        parameters=[
            OpenApiParameter("id", {"type": "integer", "minimum": 1}, OpenApiParameter.PATH)
        ],
        responses={200: serializers.RunDetailOutputSerializer, 404: NOT_FOUND},
    )
    def get(self, request, id):
        serializers.NoParametersInputSerializer(data=request.query_params).validated()
        run = get_or_404(ForecastRun.objects.select_related("dataset"), pk=id)
        url = request.build_absolute_uri(reverse("api:run_detail", args=[run.pk]))
        results = services.forecast_run_results(run, data=active_data())
        return Response(presenters.run_document(run, results, url=url))


@documented(
    summary="Imports of WPP files, newest first",
    responses=serializers.DatasetOutputSerializer(many=True),
)
class DatasetListApi(generics.ListAPIView):
    """Everyone sees what was imported and when; only staff see where from and why it failed
    (an error can name internal hosts, a source URL an internal address)."""

    permission_classes = [AllowAny]
    queryset = Dataset.objects.all()

    def list(self, request, *args, **kwargs):
        serializers.NoParametersInputSerializer(data=request.query_params).validated()
        return super().list(request, *args, **kwargs)

    def get_serializer_class(self):
        if self.request.user.is_staff:
            return serializers.DatasetStaffOutputSerializer
        return serializers.DatasetOutputSerializer


class AccuracyApi(APIView):
    permission_classes = [AllowAny]

    @documented(
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
        serializers.NoParametersInputSerializer(data=request.query_params).validated()
        dataset = active_data_or_409().dataset
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

    @documented(
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
        responses={
            200: serializers.WorldOutputSerializer,
            400: VALIDATION_ERROR,
            404: OpenApiResponse(description="A kind or region the loaded data does not have"),
            409: NO_DATA,
            429: THROTTLED,
        },
    )
    def get(self, request):
        data = active_data_or_409()
        settings = serializers.WorldInputSerializer(
            data=request.query_params, context={"data": data}
        ).validated()
        try:
            ranking = services.world_ranking(
                data=data,
                start=settings["start"],
                end=settings["end"],
                kind=settings["kind"],
                region=settings.get("region"),
                before_compute=throttling.world_budget_guard(
                    request, data=data, start=settings["start"], end=settings["end"]
                ),
            )
        except throttling.BudgetSpent as spent:
            raise Throttled(wait=spent.wait) from None
        document = presenters.world_document(
            ranking, dataset=data.dataset, kind=settings["kind"], region=settings.get("region")
        )
        return Response(document)
