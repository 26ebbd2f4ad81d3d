"""Regions: the list's filters, a region's series, and what the API returns for them."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from forecasts import rules, selectors
from forecasts.models import Region

from .common import (
    NO_NUL,
    InputSerializer,
    RegionRefOutputSerializer,
    SpanInputSerializer,
    YearField,
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
