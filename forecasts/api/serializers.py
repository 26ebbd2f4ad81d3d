"""One InputSerializer (query string or body) and one OutputSerializer per endpoint.

Input serializers check types and turn strings into values; the forecast rules themselves (years,
lags, level, which regions can be forecast) are forecasts.rules' checks, called here so that every
front door applies the same rules with the same messages, and the OpenAPI schema states the same
bounds. Errors are keyed by the field. Output serializers document the presenters' documents.
"""

import math

from django.http import QueryDict
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException

from forecasts import rules, selectors
from forecasts.models import Dataset, ForecastRun, Region
from forecasts.services import world


class FromToMixin:
    # Exposes the fields declared as ``from_`` and ``to_`` as ``from`` and ``to``: ``from`` is a
    # Python keyword, so it cannot be declared in a class body. Input fields carry source="start" /
    # source="end" so that validated data uses the services' names. (A comment, not a docstring:
    # drf-spectacular would publish an inherited docstring as the API's description.)

    def get_fields(self):
        names = {"from_": "from", "to_": "to"}
        return {names.get(name, name): field for name, field in super().get_fields().items()}


@extend_schema_field({"type": "integer", "minimum": rules.YEAR_MIN, "maximum": rules.YEAR_MAX})
class YearField(serializers.IntegerField):
    """A year; its range is checked by rules.check_span."""


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": rules.LAGS_MIN, "maximum": rules.LAGS_MAX},
            {"type": "string", "enum": [rules.LAGS_AUTO]},
        ],
        "default": rules.DEFAULT_LAGS,
    }
)
class LagsField(serializers.Field):
    """Autoregressive lags: a whole number or "auto" (chosen per region by AIC), parsed and
    checked by rules.parse_lags."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            raise serializers.ValidationError(f"{rules.LAGS_MESSAGE}; got {data!r}.")
        try:
            return rules.parse_lags(data)
        except rules.ForecastError as error:
            raise serializers.ValidationError(str(error)) from None

    def to_representation(self, value):
        return value


@extend_schema_field(
    {
        "type": "number",
        "format": "double",
        "minimum": rules.LEVEL_MIN_EXCLUSIVE,
        "exclusiveMinimum": True,
        "maximum": rules.LEVEL_MAX,
        "default": rules.DEFAULT_LEVEL,
    }
)
class LevelField(serializers.FloatField):
    """The prediction interval's level; the range is checked by rules.check_level."""


@extend_schema_field({"type": "number", "format": "double", "nullable": True})
class PersonsField(serializers.FloatField):
    """Persons, unrounded. JSON has no infinity: an unbounded interval end is null."""

    def to_representation(self, value):
        value = float(value)
        return value if math.isfinite(value) else None


# Text parameters: no NUL character (PostgreSQL cannot take one; DRF's CharField refuses it).
NO_NUL = "^[^\\x00]*$"
# The characters str.strip() removes, named one by one: `\\s` means other sets to other regex
# engines (JavaScript's, which Schemathesis follows, leaves out \\x1c-\\x1f).
SPACES = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
# A comma-separated list of at most MAX_REGIONS items, each with a character other than spaces;
# unambiguous (spaces, the first other character, the rest up to the comma), so never backtracking.
_ITEM = f"[{SPACES}]*[^{SPACES},\\x00][^,\\x00]*"
REGIONS_QUERY_PATTERN = f"^{_ITEM}(,{_ITEM}){{0,{rules.MAX_REGIONS - 1}}}$"


