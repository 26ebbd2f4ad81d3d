"""The forecast form: regions, years, model, lags and level, checked by forecasts.rules."""

import copy

from django import forms

from forecasts import presenters, rules, search, selectors
from forecasts.active_data import ActiveData, active_data

METHOD_CHOICES = [(name, rules.method_label(name)) for name in rules.METHODS]


class RegionSelect(forms.SelectMultiple):
    """A multi-select whose options carry their region's code, ISO3 and aliases as data-*
    attributes (Tom Select copies them into its options), so typing "250", "FRA" or "USA" finds
    the region and the dropdown shows the codes."""

    option_data: dict[str, dict] = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        for key, text in self.option_data.get(str(value), {}).items():
            if text:
                option["attrs"][f"data-{key}"] = text
        return option


def _region_options(data: ActiveData) -> tuple[list, dict]:
    """The region select's choices and its options' data-* attributes, built once per data
    generation (285 labels and aliases per request were a third of the time of a form POST)."""
    regions = data.regions_with_data()
    labels = presenters.region_labels(regions)
    choices = [(str(region.code), labels[region.code]) for region in regions]
    option_data = {
        str(region.code): {
            "code": str(region.code),
            "iso3": region.iso3,
            "aliases": " ".join(search.aliases_of(region.iso3)),
        }
        for region in regions
    }
    return choices, option_data


class RegionsField(forms.MultipleChoiceField):
    """A multi-select of region codes.

    The choices are what the page offers; which identifiers are acceptable (known, with data, at most
    rules.MAX_REGIONS) is decided by selectors.regions_for_forecast in the form's clean_regions,
    so its messages name the unknown regions instead of Django's generic "not one of the choices".
    """

    def validate(self, value):
        if any("\x00" in item for item in value):
            raise forms.ValidationError(
                "Region codes and names cannot contain NUL characters.", code="null_characters"
            )


class LagsField(forms.CharField):
    """A number of lags or "auto", parsed and checked by rules.parse_lags."""

    default_error_messages = {"required": "Enter the number of lags, or auto."}

    def to_python(self, value):
        text = super().to_python(value)
        if text in self.empty_values:
            return text
        try:
            return rules.parse_lags(text)
        except rules.ForecastError as error:
            raise forms.ValidationError(str(error), code="invalid") from None


class ErrorAwareBoundField(forms.BoundField):
    """A field drawn with Bootstrap's ``is-invalid`` class when it has errors (beside Django's
    aria-invalid), added as it is drawn: the field's widget is shared and never changed."""

    def build_widget_attrs(self, attrs, widget=None):
        attrs = super().build_widget_attrs(attrs, widget)
        if attrs.get("aria-invalid"):
            widget = widget or self.field.widget
            css_class = attrs.get("class", widget.attrs.get("class", ""))
            attrs["class"] = f"{css_class} is-invalid".strip()
        return attrs


class SharedFields(dict):
    """A form's fields that its instances share: Django's deep copy of them (BaseForm.__init__)
    gives a new dict of the same fields. Only for fields that no form instance changes."""

    def __deepcopy__(self, memo):
        return dict(self)


