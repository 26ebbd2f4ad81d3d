"""Template filters for showing populations."""

from django import template

from forecasts import exports

register = template.Library()


@register.filter
def persons(value):
    """Persons rounded to the nearest thousand with thousands separators; "" for no value."""
    if value is None or value == "":
        return ""
    return exports.persons_rounded(float(value))
