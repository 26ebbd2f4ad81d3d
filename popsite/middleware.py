"""Turn a lost database connection into a clean 503 instead of a 500.

While PostgreSQL restarts, or the network to it drops, every query raises OperationalError or
InterfaceError. That is an outage, not a bug: people get "Service temporarily unavailable" with a
Retry-After header, API clients get the same as JSON, and the error is logged once per request.
Connections recover by themselves afterwards (CONN_HEALTH_CHECKS), without restarting gunicorn.
"""

import logging

from csp.middleware import CSPMiddleware
from django.db import InterfaceError, OperationalError
from django.http import HttpResponseNotAllowed, JsonResponse
from django.template.response import TemplateResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 10
MESSAGE = (
    "Service temporarily unavailable: the database cannot be reached. Please try again shortly."
)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error("Database unavailable on %s %s: %s", request.method, request.path, exception)
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": MESSAGE}, status=503)
        else:
            response = TemplateResponse(request, "503.html", {"message": MESSAGE}, status=503)
            response.render()
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


class RefuseTraceMiddleware:
    """TRACE echoes a request back and no page here needs it: 405, before any view runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "TRACE":
            allowed = ["GET", "HEAD", "POST", "OPTIONS"]
            if request.path.startswith("/api/"):  # every answer under /api/ is JSON
                response = JsonResponse({"detail": 'Method "TRACE" not allowed.'}, status=405)
                response["Allow"] = ", ".join(allowed)
                return response
            return HttpResponseNotAllowed(allowed)
        return self.get_response(request)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, except that a redirect without a body gets no policy.

    A policy governs what a document may load, and a browser draws no document from a 3xx
    answer with a Location: it follows it, and the page it lands on carries its own policy.
    Building the header (the settings' directives and any per-view changes, joined anew for
    every answer) was a twentieth of the work of the site's form POST, which answers with a
    redirect to the run it stored."""

    REDIRECTS = frozenset({301, 302, 303, 307, 308})

    def process_response(self, request, response):
        if (
            response.status_code in self.REDIRECTS
            and response.has_header("Location")
            and not getattr(response, "streaming", False)
            and not response.content
        ):
            return response
        return super().process_response(request, response)
