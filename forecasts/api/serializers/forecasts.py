"""Forecasts and runs: the settings a forecast takes, and the documents the API returns for them."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from forecasts import rules, selectors
from forecasts.models import ForecastRun

from .common import (
    CommaSeparatedField,
    DatasetRefOutputSerializer,
    FromToMixin,
    InputSerializer,
    LagsField,
    LevelField,
    PersonsField,
    RegionIdentifierField,
    RegionListField,
    RegionRefOutputSerializer,
    SpanInputSerializer,
    YearField,
    _checked,
)


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

    rejects_unknown_names = False

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
        help_text="The region's backtest error (percent) with the same method and lags: of the "
        "newest backtest of each holdout, the one whose holdout is nearest to how far the "
        "forecast reaches beyond the region's data (the longer one on a tie).",
    )
    backtest_holdout = serializers.IntegerField(
        allow_null=True, help_text="Years ahead that backtest forecast (its holdout)."
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
    source = serializers.CharField(help_text="Where the data come from (UN WPP).")
    licence = serializers.CharField(help_text="The data's licence (CC BY 3.0 IGO).")
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
    source = serializers.CharField(help_text="Where the data come from (UN WPP).")
    licence = serializers.CharField(help_text="The data's licence (CC BY 3.0 IGO).")
    results = RegionResultOutputSerializer(many=True)

    class Meta(RunOutputSerializer.Meta):
        fields = [*RunOutputSerializer.Meta.fields, "unit", "source", "licence", "results"]
