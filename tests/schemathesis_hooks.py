"""Schemathesis hooks: the one API rule OpenAPI cannot state, taught to the generator.

`from` must not be after `to` (GET /api/forecast/, GET /api/regions/{code}/series/, POST
/api/runs/): a rule between two parameters, which no JSON Schema keyword expresses. A request that
breaks it is a 400, rightly, but Schemathesis generates it as valid data and would report the 400 as
"schema-valid request rejected". Positive cases that break it are dropped; negative ones are kept
(they must be rejected, and are). Every other rule is in the schema (forecasts/rules.py), and data
the server lacks (unknown regions, variants) is a 404, which Schemathesis accepts for valid data.

Loaded by tests/test_api_schemathesis.py (imported) and benchmarks/check_api_contract.py
(SCHEMATHESIS_HOOKS=tests.schemathesis_hooks).
"""

import schemathesis


def _year(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdecimal():
        return int(value)
    return None


def breaks_span_rule(parameters) -> bool:
    if not isinstance(parameters, dict):
        return False
    start, end = _year(parameters.get("from")), _year(parameters.get("to"))
    return start is not None and end is not None and start > end


@schemathesis.hook
def filter_case(context, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return True
    return not (breaks_span_rule(case.query) or breaks_span_rule(case.body))
