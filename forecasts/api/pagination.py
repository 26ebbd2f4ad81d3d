"""Page numbers as the schema states them: a whole number from 1; anything else is a 400.

DRF's PageNumberPagination answers a malformed page ("null", "0", "1.5") with the same 404 as a page
past the end, and takes "last" and an empty value too. Here a page that is not a number from 1 is a
400 naming `page`, and only a page past the end is a 404 ({"detail": "Invalid page."}).
"""

from rest_framework import pagination
from rest_framework.exceptions import ValidationError

PAGE_MESSAGE = "The page must be a whole number from 1."


class PageNumberPagination(pagination.PageNumberPagination):
    last_page_strings = ()

    def get_page_number(self, request, paginator):
        if self.page_query_param not in request.query_params:
            return 1
        text = request.query_params[self.page_query_param]
        if not (text.isascii() and text.isdecimal()) or int(text) < 1:
            raise ValidationError({self.page_query_param: [PAGE_MESSAGE]})
        return int(text)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters
