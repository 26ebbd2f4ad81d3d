"""The filters of GET /api/regions/, applied to validated input (RegionListInputSerializer)."""

from forecasts import rules


def filter_regions(queryset, *, search=None, kind=None, parent=None, has_data=None):
    """Regions matching every filter given; an empty search or kind filters nothing."""
    if search and search.strip():
        text = search.strip()
        if text.isdigit() and not (text.isascii() and len(text) <= rules.REGION_CODE_DIGITS_MAX):
            # Not a code the database can hold (RegionQuerySet.search would compare it as one).
            queryset = queryset.filter(name__icontains=text)
        else:
            queryset = queryset.search(text)
    if kind:
        queryset = queryset.filter(kind__iexact=kind)
    if parent is not None:
        queryset = queryset.filter(parent=parent)
    if has_data is not None:
        queryset = queryset.with_data() if has_data else queryset.filter(first_year__isnull=True)
    return queryset
