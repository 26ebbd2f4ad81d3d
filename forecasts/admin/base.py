"""What every admin page of the app shares: read-only data, and NUL bytes refused in filters."""

from django.contrib import admin

from forecasts import selectors
from forecasts.models import Dataset


class RefuseNulLookupsMixin:
    """Changelist filters with a NUL character (``?variant=%00``) are a 400, not a 500.

    PostgreSQL cannot take a NUL in a query parameter; a refused lookup is Django's
    SuspiciousOperation, which answers 400.
    """

    def lookup_allowed(self, lookup, value, request=None):
        if "\x00" in str(lookup) or "\x00" in str(value):
            return False
        return super().lookup_allowed(lookup, value, request)


class ReadOnlyAdmin(RefuseNulLookupsMixin, admin.ModelAdmin):
    """Shows rows and never edits them: they come from the imported files."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def active_dataset(request) -> Dataset | None:
    """The active dataset, read once per request however many filters ask."""
    if not hasattr(request, "_active_dataset"):
        request._active_dataset = selectors.dataset_active()
    return request._active_dataset
