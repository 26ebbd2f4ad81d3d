"""Every error under /api/ is JSON: DRF's exceptions, Django's own 400/403/404/500, 413 and 414.

The schema promises a JSON body for every status an operation can answer (forecasts.api.schema adds
the ones any operation can meet). Django answers some errors before or outside DRF's views: a URL
that matches no route (404), a view that raised something unexpected (500), a URL too long (414).
Those answer JSON under /api/ and the site's HTML pages elsewhere.
"""

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.views import exception_handler as drf_exception_handler

from forecasts import rules

API_PREFIX = "/api/"

NOT_FOUND = "Not found."
SERVER_ERROR = "Server error: the error was logged; please try again later."
BAD_REQUEST = "Bad request."
FORBIDDEN = "Forbidden."


def is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def json_error(message: str, status_code: int) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status_code)


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def exception_handler(exc, context):
    """DRF's handler, plus a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE as a 413 (Django would
    answer it with a bare 400 from outside the view)."""
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    return drf_exception_handler(exc, context)


# Django's error handlers (popsite.urls: handler400, handler403, handler404, handler500).


def bad_request(request, exception):
    if is_api(request):
        return json_error(BAD_REQUEST, status.HTTP_400_BAD_REQUEST)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if is_api(request):
        return json_error(FORBIDDEN, status.HTTP_403_FORBIDDEN)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if is_api(request):
        return json_error(NOT_FOUND, status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api(request):
        return json_error(SERVER_ERROR, status.HTTP_500_INTERNAL_SERVER_ERROR)
    return defaults.server_error(request)


class ApiUrlTooLongMiddleware:
    """Answers 414 as JSON for an /api/ URL longer than rules.API_URL_MAX_BYTES.

    gunicorn (gunicorn.conf.py) lets request lines of up to 8190 bytes through to the app, so that
    the app, not the server, answers URLs between its limit and the server's with a JSON body;
    parameters that are merely too long are a 400 naming them, as the schema's maxLength says.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_api(request):
            length = len(request.META.get("PATH_INFO", "").encode()) + len(
                request.META.get("QUERY_STRING", "")
            )
            if length > rules.API_URL_MAX_BYTES:
                return json_error(
                    f"The URL is too long: at most {rules.API_URL_MAX_BYTES} bytes.",
                    status.HTTP_414_REQUEST_URI_TOO_LONG,
                )
        return self.get_response(request)
