"""Query-string filters of the list endpoints (django-filter); an invalid value is a 400 naming it."""

import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field

from forecasts import rules
from forecasts.models import Region


class RegionCodeFilter(django_filters.NumberFilter):
    """A whole region code (NumberFilter would accept decimals)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", rules.REGION_CODE_MAX)
        super().__init__(*args, **kwargs)


class RegionFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=rules.NAME_MAX_LENGTH,
        help_text="Part of the name, or the exact code or ISO3 code.",
    )
    kind = django_filters.CharFilter(
        lookup_expr="iexact",
        max_length=60,
        help_text="Kind, e.g. Country/Area, Region, Subregion, Development Group.",
    )
    parent = RegionCodeFilter(field_name="parent", help_text="The parent region's code.")
    # A choice, not BooleanFilter: that one ignores what it cannot read ("maybe"), which hides a
    # client's mistake behind an unfiltered list.
    has_data = django_filters.TypedChoiceFilter(
        method="filter_has_data",
        choices=[("true", "true"), ("false", "false")],
        coerce=lambda text: text == "true",
        help_text="true: regions with population data; false: headings without.",
    )

    class Meta:
        model = Region
        fields = ["search", "kind", "parent", "has_data"]

    def filter_search(self, queryset, name, value):
        text = value.strip()
        if text.isdigit() and not (text.isascii() and len(text) <= rules.REGION_CODE_DIGITS_MAX):
            # Not a code the database can hold (RegionQuerySet.search would compare it as one).
            return queryset.filter(name__icontains=text)
        return queryset.search(text)

    @extend_schema_field({"type": "string", "enum": ["true", "false"]})
    def filter_has_data(self, queryset, name, value):
        return queryset.with_data() if value else queryset.filter(first_year__isnull=True)
