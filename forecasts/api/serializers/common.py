"""Fields and base serializers every endpoint shares: years, lags, level, persons, region lists,
and InputSerializer, which validates a query string as the schema states it."""

import math

from django.http import QueryDict
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException

from forecasts import rules


class FromToMixin:
    # Exposes the fields declared as ``from_`` and ``to_`` as ``from`` and ``to``: ``from`` is a
    # Python keyword, so it cannot be declared in a class body. Input fields carry source="start" /
    # source="end" so that validated data uses the services' names. (A comment, not a docstring:
    # drf-spectacular would publish an inherited docstring as the API's description.)

    def get_fields(self):
        names = {"from_": "from", "to_": "to"}
        return {names.get(name, name): field for name, field in super().get_fields().items()}


@extend_schema_field({"type": "integer", "minimum": rules.YEAR_MIN, "maximum": rules.YEAR_MAX})
class YearField(serializers.IntegerField):
    """A year; its range is checked by rules.check_span."""


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": rules.LAGS_MIN, "maximum": rules.LAGS_MAX},
            {"type": "string", "enum": [rules.LAGS_AUTO]},
        ],
        "default": rules.DEFAULT_LAGS,
    }
)
class LagsField(serializers.Field):
    """Autoregressive lags: a whole number or "auto" (chosen per region by AIC), parsed and
    checked by rules.parse_lags."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            raise serializers.ValidationError(f"{rules.LAGS_MESSAGE}; got {data!r}.")
        try:
            return rules.parse_lags(data)
        except rules.ForecastError as error:
            raise serializers.ValidationError(str(error)) from None

    def to_representation(self, value):
        return value


@extend_schema_field(
    {
        "type": "number",
        "format": "double",
        "minimum": rules.LEVEL_MIN_EXCLUSIVE,
        "exclusiveMinimum": True,
        "maximum": rules.LEVEL_MAX,
        "default": rules.DEFAULT_LEVEL,
    }
)
class LevelField(serializers.FloatField):
    """The prediction interval's level; the range is checked by rules.check_level."""


@extend_schema_field({"type": "number", "format": "double", "nullable": True})
class PersonsField(serializers.FloatField):
    """Persons, unrounded. JSON has no infinity: an unbounded interval end is null."""

    def to_representation(self, value):
        value = float(value)
        return value if math.isfinite(value) else None


# Text parameters: no NUL character (PostgreSQL cannot take one; DRF's CharField refuses it).
NO_NUL = "^[^\\x00]*$"


# The characters str.strip() removes, named one by one: `\\s` means other sets to other regex
# engines (JavaScript's, which Schemathesis follows, leaves out \\x1c-\\x1f).
SPACES = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"


# A comma-separated list of at most MAX_REGIONS items, each with a character other than spaces;
# unambiguous (spaces, the first other character, the rest up to the comma), so never backtracking.
_ITEM = f"[{SPACES}]*[^{SPACES},\\x00][^,\\x00]*"


REGIONS_QUERY_PATTERN = f"^{_ITEM}(,{_ITEM}){{0,{rules.MAX_REGIONS - 1}}}$"


@extend_schema_field(
    {
        "type": "string",
        "description": (
            "Comma-separated region codes, exact names or ISO3 codes, in the order wanted "
            f"(at most {rules.MAX_REGIONS}, {rules.REGIONS_QUERY_MAX_LENGTH} characters in all; "
            "no empty item). A name containing a comma: use its code."
        ),
        "minLength": 1,
        "maxLength": rules.REGIONS_QUERY_MAX_LENGTH,
        "pattern": REGIONS_QUERY_PATTERN,
        "example": "900,901",
    }
)
class CommaSeparatedField(serializers.ListField):
    """A list given in a query string as ``a,b,c`` (or as a repeated parameter); each item must
    name something, and there are from 1 to rules.MAX_REGIONS items, as the schema's pattern says."""

    child = serializers.CharField(
        max_length=rules.REGIONS_QUERY_MAX_LENGTH, allow_blank=True, trim_whitespace=False
    )

    def to_internal_value(self, data):
        items = [part for item in super().to_internal_value(data) for part in item.split(",")]
        if not any(item.strip() for item in items):
            raise serializers.ValidationError("Choose at least one region.")
        if not all(item.strip() for item in items):
            raise serializers.ValidationError(
                "An item between commas is empty: name a region in each, or remove the comma."
            )
        return _checked(lambda value: rules.check_region_count(len(value)), items)