class ForecastForm(forms.Form):
    """Regions, years from/to, model (method), lags and interval level of a forecast.

    The years are the fields ``start`` and ``end`` in Python (as the services call them) and
    ``from`` and ``to`` in HTML and in query strings, as in the original app:
    ``/?regions=900&regions=901&from=2030&to=2035``.
    """

    HTML_NAMES = {"start": "from", "end": "to"}
    bound_field_class = ErrorAwareBoundField

    regions = RegionsField(
        label="Regions",
        required=False,
        help_text=f"One or more regions, countries or groups (at most {rules.MAX_REGIONS}): "
        "type a name, a UN code or an ISO3 code to find one. Without the search box, hold Ctrl "
        "(⌘ on a Mac) and click to choose several.",
        widget=RegionSelect(
            attrs={
                "class": "form-select",
                "size": 10,
                "data-tom-select": "",
                "data-max-items": rules.MAX_REGIONS,
            }
        ),
    )
    start = forms.IntegerField(
        label="From",
        error_messages={
            "required": "Enter the first year.",
            "invalid": "Enter the first year as a whole number, for example 2030.",
        },
        widget=forms.NumberInput(
            attrs={"class": "form-control", "min": rules.YEAR_MIN, "max": rules.YEAR_MAX}
        ),
    )
    end = forms.IntegerField(
        label="To",
        error_messages={
            "required": "Enter the last year.",
            "invalid": "Enter the last year as a whole number, for example 2035.",
        },
        widget=forms.NumberInput(
            attrs={"class": "form-control", "min": rules.YEAR_MIN, "max": rules.YEAR_MAX}
        ),
    )
    method = forms.ChoiceField(
        label="Model",
        choices=METHOD_CHOICES,
        required=False,
        initial=rules.DEFAULT_METHOD,
        help_text="The series AutoReg is fitted to. The recommended one had the lowest backtest "
        "error on WPP2019; “levels” with 1 lag is the original app's model.",
        error_messages={
            "invalid_choice": "Choose one of the models in the list; %(value)s is not one of them.",
        },
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    lags = LagsField(
        label="Lags",
        initial=rules.DEFAULT_LAGS,
        help_text=f"Past years the model uses ({rules.LAGS_MIN}–{rules.LAGS_MAX}), or "
        "“auto” to choose them by AIC for each region.",
        widget=forms.TextInput(
            attrs={
                "class": "form-control",
                "inputmode": "numeric",
                "list": "lags-choices",
                "autocomplete": "off",
            }
        ),
    )
    level = forms.FloatField(
        label="Interval level",
        initial=rules.DEFAULT_LEVEL,
        help_text="Probability the prediction interval covers, for example 0.95.",
        error_messages={
            "required": "Enter the interval level.",
            "invalid": "Enter the interval level as a number between 0 and 1, for example 0.95.",
        },
        widget=forms.NumberInput(
            attrs={
                "class": "form-control",
                "min": rules.LEVEL_MIN_EXCLUSIVE,
                "max": rules.LEVEL_MAX,
                "step": "any",
            }
        ),
    )

    def __init__(self, *args, data_source: ActiveData | None = None, **kwargs):
        self.data_source = data_source if data_source is not None else active_data()
        # Django deep-copies a form's fields for every form it builds, so that one form may change
        # its own; this one changes none (its errors are drawn by ErrorAwareBoundField), so each
        # form shares the fields made for the data it offers (a form POST in the web worker:
        # 4.32M -> 3.73M instructions, callgrind).
        self.base_fields = (
            self.data_source.remember("forecast_form_fields", lambda: _fields(self.data_source))
            if self.data_source
            else _fields(None)
        )
        super().__init__(*args, **kwargs)

    def add_prefix(self, field_name):
        return super().add_prefix(self.HTML_NAMES.get(field_name, field_name))

    def clean_regions(self):
        if self.data_source is None:
            raise forms.ValidationError("No data is loaded yet: import a WPP file first.")
        try:
            return selectors.regions_for_forecast(
                data=self.data_source, identifiers=self.cleaned_data["regions"]
            )
        except selectors.RegionLookupError as error:
            raise forms.ValidationError(str(error), code="regions") from None

    def clean_start(self):
        start = self.cleaned_data["start"]
        _check(rules.check_span, start, rules.YEAR_MAX)
        return start

    def clean_end(self):
        end = self.cleaned_data["end"]
        _check(rules.check_span, rules.YEAR_MIN, end)
        return end

    def clean_method(self):
        """The recommended method when none is given (a form posted before models were offered)."""
        return self.cleaned_data["method"] or rules.DEFAULT_METHOD

    def clean_level(self):
        level = self.cleaned_data["level"]
        _check(rules.check_level, level)
        return level

    def clean(self):
        cleaned_data = super().clean()
        start, end = cleaned_data.get("start"), cleaned_data.get("end")
        if start is not None and end is not None:
            try:
                rules.check_span(start, end)
            except rules.ForecastError as error:
                self.add_error("end", forms.ValidationError(str(error), code="span"))
        return cleaned_data


def _fields(data: ActiveData | None) -> SharedFields:
    """ForecastForm's fields offering the regions of ``data`` (none without data), made once per
    data generation (ActiveData.remember) and shared by every form on that data."""
    choices, option_data = _region_options(data) if data else ([], {})
    fields = copy.deepcopy(dict(ForecastForm.base_fields))
    fields["regions"].choices = choices
    fields["regions"].widget.option_data = option_data
    return SharedFields(fields)


def _check(rule, *args):
    try:
        rule(*args)
    except rules.ForecastError as error:
        raise forms.ValidationError(str(error), code="limits") from None


def forecast_form_defaults(dataset) -> dict:
    """Values the form starts with (by field name): the ten years after the estimates, the
    recommended model and lags, 95%."""
    last_estimate = (dataset and (dataset.last_estimate_year or dataset.last_year)) or 2020
    start = min(last_estimate + 1, rules.YEAR_MAX)
    return {
        "start": start,
        "end": min(start + 9, rules.YEAR_MAX),
        "method": rules.DEFAULT_METHOD,
        "lags": rules.DEFAULT_LAGS,
        "level": rules.DEFAULT_LEVEL,
    }


def forecast_form_from_query(query, data_source: ActiveData | None) -> ForecastForm:
    """A bound form of the query string's fields, the defaults filling in those it leaves out."""
    data = query.copy()
    dataset = data_source.dataset if data_source else None
    for name, value in forecast_form_defaults(dataset).items():
        data.setdefault(ForecastForm.HTML_NAMES.get(name, name), str(value))
    return ForecastForm(data, data_source=data_source)
