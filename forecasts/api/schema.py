"""drf-spectacular postprocessing: the error answers every operation can give, and OpenAPI links.

Each view documents the errors of its own logic (400 bad input, 404 unknown code, 409 no data,
429 throttled, ...). Some errors do not depend on the view: a URL too long (414), an unexpected
failure (500), the database unreachable (503), a body too large (413), a query parameter the
operation does not take (400) and page numbers past the end of a list (404). They are added here, once, so no operation forgets one. Every error body is
one of two shared components: `Error` ({"detail": ...}) and `ValidationError` ({field: [...]}).

The link from POST /api/runs/ (201, with the run's `id`) to GET /api/runs/{id}/ tells clients, and
Schemathesis' stateful phase, how to read a created run back.
"""

import threading

from forecasts import rules

# The views' documentation, waiting to be attached (see `documented`).
_UNATTACHED: list[tuple[object, dict]] = []
_ATTACHING = threading.Lock()


def documented(**kwargs):
    """drf-spectacular's ``extend_schema(**kwargs)``, attached when a schema is first generated
    instead of when the view is imported.

    extend_schema builds its schema class at once from drf_spectacular.openapi, which imports DRF's
    test client and with it django.test: 40-50 ms of every web worker's and every management
    command's start-up (`manage.py check` included), for a schema that most processes never
    generate. The annotations stay next to the views they describe; forecasts.api.generator
    attaches them, in the order they were written (a method's before its class's, as
    extend_schema expects), before it reads any view.
    """

    def record(target):
        _UNATTACHED.append((target, kwargs))
        return target

    return record


def attach_documentation() -> None:
    """Apply every ``documented`` annotation not yet applied (once each, whichever thread asks)."""
    if not _UNATTACHED:
        return
    from drf_spectacular.utils import extend_schema

    with _ATTACHING:
        while _UNATTACHED:
            target, kwargs = _UNATTACHED.pop(0)
            extend_schema(**kwargs)(target)


ERROR = {
    "type": "object",
    "description": "What went wrong, in words meant for a person.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_ERROR = {
    "type": "object",
    "description": (
        'Each key names a field (or "detail" / "non_field_errors" for the request as a whole) and '
        "holds the messages that say what is wrong."
    ),
    "additionalProperties": True,
    "minProperties": 1,
}

ANY_OPERATION = {
    "414": f"The URL is longer than {rules.API_URL_MAX_BYTES} bytes",
    "500": "Unexpected server error (logged)",
    "503": "The database cannot be reached; the Retry-After header says when to try again",
}
WITH_BODY = {
    "413": "The request body is too large",
    "415": "The body is neither JSON nor a form",
}
# Every operation validates its query string: a parameter it does not take is a 400 naming it.
WITH_INPUT = {"400": "Bad input"}
PAGED = {"404": "The page is past the end of the list"}

RUN_CREATE = ("/api/runs/", "post")
RUN_DETAIL = ("/api/runs/{id}/", "get")


def _ref(name: str) -> dict:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def _add_responses(operation: dict, responses: dict) -> None:
    for status_code, description in responses.items():
        operation["responses"].setdefault(status_code, {"description": description})


def postprocess(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR
    schemas["ValidationError"] = VALIDATION_ERROR
    for path, operations in result["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            parameters = {parameter["name"] for parameter in operation.get("parameters", [])}
            _add_responses(operation, ANY_OPERATION)
            if "requestBody" in operation:
                _add_responses(operation, WITH_BODY)
            _add_responses(operation, WITH_INPUT)
            if "page" in parameters:
                _add_responses(operation, PAGED)
            for status_code, response in operation["responses"].items():
                if int(status_code) >= 400:
                    name = "ValidationError" if status_code == "400" else "Error"
                    response["content"] = _ref(name)
            if (path, method) == RUN_CREATE:
                _link_created_run(result, operation)
    return result


def _link_created_run(result, operation) -> None:
    path, method = RUN_DETAIL
    detail = result["paths"][path][method]
    operation["responses"]["201"]["links"] = {
        "GetRun": {
            "operationId": detail["operationId"],
            "parameters": {"id": "$response.body#/id"},
            "description": "The run just created, read back by its `id`.",
        }
    }
