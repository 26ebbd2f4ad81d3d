"""Template filters and the pieces several pages repeat (chart figure, UN comparison table)."""

from django import template
from django.utils.html import format_html

from forecasts import presenters

register = template.Library()


@register.filter
def persons(value):
    """Persons rounded to the nearest thousand with thousands separators; "" for no value."""
    if value is None or value == "":
        return ""
    return presenters.persons_rounded(float(value))


@register.inclusion_tag("forecasts/includes/chart_figure.html")
def chart_figure(caption, svg="", scale="linear", note="", extra_class=""):
    """The chart's figure: caption, log-scale switch, the server-drawn SVG (charts.svg: what a
    page without JavaScript shows) and the canvas population-chart.js draws in its place, in a
    box whose size CSS reserves, so nothing moves when the chart arrives."""
    return {
        "caption": caption,
        "svg": svg,
        "scale": scale,
        "note": note,
        "extra_class": extra_class,
    }


@register.filter
def readable(value):
    """Persons as people read them: "8.58 billion", "46.4 million", "812 thousand"."""
    if value is None or value == "":
        return ""
    return presenters.persons_readable(float(value))


@register.filter
def exact(value):
    """Persons to the person with separators (for title attributes): "8,583,606,109"."""
    if value is None or value == "":
        return ""
    return presenters.persons_exact(float(value))


@register.inclusion_tag("forecasts/includes/un_table.html")
def un_table(result):
    """A region's forecast beside the UN projection, year by year."""
    return {"result": result, "rows": presenters.un_rows(result)}


@register.filter
def percent_signed(value):
    """A change in percent with its sign: +12.3%, −4.0%; "" for no value."""
    return presenters.percent_signed(value)


@register.filter
def number(value):
    """Persons as a table shows them: the readable words, the exact count in the title and in
    <data value> (for copy, assistive tech and scripts); "—" for no value."""
    if value is None or value == "":
        return "—"
    cell = value if isinstance(value, dict) else presenters.number_cell(float(value))
    if cell is None:
        return "—"
    return format_html(
        '<data value="{}" title="{} persons">{}</data>', cell["value"], cell["exact"], cell["text"]
    )
