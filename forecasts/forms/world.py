"""The world page's settings: years, view, sort, filter."""

from django import forms

from forecasts import rules
from forecasts.active_data import ActiveData
from forecasts.services import world


class WorldForm(forms.Form):
    """The world page's state, all in the query string so a link opens the same view:
    ``/world/?from=2020&to=2050&view=change&sort=change&dir=desc&kind=Country/Area&region=903``.

    Every field may be left out; world_form_from_query fills in the defaults. The years follow the
    rules of services.world (the start year on recorded data).
    """

    HTML_NAMES = {"start": "from", "end": "to"}

    start = forms.IntegerField(
        label="From",
        error_messages={"invalid": "Enter the first year as a whole number, for example 2020."},
        widget=forms.NumberInput(
            attrs={"class": "form-control", "min": rules.YEAR_MIN, "max": rules.YEAR_MAX}
        ),
    )
    end = forms.IntegerField(
        label="To",
        error_messages={"invalid": "Enter the last year as a whole number, for example 2050."},
        widget=forms.NumberInput(
            attrs={"class": "form-control", "min": rules.YEAR_MIN, "max": rules.YEAR_MAX}
        ),
    )
    view = forms.ChoiceField(choices=list(rules.WORLD_VIEWS.items()), widget=forms.HiddenInput)
    kind = forms.ChoiceField(label="List", widget=forms.Select(attrs={"class": "form-select"}))
    region = forms.TypedChoiceField(
        label="Inside",
        coerce=int,
        required=False,
        empty_value=None,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    sort = forms.ChoiceField(choices=list(rules.WORLD_SORTS.items()), widget=forms.HiddenInput)
    dir = forms.ChoiceField(
        choices=[(direction, direction) for direction in rules.WORLD_DIRECTIONS],
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, data_source: ActiveData, **kwargs):
        super().__init__(*args, **kwargs)
        self.data_source = data_source
        self.fields["kind"].choices = [
            (kind, "Countries" if kind == rules.COUNTRY_KIND else kind)
            for kind in world.world_kinds(data_source)
        ]
        self.fields["region"].choices = [("", "The whole world")] + [
            (str(region.code), region.name) for region in world.world_parent_regions(data_source)
        ]

    def add_prefix(self, field_name):
        return super().add_prefix(self.HTML_NAMES.get(field_name, field_name))

    def clean(self):
        cleaned_data = super().clean()
        start, end = cleaned_data.get("start"), cleaned_data.get("end")
        if start is not None and end is not None:
            try:
                world.check_world_span(self.data_source, start, end)
            except rules.ForecastError as error:
                self.add_error("start", forms.ValidationError(str(error), code="span"))
        return cleaned_data


def world_form_from_query(query, data_source: ActiveData) -> WorldForm:
    """A bound world form: the query's fields, the defaults filling in the rest (the last
    recorded year to 2050, countries, the change view sorted by change, largest first; the
    disagreement view sorted by the difference)."""
    start, end = world.world_default_span(data_source)
    data = query.copy()
    data.setdefault("from", str(start))
    if "to" not in data:
        text = data["from"].strip()
        chosen = int(text) if text.isascii() and text.isdecimal() and len(text) <= 4 else None
        data["to"] = str(max(end, chosen) if chosen is not None else end)
    data.setdefault("view", rules.WORLD_VIEW_CHANGE)
    data.setdefault(
        "sort", "difference" if data["view"] == rules.WORLD_VIEW_DISAGREEMENT else "change"
    )
    data.setdefault("dir", "desc")
    data.setdefault("kind", rules.COUNTRY_KIND)
    return WorldForm(data, data_source=data_source)
