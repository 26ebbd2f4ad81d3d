"""The filters of the history and the region list."""

from django import forms

from forecasts import presenters
from forecasts.models import Region


class RunFilterForm(forms.Form):
    """The history page's filter: runs that include one region (by code)."""

    region = forms.IntegerField(
        label="Region",
        required=False,
        min_value=0,
        error_messages={"invalid": "Choose a region from the list (a region code)."},
        widget=forms.Select(attrs={"class": "form-select", "data-tom-select": ""}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        regions = list(Region.objects.with_data())
        labels = presenters.region_labels(regions)
        self.fields["region"].widget.choices = [("", "All regions")] + [
            (str(region.code), labels[region.code]) for region in regions
        ]


class RegionSearchForm(forms.Form):
    q = forms.CharField(
        label="Search regions",
        required=False,
        max_length=100,
        error_messages={"max_length": "Search for at most 100 characters."},
        widget=forms.SearchInput(
            attrs={"class": "form-control", "placeholder": "Name, code or ISO3"}
        ),
    )