_IDENTIFIER_STRING = {
    "type": "string",
    "minLength": 1,
    "maxLength": rules.NAME_MAX_LENGTH,
    "pattern": f"^[{SPACES}]*[^{SPACES}\\x00][^\\x00]*$",
}


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "oneOf": [_IDENTIFIER_STRING, {"type": "integer", "minimum": 0}],
            "description": "A region code, exact name or ISO3 code (a number is a code).",
        },
        "minItems": 1,
        "maxItems": rules.MAX_REGIONS,
    }
)
class RegionListField(serializers.ListField):
    """Region identifiers in a body: from 1 to rules.MAX_REGIONS, each naming something. A form
    gives them as a repeated field (``regions=900&regions=901``)."""

    def to_internal_value(self, data):
        items = super().to_internal_value(data)
        return _checked(lambda value: rules.check_region_count(len(value)), items)


class RegionIdentifierField(serializers.CharField):
    """A region's code, exact name or ISO3 code (a JSON number is taken as a code); it must have a
    character other than spaces. Not trimmed, so that its length is the one the schema states."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", rules.NAME_MAX_LENGTH)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not value.strip():
            raise serializers.ValidationError("Name a region, not only spaces.")
        return value


def _checked(check, value):
    """``value`` if ``check(value)`` (a rules.check_*) passes, else its message as a field error."""
    try:
        check(value)
    except rules.ForecastError as error:
        raise serializers.ValidationError(str(error)) from None
    return value


class NotFoundInData(APIException):
    """Well-formed input naming something the loaded data does not have (an unknown region, a
    heading without data, a variant the data lacks): 404 with the messages by field, and a
    `detail`, so that the body is the schema's `Error`."""

    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"

    def __init__(self, errors: dict):
        messages = [str(message) for field in errors.values() for message in field]
        super().__init__({"detail": " ".join(messages), **errors})


class InputSerializer(serializers.Serializer):
    """Validates a query string or a body the way the schema states it; see validated().

    A query string is read as plain values: DRF reads an empty optional parameter (``?from=``) as
    absent and uses the default, so the schema's types and minLength would not hold. Here ``""``
    is validated as the value it is.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.not_found_fields = set()

    # Parameters DRF itself reads: the page of a list and the renderer's format.
    FRAMEWORK_PARAMETERS = frozenset({"page", "format"})
    # A query string names what it asks for, so an unknown name is a mistake to report; a body's
    # extra fields are ignored, whether it is JSON or a form (the schema allows them).
    rejects_unknown_names = True

    def to_internal_value(self, data):
        if isinstance(data, QueryDict):
            fields = self.fields
            unknown = sorted(set(data) - set(fields) - self.FRAMEWORK_PARAMETERS)
            if unknown and self.rejects_unknown_names:
                allowed = ", ".join(sorted(fields)) or "no parameters"
                raise serializers.ValidationError(
                    {
                        name: [f"Unknown parameter; this endpoint takes {allowed}."]
                        for name in unknown
                    }
                )
            data = {
                key: data.getlist(key)
                if isinstance(fields.get(key), serializers.ListField)
                else data[key]
                for key in data
            }
        return super().to_internal_value(data)

    def not_found(self, field: str, message: str):
        """The error for input the data lacks; raise it from validate_<field>."""
        self.not_found_fields.add(field)
        return serializers.ValidationError(message)

    def validated(self) -> dict:
        """The validated data; else 404 when the only errors are things the data lacks (the request
        is well formed), else 400 with every error by field."""
        if self.is_valid():
            return self.validated_data
        if self.not_found_fields and set(self.errors) == self.not_found_fields:
            raise NotFoundInData(self.errors)
        raise serializers.ValidationError(self.errors)


class NoParametersInputSerializer(InputSerializer):
    """The query string of an endpoint that takes no parameters (DRF's page and format aside):
    a name in it is a mistake to report, as on the endpoints that take some."""


class SpanInputSerializer(FromToMixin, InputSerializer):
    """``from`` and ``to`` years checked with rules.check_span; each error names its field."""

    def validate_from(self, year):
        return _checked(lambda value: rules.check_span(value, rules.YEAR_MAX), year)

    def validate_to(self, year):
        return _checked(lambda value: rules.check_span(rules.YEAR_MIN, value), year)

    def validate(self, attrs):
        start, end = attrs.get("start"), attrs.get("end")
        if start is not None and end is not None:
            try:
                rules.check_span(start, end)
            except rules.ForecastError as error:
                raise serializers.ValidationError({"from": [str(error)]}) from None
        return attrs


class RegionRefOutputSerializer(serializers.Serializer):
    code = serializers.IntegerField()
    name = serializers.CharField()


class DatasetRefOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    edition = serializers.CharField()
