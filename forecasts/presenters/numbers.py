"""Populations as people read them (8.58 billion), as they are exact (8,583,606,109), and in JSON."""

import math

UNIT = "persons"
# Where every number comes from and on what terms: carried by each download, so a file stands alone.
SOURCE = "United Nations, DESA, Population Division: World Population Prospects"
LICENCE = "CC BY 3.0 IGO"


def persons_rounded(value: float | None) -> str:
    """Persons rounded to the nearest thousand with thousands separators: 1,234,567,000."""
    if value is None:
        return ""
    return f"{round(value / 1000) * 1000:,.0f}"


SCALE_WORDS = ((1e9, "billion"), (1e6, "million"), (1e3, "thousand"))


def persons_readable(value: float | None) -> str:
    """Persons as people read them: "8.58 billion", "46.4 million", "812 thousand", "801"
    (three significant figures, so a table of twenty regions stays scannable); "" for no value.
    The exact number goes in the cell's title, the tooltip and the downloads."""
    if value is None or not math.isfinite(value):
        return ""
    size = abs(value)
    for factor, word in SCALE_WORDS:
        if size >= factor * 0.9995:
            scaled = value / factor
            if round(abs(scaled), 2) >= 1000 and word != "billion":
                continue
            digits = 2 if abs(scaled) < 9.995 else 1 if abs(scaled) < 99.95 else 0
            return f"{scaled:,.{digits}f} {word}"
    return f"{value:,.0f}"


def persons_exact(value: float | None) -> str:
    """To the person, with thousands separators: 8,583,606,109 ("" for no value)."""
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:,.0f}"


def persons_compact(value: float) -> str:
    """An axis tick: 8B, 450M, 12.5K, 800 (what Intl.NumberFormat's compact notation writes)."""
    size = abs(value)
    for factor, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if size >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def persons(value: float | None) -> float | None:
    """A value for JSON: JSON has no infinity or NaN, so an unbounded interval end is None."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def percent(level: float) -> str:
    return f"{level * 100:g}%"


def number_cell(value: float | None) -> dict | None:
    """A table cell's number: what the page shows ("8.58 billion") and, for its title and
    <data value>, the exact persons; None for no value."""
    if value is None or not math.isfinite(value):
        return None
    return {"value": f"{value:.0f}", "text": persons_readable(value), "exact": persons_exact(value)}


def percent_signed(value: float | None) -> str:
    """A change in percent with its sign and one decimal: +12.3%, −4.0% (a true minus sign)."""
    if value is None or not math.isfinite(value):
        return ""
    text = f"{abs(value):,.1f}%"
    if text == "0.0%":
        return text
    return ("+" if value > 0 else "\u2212") + text