@extend_schema_field(
    {
        "type": "string",
        "description": (
            "Comma-separated region codes, exact names or ISO3 codes, in the order wanted "
            f"(at most {rules.MAX_REGIONS}, {rules.REGIONS_QUERY_MAX_LENGTH} characters in all; "
            "no empty item). A name containing a comma: use its code."
        ),
        "minLength": 1,
        "maxLength": rules.REGIONS_QUERY_MAX_LENGTH,
        "pattern": REGIONS_QUERY_PATTERN,
        "example": "900,901",
    }
)
class CommaSeparatedField(serializers.ListField):
    """A list given in a query string as ``a,b,c`` (or as a repeated parameter); each item must
    name something, and there are from 1 to rules.MAX_REGIONS items, as the schema's pattern says."""

    child = serializers.CharField(
        max_length=rules.REGIONS_QUERY_MAX_LENGTH, allow_blank=True, trim_whitespace=False
    )

    def to_internal_value(self, data):
        items = [part for item in super().to_internal_value(data) for part in item.split(",")]
        if not any(item.strip() for item in items):
            raise serializers.ValidationError("Choose at least one region.")
        if not all(item.strip() for item in items):
            raise serializers.ValidationError(
                "An item between commas is empty: name a region in each, or remove the comma."
            )
        return _checked(lambda value: rules.check_region_count(len(value)), items)


_IDENTIFIER_STRING = {
    "type": "string",
    "minLength": 1,
    "maxLength": rules.NAME_MAX_LENGTH,
    "pattern": f"^[{SPACES}]*[^{SPACES}\\x00][^\\x00]*$",
}


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "oneOf": [_IDENTIFIER_STRING, {"type": "integer", "minimum": 0}],
            "description": "A region code, exact name or ISO3 code (a number is a code).",
        },
        "minItems": 1,
        "maxItems": rules.MAX_REGIONS,
    }
)
class RegionListField(serializers.ListField):
    """Region identifiers in a body: from 1 to rules.MAX_REGIONS, each naming something. A form
    gives them as a repeated field (``regions=900&regions=901``)."""

    def to_internal_value(self, data):
        items = super().to_internal_value(data)
        return _checked(lambda value: rules.check_region_count(len(value)), items)


class RegionIdentifierField(serializers.CharField):
    """A region's code, exact name or ISO3 code (a JSON number is taken as a code); it must have a
    character other than spaces. Not trimmed, so that its length is the one the schema states."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", rules.NAME_MAX_LENGTH)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not value.strip():
            raise serializers.ValidationError("Name a region, not only spaces.")
        return value


def _checked(check, value):
    """``value`` if ``check(value)`` (a rules.check_*) passes, else its message as a field error."""
    try:
        check(value)
    except rules.ForecastError as error:
        raise serializers.ValidationError(str(error)) from None
    return value


class NotFoundInData(APIException):
    """Well-formed input naming something the loaded data does not have (an unknown region, a
    heading without data, a variant the data lacks): 404 with the messages by field, and a
    `detail`, so that the body is the schema's `Error`."""

    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"

    def __init__(self, errors: dict):
        messages = [str(message) for field in errors.values() for message in field]
        super().__init__({"detail": " ".join(messages), **errors})


