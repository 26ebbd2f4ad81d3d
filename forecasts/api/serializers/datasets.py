"""Imports and accuracy: what the API shows of each import and of the site's backtests."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from forecasts.models import Dataset

from .common import DatasetRefOutputSerializer, LagsField, RegionRefOutputSerializer


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
    model_version = serializers.IntegerField(help_text="Version of the model backtested.")


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
    model_version = serializers.IntegerField(
        allow_null=True, help_text="Version of the model backtested (null: not recorded)."
    )
    current = serializers.BooleanField(
        source="is_current",
        help_text="Whether it measured the model as it forecasts now (false: an earlier version).",
    )
    horizons = serializers.SerializerMethodField()
    regions = serializers.SerializerMethodField(help_text="Lowest error first.")

    @extend_schema_field(AccuracyHorizonOutputSerializer(many=True))
    def get_horizons(self, backtest_run):
        return AccuracyHorizonOutputSerializer(self.context["horizons"], many=True).data

    @extend_schema_field(BacktestRegionOutputSerializer(many=True))
    def get_regions(self, backtest_run):
        return BacktestRegionOutputSerializer(self.context["results"], many=True).data
