"""Template filters and the pieces several pages repeat (chart figure, UN comparison table)."""

from django import template

from forecasts import presenters

register = template.Library()


@register.filter
def persons(value):
    """Persons rounded to the nearest thousand with thousands separators; "" for no value."""
    if value is None or value == "":
        return ""
    return presenters.persons_rounded(float(value))


@register.inclusion_tag("forecasts/includes/chart_figure.html")
def chart_figure(caption, extra_class=""):
    """The chart's figure: caption, log-scale switch and canvas (population-chart.js draws it)."""
    return {"caption": caption, "extra_class": extra_class}


@register.inclusion_tag("forecasts/includes/un_table.html")
def un_table(result):
    """A region's forecast beside the UN projection, year by year."""
    return {"result": result, "rows": presenters.un_rows(result)}


@register.filter
def percent_signed(value):
    """A change in percent with its sign: +12.3%, −4.0%; "" for no value."""
    return presenters.percent_signed(value)
