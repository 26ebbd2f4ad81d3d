"""What run and region pages share about their chart: the image files and the embeddable page."""

import hashlib
import json

from csp.decorators import csp_replace
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt

from forecasts import charts

IMAGE_TYPES = {"svg": "image/svg+xml; charset=utf-8", "png": "image/png"}
# A chart never changes for a given data generation; previews and embeds may keep it an hour.
IMAGE_MAX_AGE = 60 * 60


def chart_image(request, chart: dict, kind: str, filename: str) -> HttpResponse:
    """The chart as an SVG or PNG file (charts.svg / charts.png): the "Download SVG" button,
    the link previews' image (a PNG: social sites do not show SVG); ``?download=1`` saves it."""
    body = charts.svg(chart) if kind == "svg" else _png(chart)
    response = HttpResponse(body, content_type=IMAGE_TYPES[kind])
    response["Cache-Control"] = f"public, max-age={IMAGE_MAX_AGE}"
    if "download" in request.GET:
        response["Content-Disposition"] = f'attachment; filename="{filename}.{kind}"'
    return response


def _png(chart: dict) -> bytes:
    """The chart as PNG, from the cache when the same chart was drawn before: Pillow takes about
    0.3 s for one, too much to repeat for every preview bot or a client asking again and again."""
    digest = hashlib.sha256(json.dumps(chart, sort_keys=True, default=str).encode()).hexdigest()
    return cache.get_or_set(f"chart-png:{digest}", lambda: charts.png(chart), IMAGE_MAX_AGE)


@xframe_options_exempt
@csp_replace({"frame-ancestors": ["*"]})
def embed_page(request, chart: dict, *, permalink: str, link_text: str) -> HttpResponse:
    """The chart alone, for other sites to put in an <iframe>: these views only may be framed
    by anyone (X-Frame-Options left out, CSP frame-ancestors *); every other page keeps DENY /
    'none'."""
    context = {
        "chart": chart,
        "chart_svg": charts.svg(chart, standalone=False),
        "permalink": permalink,
        "link_text": link_text,
    }
    return render(request, "forecasts/chart_embed.html", context)
