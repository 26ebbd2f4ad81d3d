"""Each limit is defined once, in forecasts.rules, and every front door states the same one."""

import pytest
from django.db import IntegrityError, transaction

from forecasts import forms, rules
from forecasts.api import serializers
from forecasts.management.commands.forecast import Command as ForecastCommand
from forecasts.models import ForecastRun, Region


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", 3), (" 10 ", 10), ("AUTO", "auto"), (1, 1), ("auto", "auto")],
)
def test_parse_lags_accepts_numbers_in_range_and_auto(text, expected):
    assert rules.parse_lags(text) == expected


@pytest.mark.parametrize("text", ["0", "11", "two", "", "1.5", "²", True, None, -1])
def test_parse_lags_refuses_everything_else_with_the_one_message(text):
    with pytest.raises(rules.ForecastError, match="Lags must be a whole number from 1 to 10"):
        rules.parse_lags(text)


def test_the_form_widgets_state_the_rules_limits(db):
    form = forms.ForecastForm()
    assert form.fields["start"].widget.attrs["min"] == rules.YEAR_MIN
    assert form.fields["end"].widget.attrs["max"] == rules.YEAR_MAX
    assert form.fields["level"].widget.attrs["max"] == rules.LEVEL_MAX
    assert form.fields["regions"].widget.attrs["data-max-items"] == rules.MAX_REGIONS
    assert [name for name, _ in form.fields["method"].choices] == list(rules.METHODS)


def test_the_api_schema_states_the_rules_limits():
    from drf_spectacular.drainage import get_override

    level = get_override(serializers.LevelField, "field")
    assert (level["minimum"], level["maximum"]) == (rules.LEVEL_MIN_EXCLUSIVE, rules.LEVEL_MAX)
    year = get_override(serializers.YearField, "field")
    assert (year["minimum"], year["maximum"]) == (rules.YEAR_MIN, rules.YEAR_MAX)
    lags = get_override(serializers.LagsField, "field")["oneOf"][0]
    assert (lags["minimum"], lags["maximum"]) == (rules.LAGS_MIN, rules.LAGS_MAX)


def test_the_highest_level_is_accepted_everywhere_and_just_above_it_nowhere(db):
    assert rules.check_level(rules.LEVEL_MAX) is None
    with pytest.raises(rules.ForecastError):
        rules.check_level(rules.LEVEL_MAX + 1e-9)
    form = forms.ForecastForm(data={"level": str(rules.LEVEL_MAX + 1e-9)})
    form.is_valid()
    assert "level" in form.errors


def test_the_command_offers_the_rules_methods():
    parser = ForecastCommand().create_parser("manage.py", "forecast")
    [method] = [action for action in parser._actions if action.dest == "method"]
    assert list(method.choices) == list(rules.METHODS)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("level", rules.LEVEL_MAX + 1e-6),
        ("level", rules.LEVEL_MIN_EXCLUSIVE),
        ("lags", rules.LAGS_MAX + 1),
        ("end_year", rules.YEAR_MAX + 1),
        ("method", "magic"),
    ],
)
def test_the_database_refuses_what_the_rules_refuse(small_dataset, field, value):
    run = ForecastRun.objects.create(
        dataset=small_dataset, regions=[], start_year=2030, end_year=2031, duration_ms=1
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ForecastRun.objects.filter(pk=run.pk).update(**{field: value})


@pytest.mark.django_db
def test_the_database_refuses_a_region_code_above_the_rules_maximum():
    with pytest.raises(IntegrityError), transaction.atomic():
        Region.objects.create(code=rules.REGION_CODE_MAX + 1, name="Too long")
