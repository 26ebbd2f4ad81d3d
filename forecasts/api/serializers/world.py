"""The world ranking: its settings and the document GET /api/world/ returns."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from forecasts import rules
from forecasts.services import world

from .common import (
    NO_NUL,
    DatasetRefOutputSerializer,
    FromToMixin,
    InputSerializer,
    LagsField,
    PersonsField,
    YearField,
    _checked,
)


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
