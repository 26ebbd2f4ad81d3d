"""Regions and their yearly values: read-only, searchable, with cheap counts on large tables."""

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from forecasts.models import Region, YearlyPopulation

from .base import ReadOnlyAdmin, active_dataset


@admin.register(Region)
class RegionAdmin(ReadOnlyAdmin):
    list_display = (
        "code",
        "name",
        "kind",
        "parent",
        "iso3",
        "first_year",
        "last_year",
        "value_count",
    )
    list_filter = ("kind",)
    list_select_related = ("parent",)
    search_fields = ("name", "code", "iso3")
    search_help_text = "Part of a name, or a whole UN code or ISO3 code."
    fields = (
        "code",
        "name",
        "kind",
        "parent",
        "children_links",
        "iso3",
        "sort_order",
        "first_year",
        "last_year",
        "value_count",
    )
    readonly_fields = ("children_links", "value_count")

    def get_queryset(self, request):
        values = (
            YearlyPopulation.objects.filter(region_id=OuterRef("code"))
            .order_by()
            .values("region_id")
            .annotate(count=Count("*"))
            .values("count")
        )
        return super().get_queryset(request).annotate(value_count=Coalesce(Subquery(values), 0))

    def get_search_results(self, request, queryset, search_term):
        """Search as the site does (RegionQuerySet.search): name contains, or code / ISO3 is."""
        return queryset.search(search_term), False

    @admin.display(description="values", ordering="value_count")
    def value_count(self, region):
        return region.value_count

    @admin.display(description="children")
    def children_links(self, region):
        children = region.children.order_by("sort_order", "code")
        if not children:
            return self.get_empty_value_display()
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a> ({})',
            (
                (reverse("admin:forecasts_region_change", args=[child.pk]), child.name, child.code)
                for child in children
            ),
        )


class VariantListFilter(admin.SimpleListFilter):
    """The active dataset's variants, read from its Dataset row rather than from every value."""

    title = "variant"
    parameter_name = "variant"

    def lookups(self, request, model_admin):
        dataset = active_dataset(request)
        return [(variant, variant) for variant in dataset.variants] if dataset else []

    def queryset(self, request, queryset):
        return queryset.variant(self.value()) if self.value() else queryset


class DecadeListFilter(admin.SimpleListFilter):
    """Decades of the active dataset's span, from its Dataset row."""

    title = "year"
    parameter_name = "decade"

    def lookups(self, request, model_admin):
        dataset = active_dataset(request)
        if dataset is None or dataset.first_year is None:
            return []
        first = dataset.first_year // 10 * 10
        return [(str(decade), f"{decade}s") for decade in range(first, dataset.last_year + 1, 10)]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        if not (len(self.value()) == 4 and self.value().isdigit()):
            raise IncorrectLookupParameters(f"{self.value()!r} is not a decade such as 1950.")
        decade = int(self.value())
        return queryset.between(decade, decade + 9)


class EstimatedCountPaginator(Paginator):
    """Counts an unfiltered PostgreSQL table from the planner's statistics, not with COUNT(*).

    COUNT(*) reads every row of the ~500,000 population values; pg_class.reltuples (kept by
    ANALYZE and autovacuum) is close enough to number the pages. Filtered lists, small or
    never-analyzed tables and other databases are counted exactly.
    """

    EXACT_BELOW = 10_000

    @cached_property
    def count(self):
        queryset = self.object_list
        if isinstance(queryset, QuerySet) and not queryset.query.where:
            connection = connections[queryset.db]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                        [connection.ops.quote_name(queryset.model._meta.db_table)],
                    )
                    row = cursor.fetchone()
                if row and row[0] >= self.EXACT_BELOW:
                    return row[0]
        return super().count


@admin.register(YearlyPopulation)
class YearlyPopulationAdmin(ReadOnlyAdmin):
    list_display = ("region", "region_code", "variant", "year", "persons_display")
    list_filter = (VariantListFilter, DecadeListFilter)
    list_select_related = ("region",)
    search_fields = ("region__name", "=region__code")
    search_help_text = "A region: part of its name, or its whole UN code or ISO3 code."
    ordering = ("region_id", "variant", "year")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    def get_search_results(self, request, queryset, search_term):
        """Match the region first (a few hundred rows), then its values through the index."""
        if not search_term.strip():
            return queryset, False
        codes = Region.objects.search(search_term).values("code")
        return queryset.filter(region_id__in=codes), False

    @admin.display(description="code", ordering="region_id")
    def region_code(self, population):
        return population.region_id

    @admin.display(description="persons", ordering="persons")
    def persons_display(self, population):
        return f"{population.persons:,}"
