"""The forecast form: every error beside its field, with a 400; a valid POST stores a run."""

import pytest
from django.utils.html import escape
from pytest_django.asserts import assertContains, assertRedirects

from forecasts import forms, presenters, rules, selectors, services
from forecasts.active_data import active_data
from forecasts.models import ForecastRun, Region, YearlyPopulation

VALID = {
    "regions": ["900", "901"],
    "from": "2030",
    "to": "2035",
    "method": "levels",
    "lags": "1",
    "level": "0.95",
}


def _post(client, **changes):
    data = {**VALID, **changes}
    return client.post("/", {key: value for key, value in data.items() if value is not None})


def _errors(response, field):
    return " ".join(response.context["form"].errors.get(field, []))


def test_valid_post_stores_a_run_and_redirects_to_it(client, small_dataset):
    response = _post(client)

    run = ForecastRun.objects.get()
    assertRedirects(response, f"/runs/{run.pk}/")
    assert run.region_codes == [900, 901]
    assert (run.start_year, run.end_year, run.lags, run.level) == (2030, 2035, 1, 0.95)
    assert run.dataset == small_dataset


def test_valid_post_keeps_the_regions_in_the_order_chosen(client, small_dataset):
    _post(client, regions=["250", "900", "384"])

    assert ForecastRun.objects.get().region_codes == [250, 900, 384]


def test_run_page_after_post_has_the_forecast_commands_numbers(client, small_dataset):
    response = _post(client, lags="2")
    regions = selectors.regions_for_forecast(identifiers=["900", "901"])
    expected = services.forecast_compute(
        regions=regions, start=2030, end=2035, method="levels", lags=2
    )

    page = client.get(response["Location"])

    assert page.context["rows"] == presenters.results_table(expected)[1]


def test_no_region_is_an_error_on_the_regions_field(client, small_dataset):
    response = _post(client, regions=None)

    assert response.status_code == 400
    assert _errors(response, "regions") == "Choose at least one region."
    assertContains(response, "Choose at least one region.", status_code=400)
    assert not ForecastRun.objects.exists()


def test_from_after_to_is_an_error_on_the_to_field(client, small_dataset):
    response = _post(client, **{"from": "2040", "to": "2030"})

    assert response.status_code == 400
    assert _errors(response, "end") == (
        "The start year (2040) must not be after the end year (2030)."
    )
    assert _errors(response, "start") == ""
    assertContains(response, "must not be after the end year", status_code=400)


@pytest.mark.parametrize(
    ("field", "html_name", "value", "message"),
    [
        ("start", "from", "abc", "Enter the first year as a whole number, for example 2030."),
        ("end", "to", "20x5", "Enter the last year as a whole number, for example 2035."),
        ("start", "from", "2030.5", "Enter the first year as a whole number, for example 2030."),
        (
            "lags",
            "lags",
            "one",
            "Lags must be a whole number from 1 to 10, or \"auto\"; got 'one'.",
        ),
        (
            "level",
            "level",
            "high",
            "Enter the interval level as a number between 0 and 1, for example 0.95.",
        ),
    ],
)
def test_not_a_number_is_an_error_on_its_field(
    client, small_dataset, field, html_name, value, message
):
    response = _post(client, **{html_name: value})

    assert response.status_code == 400
    assert _errors(response, field) == message
    assertContains(response, escape(message), status_code=400)


@pytest.mark.parametrize(
    ("field", "html_name", "value", "message"),
    [
        ("start", "from", "1900", "The start year must be between 1950 and 2100; got 1900."),
        ("end", "to", "2101", "The end year must be between 1950 and 2100; got 2101."),
        ("start", "from", "-5", "The start year must be between 1950 and 2100; got -5."),
    ],
)
def test_years_outside_1950_2100_are_an_error_on_their_field(
    client, small_dataset, field, html_name, value, message
):
    response = _post(client, **{html_name: value})

    assert response.status_code == 400
    assert _errors(response, field) == message
    assertContains(response, escape(message), status_code=400)


