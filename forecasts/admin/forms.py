"""The admin's data refresh form, and the upload handler that enforces its size limit."""

import io

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.core.validators import URLValidator

from forecasts import rules

UPLOAD_SUFFIXES = (".csv", ".csv.gz")
MEGABYTE = 1024 * 1024


def human_size(size: int) -> str:
    """A byte count as people read it: "412 MB", "5.2 KB", "100 bytes"."""
    for unit, scale in (("MB", MEGABYTE), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:,.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


class WebURLField(forms.URLField):
    """An http or https URL (the only schemes the import downloads)."""

    default_validators = [URLValidator(schemes=["http", "https"])]
    default_error_messages = {"invalid": "Enter an http:// or https:// address of a WPP file."}


class DatasetRefreshForm(forms.Form):
    """A WPP file to import: an upload or a URL (exactly one), and the optional estimate year."""

    file = forms.FileField(
        required=False,
        label="Upload a WPP file",
        help_text="A WPP2019 wide CSV or a WPP2022/2024 long CSV, .csv or .csv.gz. Keep the "
        "file's own name (WPP2024_...): the edition is read from it.",
    )
    url = WebURLField(
        required=False,
        label="or its URL",
        assume_scheme="https",
        help_text="An http(s) address of such a file, e.g. the official WPP2024 file.",
    )
    last_estimate_year = forms.IntegerField(
        required=False,
        min_value=rules.YEAR_MIN,
        max_value=rules.YEAR_MAX,
        help_text="Long files only: the last year of estimates in the Medium variant "
        "(default: detected from the file).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text += f" At most {human_size(settings.WPP_UPLOAD_MAX_BYTES)}."

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload:
            return None
        if not upload.name.lower().endswith(UPLOAD_SUFFIXES):
            raise ValidationError(f"Upload a .csv or .csv.gz file; {upload.name!r} is neither.")
        limit = settings.WPP_UPLOAD_MAX_BYTES
        if upload.size > limit:
            raise ValidationError(
                f"The file is {human_size(upload.size)}; the limit is {human_size(limit)}."
            )
        return upload

    def clean(self):
        cleaned_data = super().clean()
        given = [name for name in ("file", "url") if cleaned_data.get(name) or self.has_error(name)]
        if not given:
            raise ValidationError("Upload a WPP file or give its URL.")
        if len(given) == 2:
            raise ValidationError("Upload a file or give a URL, not both.")
        return cleaned_data


class UploadSizeLimitHandler(FileUploadHandler):
    """Stops writing an uploaded file to disk once it passes ``limit`` bytes.

    The rest of the upload is read and counted but not kept; the form then receives an empty
    stand-in of the full size, so DatasetRefreshForm refuses it with the size in its message.
    Install it first, before Django's own handlers.
    """

    def __init__(self, request=None, *, limit: int):
        super().__init__(request)
        self.limit = limit

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.too_large = False

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.too_large = True
        return None if self.too_large else raw_data

    def file_complete(self, file_size):
        if not self.too_large:
            return None
        return InMemoryUploadedFile(
            file=io.BytesIO(),
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
        )


class PruneRunsForm(forms.Form):
    """The admin's prune of old forecast runs (the ``prune_runs`` command's options)."""

    older_than_days = forms.IntegerField(
        min_value=1,
        max_value=rules.PRUNE_MAX_DAYS,
        label="Older than (days)",
        help_text="Delete the runs created more than this many days ago, with their results.",
    )
    dry_run = forms.BooleanField(
        required=False, label="Dry run", help_text="Only count the runs; delete nothing."
    )