class InputSerializer(serializers.Serializer):
    """Validates a query string or a body the way the schema states it; see validated().

    A query string is read as plain values: DRF reads an empty optional parameter (``?from=``) as
    absent and uses the default, so the schema's types and minLength would not hold. Here ``""``
    is validated as the value it is.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.not_found_fields = set()

    # Parameters DRF itself reads: the page of a list and the renderer's format.
    FRAMEWORK_PARAMETERS = frozenset({"page", "format"})

    def to_internal_value(self, data):
        if isinstance(data, QueryDict):
            fields = self.fields
            unknown = sorted(set(data) - set(fields) - self.FRAMEWORK_PARAMETERS)
            if unknown:
                allowed = ", ".join(sorted(fields))
                raise serializers.ValidationError(
                    {
                        name: [f"Unknown parameter; this endpoint takes {allowed}."]
                        for name in unknown
                    }
                )
            data = {
                key: data.getlist(key)
                if isinstance(fields.get(key), serializers.ListField)
                else data[key]
                for key in data
            }
        return super().to_internal_value(data)

    def not_found(self, field: str, message: str):
        """The error for input the data lacks; raise it from validate_<field>."""
        self.not_found_fields.add(field)
        return serializers.ValidationError(message)

    def validated(self) -> dict:
        """The validated data; else 404 when the only errors are things the data lacks (the request
        is well formed), else 400 with every error by field."""
        if self.is_valid():
            return self.validated_data
        if self.not_found_fields and set(self.errors) == self.not_found_fields:
            raise NotFoundInData(self.errors)
        raise serializers.ValidationError(self.errors)


class SpanInputSerializer(FromToMixin, InputSerializer):
    """``from`` and ``to`` years checked with rules.check_span; each error names its field."""

    def validate_from(self, year):
        return _checked(lambda value: rules.check_span(value, rules.YEAR_MAX), year)

    def validate_to(self, year):
        return _checked(lambda value: rules.check_span(rules.YEAR_MIN, value), year)

    def validate(self, attrs):
        start, end = attrs.get("start"), attrs.get("end")
        if start is not None and end is not None:
            try:
                rules.check_span(start, end)
            except rules.ForecastError as error:
                raise serializers.ValidationError({"from": [str(error)]}) from None
        return attrs


class ForecastSettingsInputSerializer(SpanInputSerializer):
    """What a forecast needs besides its regions: the span, lags and the interval level."""

    from_ = YearField(source="start", help_text="First year to predict.")
    to_ = YearField(source="end", help_text="Last year to predict.")
    method = serializers.ChoiceField(
        choices=list(rules.METHODS),
        default=rules.DEFAULT_METHOD,
        help_text=f"The series AutoReg is fitted to. Default {rules.DEFAULT_METHOD} (the "
        'best backtest accuracy on WPP2019); "levels" with lags 1 is the original app\'s model. '
        + rules.methods_help(),
        error_messages={
            "invalid_choice": f'"{{input}}" is not a method; use one of {", ".join(rules.METHODS)}.'
        },
    )
    lags = LagsField(
        default=rules.DEFAULT_LAGS,
        help_text=f"Autoregressive lags, {rules.LAGS_MIN}–{rules.LAGS_MAX}, or "
        f'"{rules.LAGS_AUTO}" (chosen per region by AIC). Default '
        f"{rules.DEFAULT_LAGS}; 1 with method levels is the original app's model.",
    )
    level = LevelField(
        default=rules.DEFAULT_LEVEL, help_text="Prediction interval level, e.g. 0.95."
    )

    def get_fields(self):
        fields = super().get_fields()
        return {"regions": fields.pop("regions"), **fields}  # subclasses declare `regions`

    def validate_level(self, level):
        return _checked(rules.check_level, level)

    def validate_regions(self, identifiers):
        """Resolve identifiers to regions with data (selectors.regions_for_forecast's rules); one
        the data does not have is a 404, since the request itself is well formed."""
        for identifier in identifiers:
            if identifier.strip().isdigit() and not identifier.strip().isdecimal():
                raise self.not_found(
                    "regions",
                    f"{identifier!r} is not a region code: write codes with the digits 0-9.",
                )
        try:
            return selectors.regions_for_forecast(
                data=self.context["data"], identifiers=identifiers
            )
        except selectors.RegionLookupError as error:
            raise self.not_found("regions", str(error)) from None


class ForecastInputSerializer(ForecastSettingsInputSerializer):
    """Query string of GET /api/forecast/."""

    regions = CommaSeparatedField()


class RunCreateInputSerializer(ForecastSettingsInputSerializer):
    """A forecast run to compute and store (the body of POST /api/runs/)."""

    regions = RegionListField(
        child=RegionIdentifierField(),
        help_text=(
            "Region codes, exact names or ISO3 codes in the order wanted "
            f"(at most {rules.MAX_REGIONS})."
        ),
    )


class RunListInputSerializer(InputSerializer):
    """Query string of GET /api/runs/."""

    region = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=rules.REGION_CODE_MAX,
        help_text="Only runs that include this region code.",
    )


@extend_schema_field({"type": "boolean"})
class QueryBooleanField(serializers.Field):
    """true or false, as OpenAPI writes booleans in a query string (DRF's BooleanField also takes
    yes, on, 1, ... which the schema does not)."""

    VALUES = {"true": True, "false": False}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        if data in self.VALUES:
            return self.VALUES[data]
        raise serializers.ValidationError('Must be "true" or "false".')

    def to_representation(self, value):
        return value


# Not empty: an empty value would be the one a null or an empty list in a query string also
# becomes, and the schema must refuse what those mean.
@extend_schema_field(
    {"type": "string", "minLength": 1, "maxLength": rules.NAME_MAX_LENGTH, "pattern": NO_NUL}
)
class SearchField(serializers.CharField):
    pass


@extend_schema_field(
    {"type": "string", "minLength": 1, "maxLength": rules.KIND_MAX_LENGTH, "pattern": NO_NUL}
)
class KindField(serializers.CharField):
    pass


class RegionListInputSerializer(InputSerializer):
    """Query string of GET /api/regions/ (filters.filter_regions applies it)."""

    search = SearchField(
        required=False,
        trim_whitespace=False,
        max_length=rules.NAME_MAX_LENGTH,
        help_text="Part of the name, or the exact code or ISO3 code.",
    )
    kind = KindField(
        required=False,
        trim_whitespace=False,
        max_length=rules.KIND_MAX_LENGTH,
        help_text="Kind, e.g. Country/Area, Region, Subregion, Development Group.",
    )
    parent = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=rules.REGION_CODE_MAX,
        help_text="The parent region's code.",
    )
    has_data = QueryBooleanField(
        required=False,
        help_text="true: regions with population data; false: headings without.",
    )


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": rules.VARIANT_MAX_LENGTH,
        "pattern": NO_NUL,
        "default": rules.ESTIMATES,
    }
)
class VariantField(serializers.CharField):
    pass


class RegionSeriesInputSerializer(SpanInputSerializer):
    """Query string of GET /api/regions/{code}/series/; needs the region in the context."""

    variant = VariantField(
        default=rules.ESTIMATES,
        max_length=rules.VARIANT_MAX_LENGTH,
        trim_whitespace=False,
        help_text="Estimates (the history) or one of the UN's projection variants in the data "
        "(a region or variant the data lacks is a 404).",
    )
    from_ = YearField(source="start", required=False, help_text="First year (default: the first).")
    to_ = YearField(source="end", required=False, help_text="Last year (default: the last).")

    def validate_variant(self, variant):
        region = self.context["region"]
        available = selectors.region_variants(region=region)
        if variant in available:
            return variant
        if not available:
            raise self.not_found("variant", f"{region.name} has no population data.")
        raise self.not_found(
            "variant",
            f"{region.name} has no variant {variant!r}; available: {', '.join(available)}.",
        )


class RegionRefOutputSerializer(serializers.Serializer):
    code = serializers.IntegerField()
    name = serializers.CharField()


class DatasetRefOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    edition = serializers.CharField()


class PointOutputSerializer(serializers.Serializer):
    """One year of a forecast; value, lower and upper are null where the model cannot predict."""

    year = serializers.IntegerField()
    value = PersonsField(allow_null=True)
    lower = PersonsField(allow_null=True)
    upper = PersonsField(allow_null=True)
    actual = PersonsField(allow_null=True, help_text="The recorded value, inside the history.")


class UnPointOutputSerializer(serializers.Serializer):
    """One year of the UN projection beside the forecast."""

    year = serializers.IntegerField()
    forecast = PersonsField(allow_null=True, help_text="This forecast's value.")
    medium = PersonsField(help_text="The UN Medium projection.")
    lower = PersonsField(allow_null=True, help_text="The UN band's lower end.")
    upper = PersonsField(allow_null=True, help_text="The UN band's upper end.")
    difference_percent = serializers.FloatField(
        allow_null=True, help_text="(forecast - UN Medium) / UN Medium, in percent."
    )
    outside_un_band = serializers.BooleanField(
        allow_null=True,
        help_text="True where this forecast leaves the UN band; null without a band or value.",
    )


class UnProjectionOutputSerializer(serializers.Serializer):
    band = serializers.CharField(
        source="un.band",
        help_text='What the band is: "UN 95% prediction interval" or "UN Low–High variants" '
        "(empty when the data has neither).",
    )
    points = UnPointOutputSerializer(many=True, source="un_rows")


class RegionResultOutputSerializer(serializers.Serializer):
    """One region's forecast, with the lags fitted to it and, when the data has one, the UN's
    projection for the same years."""

    region = RegionRefOutputSerializer(source="*")
    lags = serializers.IntegerField(help_text="The lags fitted (the AIC's choice for auto).")
    interval = serializers.CharField(
        source="interval_label",
        help_text='"calibrated" (widths from backtest errors) or "model-based" (AutoReg\'s own).',
    )
    backtest_mape = serializers.FloatField(
        allow_null=True,
        help_text="The region's latest backtest error (percent) with the same method and lags.",
    )
    last_recorded_year = serializers.IntegerField(
        allow_null=True, help_text="The last year of the region's Estimates."
    )
    history_note = serializers.CharField(
        help_text="Set when the region's data stop before the rest of the data: the forecast "
        "starts from its own last year.",
    )
    points = PointOutputSerializer(many=True)
    un_projection = serializers.SerializerMethodField()

    @extend_schema_field(UnProjectionOutputSerializer(allow_null=True))
    def get_un_projection(self, result):
        """Null when the dataset has no UN projection for these years (WPP2019's estimates)."""
        if result.un is None:
            return None
        return UnProjectionOutputSerializer(result).data


class ForecastParamsOutputSerializer(FromToMixin, serializers.Serializer):
    """The settings of a forecast; the regions by code, in the order asked."""

    regions = serializers.ListField(child=serializers.IntegerField(), help_text="Region codes.")
    from_ = serializers.IntegerField(source="start")
    to_ = serializers.IntegerField(source="end")
    method = serializers.CharField()
    lags = LagsField()
    level = serializers.FloatField()


class ForecastOutputSerializer(serializers.Serializer):
    """A forecast (presenters.forecast_document): the dataset it was fitted on, the settings asked
    for, and the results."""

    dataset = DatasetRefOutputSerializer()
    params = ForecastParamsOutputSerializer()
    unit = serializers.CharField(help_text='Always "persons".')
    results = RegionResultOutputSerializer(many=True)


class RunParamsOutputSerializer(FromToMixin, serializers.Serializer):
    """The settings of a run; the regions by code, in the order asked."""

    regions = serializers.ListField(
        child=serializers.IntegerField(), source="region_codes", help_text="Region codes."
    )
    from_ = serializers.IntegerField(source="start_year")
    to_ = serializers.IntegerField(source="end_year")
    method = serializers.CharField()
    lags = LagsField(source="lags_choice")
    level = serializers.FloatField()
    interval = serializers.CharField(source="get_interval_display")


class RunOutputSerializer(serializers.ModelSerializer):
    """A stored forecast run: what was asked, on which dataset, when."""

    url = serializers.HyperlinkedIdentityField(view_name="api:run_detail", lookup_url_kwarg="id")
    dataset = DatasetRefOutputSerializer()
    params = RunParamsOutputSerializer(source="*")
    regions = RegionRefOutputSerializer(many=True, help_text="The regions, in the order asked.")

    class Meta:
        model = ForecastRun
        fields = ["id", "url", "dataset", "params", "regions", "created_at", "duration_ms"]


class RunDetailOutputSerializer(RunOutputSerializer):
    """A stored forecast run with its results (presenters.run_document; the run's JSON download
    is the same document)."""

    unit = serializers.CharField(help_text='Always "persons".')
    results = RegionResultOutputSerializer(many=True)

    class Meta(RunOutputSerializer.Meta):
        fields = [*RunOutputSerializer.Meta.fields, "unit", "results"]


class RegionListOutputSerializer(serializers.ModelSerializer):
    parent = serializers.IntegerField(
        source="parent_id", allow_null=True, help_text="The parent region's code."
    )
    has_data = serializers.BooleanField()

    class Meta:
        model = Region
        fields = ["code", "name", "kind", "parent", "iso3", "has_data", "first_year", "last_year"]


class RegionChildOutputSerializer(serializers.ModelSerializer):
    has_data = serializers.BooleanField()

    class Meta:
        model = Region
        fields = ["code", "name", "kind", "has_data"]


class RegionDetailOutputSerializer(RegionListOutputSerializer):
    parent = RegionChildOutputSerializer(allow_null=True)
    children = RegionChildOutputSerializer(many=True)

    class Meta(RegionListOutputSerializer.Meta):
        fields = [*RegionListOutputSerializer.Meta.fields, "children"]


class SeriesPointOutputSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    population = serializers.IntegerField(help_text="Persons.")


class RegionSeriesOutputSerializer(serializers.Serializer):
    region = RegionRefOutputSerializer()
    variant = serializers.CharField()
    unit = serializers.CharField(help_text='Always "persons".')
    points = SeriesPointOutputSerializer(many=True)


class DatasetOutputSerializer(serializers.ModelSerializer):
    """An import as everyone sees it: what was loaded and when, not where from or why it failed."""

    variants = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Dataset
        fields = [
            "id",
            "edition",
            "file_format",
            "checksum",
            "status",
            "is_active",
            "last_estimate_year",
            "first_year",
            "last_year",
            "region_count",
            "value_count",
            "variants",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]


class DatasetStaffOutputSerializer(DatasetOutputSerializer):
    """An import as staff see it: with its source and, for a failed one, its error."""

    class Meta(DatasetOutputSerializer.Meta):
        fields = [*DatasetOutputSerializer.Meta.fields, "source", "error"]


class BacktestRegionOutputSerializer(serializers.Serializer):
    region = serializers.SerializerMethodField()
    lags = serializers.IntegerField(help_text="The lags fitted.")
    mape = serializers.FloatField(help_text="Mean absolute percentage error, percent.")
    coverage = serializers.FloatField(
        help_text="Share (0–1) of held-out years inside the interval."
    )
    errors_by_horizon = serializers.ListField(
        child=serializers.FloatField(), help_text="Absolute percentage error at horizon 1, 2, ..."
    )

    @extend_schema_field(RegionRefOutputSerializer)
    def get_region(self, result):
        return {"code": result.region_code, "name": result.region_name}


class AccuracyHorizonOutputSerializer(serializers.Serializer):
    """One site model backtested at one horizon."""

    method = serializers.CharField()
    lags = LagsField(source="lags_choice")
    holdout = serializers.IntegerField(help_text="Years ahead (held out).")
    median_mape = serializers.FloatField(allow_null=True, help_text="Percent.")
    mean_mape = serializers.FloatField(allow_null=True, help_text="Percent.")
    coverage = serializers.FloatField(allow_null=True, help_text="Share 0–1 inside the interval.")
    interval_score = serializers.FloatField(
        allow_null=True, help_text="Median across regions of the interval score, percent."
    )
    region_count = serializers.IntegerField()


class AccuracyOutputSerializer(serializers.Serializer):
    """The latest backtest of the active dataset: its summary and the regions by error."""

    id = serializers.IntegerField()
    dataset = DatasetRefOutputSerializer()
    method = serializers.CharField()
    lags = LagsField(source="lags_choice")
    holdout = serializers.IntegerField(help_text="Years held out at the end of each history.")
    level = serializers.FloatField()
    interval = serializers.CharField(source="get_interval_display")
    region_count = serializers.IntegerField()
    median_mape = serializers.FloatField(allow_null=True, help_text="Percent.")
    coverage = serializers.FloatField(allow_null=True, help_text="Share 0–1, all held-out years.")
    median_errors_by_horizon = serializers.ListField(child=serializers.FloatField())
    failures = serializers.ListField(child=serializers.DictField())
    created_at = serializers.DateTimeField()
    horizons = serializers.SerializerMethodField()
    regions = serializers.SerializerMethodField(help_text="Lowest error first.")

    @extend_schema_field(AccuracyHorizonOutputSerializer(many=True))
    def get_horizons(self, backtest_run):
        return AccuracyHorizonOutputSerializer(self.context["horizons"], many=True).data

    @extend_schema_field(BacktestRegionOutputSerializer(many=True))
    def get_regions(self, backtest_run):
        return BacktestRegionOutputSerializer(self.context["results"], many=True).data


@extend_schema_field(
    {"type": "string", "minLength": 1, "maxLength": rules.NAME_MAX_LENGTH, "pattern": NO_NUL}
)
class WorldKindField(serializers.CharField):
    pass


class WorldInputSerializer(FromToMixin, InputSerializer):
    """Query string of GET /api/world/; needs the active data in the context."""

    from_ = YearField(
        source="start",
        required=False,
        help_text="The year the change is measured from; not before the first recorded year "
        "(default: the last recorded year, or `to` when that is earlier).",
    )
    to_ = YearField(
        source="end",
        required=False,
        help_text=f"The year the change is measured to (default: {rules.WORLD_DEFAULT_END_YEAR}, "
        "or `from` when that is later).",
    )
    kind = WorldKindField(
        required=False,
        max_length=rules.NAME_MAX_LENGTH,
        trim_whitespace=False,
        help_text=f'Which regions to list (default "{rules.COUNTRY_KIND}": the countries); one '
        "of the kinds of the data's regions, e.g. Region or Subregion in WPP2019 (another is a "
        "404).",
    )
    region = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=rules.REGION_CODE_MAX,
        help_text="Only the regions inside this one (its code, e.g. 903 for Africa; one that "
        "contains no countries in the data is a 404).",
    )

    def validate_from(self, year):
        return _checked(lambda value: rules.check_year(value, name="start"), year)

    def validate_to(self, year):
        return _checked(lambda value: rules.check_year(value, name="end"), year)

    def validate_kind(self, kind):
        kinds = world.world_kinds(self.context["data"])
        if kind not in kinds:
            raise self.not_found(
                "kind",
                f"{kind!r} is not a kind of region in the data; use one of {', '.join(kinds)}.",
            )
        return kind

    def validate_region(self, code):
        if code not in {region.code for region in world.world_parent_regions(self.context["data"])}:
            raise self.not_found(
                "region", f"{code} is not a region that contains countries in the loaded data."
            )
        return code

    def validate(self, attrs):
        data = self.context["data"]
        default_start, default_end = world.world_default_span(data)
        # One year given: the other defaults to a span around it (never from after to).
        if "start" not in attrs:
            attrs["start"] = min(default_start, attrs.get("end", default_start))
        attrs.setdefault("end", max(default_end, attrs["start"]))
        try:
            world.check_world_span(data, attrs["start"], attrs["end"])
        except rules.ForecastError as error:
            raise serializers.ValidationError({"from": [str(error)]}) from None
        attrs.setdefault("kind", rules.COUNTRY_KIND)
        return attrs


class WorldParamsOutputSerializer(FromToMixin, serializers.Serializer):
    from_ = serializers.IntegerField(source="start")
    to_ = serializers.IntegerField(source="end")
    kind = serializers.CharField()
    region = serializers.IntegerField(allow_null=True, help_text="The region filtered on.")


class WorldRowOutputSerializer(serializers.Serializer):
    """One region: persons in both years (recorded inside its history, else forecast)."""

    code = serializers.IntegerField(help_text="UN M49 code (world-atlas ids, unpadded).")
    name = serializers.CharField()
    kind = serializers.CharField()
    population_from = PersonsField(allow_null=True, help_text="Persons in the `from` year.")
    population_to = PersonsField(allow_null=True, help_text="Persons in the `to` year.")
    change_percent = serializers.FloatField(
        allow_null=True, help_text="(population_to - population_from) / population_from, percent."
    )
    un_medium = PersonsField(
        allow_null=True,
        help_text="The UN Medium projection for the `to` year, when the data has it.",
    )
    difference_percent = serializers.FloatField(
        allow_null=True, help_text="(population_to - un_medium) / un_medium, in percent."
    )


class WorldOutputSerializer(serializers.Serializer):
    """The forecast change of every country (or region of a kind) between two years, with the
    default model, beside the UN Medium projection when the data has one
    (presenters.world_document)."""

    dataset = DatasetRefOutputSerializer()
    params = WorldParamsOutputSerializer()
    method = serializers.CharField(help_text="The model used (always the default one).")
    lags = LagsField()
    unit = serializers.CharField(help_text='Always "persons".')
    has_un_projections = serializers.BooleanField(
        help_text="Whether the data has the UN Medium variant (else un_medium is always null)."
    )
    regions = WorldRowOutputSerializer(many=True, help_text="In the data's order.")
    not_forecast = serializers.ListField(
        child=serializers.CharField(),
        help_text="Regions whose series the model could not fit (their values are null).",
    )