def test_both_years_outside_the_range_are_two_errors(client, small_dataset):
    response = _post(client, **{"from": "1800", "to": "2400"})

    assert "The start year must be between 1950 and 2100" in _errors(response, "start")
    assert "The end year must be between 1950 and 2100" in _errors(response, "end")


@pytest.mark.parametrize("html_name", ["from", "to", "lags", "level"])
def test_missing_number_is_an_error_on_its_field(client, small_dataset, html_name):
    response = _post(client, **{html_name: ""})

    assert response.status_code == 400
    field = {"from": "start", "to": "end"}.get(html_name, html_name)
    assert _errors(response, field).startswith("Enter the")


def test_more_than_20_regions_is_an_error_on_the_regions_field(client, small_dataset):
    codes = [str(code) for code in range(2000, 2021)]
    Region.objects.bulk_create(
        Region(code=int(code), name=f"Region {code}", first_year=1950, last_year=2020)
        for code in codes
    )

    response = _post(client, regions=codes)

    assert response.status_code == 400
    assert _errors(response, "regions") == "Choose at most 20 regions; 21 were given."


def test_20_regions_are_accepted(small_dataset):
    codes = [str(code) for code in range(2000, 2020)]
    Region.objects.bulk_create(
        Region(code=int(code), name=f"Region {code}", first_year=1950, last_year=2020)
        for code in codes
    )

    form = forms.ForecastForm({**VALID, "regions": codes})

    assert form.is_valid(), form.errors
    assert len(form.cleaned_data["regions"]) == 20


def test_unknown_region_is_an_error_naming_it(client, small_dataset):
    response = _post(client, regions=["900", "4242"])

    assert response.status_code == 400
    assert _errors(response, "regions") == "Unknown region(s): '4242'."
    assertContains(response, "Unknown region(s): &#x27;4242&#x27;.", status_code=400)


def test_heading_without_data_is_an_error_naming_it(client, small_dataset):
    response = _post(client, regions=["1803"])

    assert response.status_code == 400
    assert "UN development groups" in _errors(response, "regions")


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", 'Lags must be a whole number from 1 to 10, or "auto"; got 0.'), ("11", "got 11")],
)
def test_lags_outside_1_10_are_an_error_on_the_lags_field(client, small_dataset, value, message):
    response = _post(client, lags=value)

    assert response.status_code == 400
    assert message in _errors(response, "lags")


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.2"])
def test_level_outside_0_1_is_an_error_on_the_level_field(client, small_dataset, value):
    response = _post(client, level=value)

    assert response.status_code == 400
    assert "The interval level must be between 0 and 1" in _errors(response, "level")


def test_errors_are_shown_beside_their_fields(client, small_dataset):
    response = _post(client, regions=None, **{"from": "abc"})

    content = response.content.decode()
    regions_error = content.index('id="id_regions_error"')
    from_error = content.index('id="id_from_error"')
    assert content.index('name="regions"') < regions_error < content.index('name="from"')
    assert content.index('name="from"') < from_error < content.index('name="to"')
    assertContains(response, 'aria-invalid="true"', status_code=400)


def test_each_input_is_described_by_its_help_and_its_errors(client, small_dataset):
    """A screen reader reads a field's help text and, when it has some, its errors."""
    content = _post(client, regions=None, **{"from": "abc"}).content.decode()

    assert 'aria-describedby="id_regions_helptext id_regions_error"' in content
    assert 'aria-describedby="id_from_error"' in content
    assert 'aria-describedby="id_lags_helptext"' in content  # no error: only its help


def test_only_the_fields_with_errors_are_drawn_invalid_in_each_form(client, small_dataset):
    """Forms share their fields (forms.forecast.SharedFields): one form's errors must not mark
    another's inputs."""
    invalid_from = '<input type="number" name="from" value="abc" class="form-control is-invalid"'

    first = _post(client, **{"from": "abc"}).content.decode()
    second = _post(client, **{"to": "abc"}).content.decode()

    assert invalid_from in first
    assert 'name="to" value="2035" class="form-control" ' in first
    assert 'name="from" value="2030" class="form-control" ' in second
    assert 'name="to" value="abc" class="form-control is-invalid"' in second
    assert "is-invalid" not in client.get("/").content.decode()


def test_invalid_post_keeps_what_was_entered(client, small_dataset):
    response = _post(client, regions=["900", "250"], **{"to": "1900"})

    assertContains(
        response,
        '<option value="250" selected data-code="250" data-iso3="FRA">France</option>',
        html=True,
        status_code=400,
    )
    assertContains(response, 'name="from" value="2030"', status_code=400)
    assertContains(response, 'name="to" value="1900"', status_code=400)


def test_series_too_short_becomes_a_form_error_not_a_500(client, small_dataset):
    tiny = Region.objects.create(code=9999, name="Tiny Isle", first_year=2019, last_year=2020)
    YearlyPopulation.objects.bulk_create(
        YearlyPopulation(region=tiny, variant="Estimates", year=year, persons=1000)
        for year in (2019, 2020)
    )

    response = _post(client, regions=["9999"], lags="1")

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "Tiny Isle: The history has 2 years; lags=1 needs at least 3."
    ]
    assertContains(response, "Tiny Isle: The history has 2 years", status_code=400)
    assert not ForecastRun.objects.exists()


def test_post_without_data_loaded_is_a_400_not_a_500(client, db):
    response = _post(client)

    assert response.status_code == 400
    assertContains(response, "No data is loaded yet", status_code=400)


def test_form_accepts_names_in_place_of_codes(small_dataset):
    form = forms.ForecastForm({**VALID, "regions": ["France", "world"]})

    assert form.is_valid(), form.errors
    assert [region.code for region in form.cleaned_data["regions"]] == [250, 900]


def test_form_uses_from_and_to_as_html_names(small_dataset):
    form = forms.ForecastForm()

    assert form["start"].html_name == "from"
    assert form["end"].html_name == "to"
    assert form["start"].auto_id == "id_from"


def test_form_offers_the_regions_with_data_only(small_dataset):
    codes = [code for code, _ in forms.ForecastForm().fields["regions"].choices]

    assert codes == ["900", "901", "902", "384", "336", "250"]


def test_form_limits_come_from_the_model_constants(small_dataset):
    form = forms.ForecastForm()

    assert form.fields["start"].widget.attrs["min"] == rules.YEAR_MIN
    assert form.fields["end"].widget.attrs["max"] == rules.YEAR_MAX
    assert form.fields["regions"].widget.attrs["data-max-items"] == rules.MAX_REGIONS


def test_query_string_form_fills_in_missing_fields_with_defaults(small_dataset):
    from django.http import QueryDict

    form = forms.forecast_form_from_query(QueryDict("regions=250&to=2040"), active_data())

    assert form.is_valid(), form.errors
    assert (form.cleaned_data["start"], form.cleaned_data["end"]) == (2021, 2040)
    assert form.cleaned_data["method"] == rules.DEFAULT_METHOD
    assert form.cleaned_data["lags"] == rules.DEFAULT_LAGS


def test_a_region_with_a_nul_character_is_an_error_on_the_regions_field(client, small_dataset):
    response = _post(client, regions=["900\x00"])

    assert response.status_code == 400
    assert _errors(response, "regions") == "Region codes and names cannot contain NUL characters."


def test_a_forecast_post_makes_at_most_three_queries(client, small_dataset):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _post(client)  # loads the active data into this process once
    with CaptureQueriesContext(connection) as queries:
        response = _post(client)

    statements = [
        q["sql"] for q in queries if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE"))
    ]
    assert response.status_code == 302
    assert len(statements) <= 3, statements
