"""Checks and conversions of a chunk's cells; each error names the line and column."""

import numpy as np
import pandas as pd

from forecasts.rules import (
    NAME_MAX_LENGTH,
    REGION_CODE_MAX,
)

from .errors import WppFormatError


def _first_bad(mask: pd.Series, first_line: int) -> int:
    position = int(np.flatnonzero(mask.to_numpy())[0])
    return first_line + int(mask.index[position])


def _whole_numbers(frame, column, first_line, minimum, maximum) -> np.ndarray:
    text = frame[column].str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna() | (numbers % 1 != 0)
    if bad.any():
        line = _first_bad(bad, first_line)
        raise WppFormatError(
            f"{text[line - first_line]!r} is not a whole number.", line=line, column=column
        )
    out_of_range = (numbers < minimum) | (numbers > maximum)
    if out_of_range.any():
        line = _first_bad(out_of_range, first_line)
        raise WppFormatError(
            f"{text[line - first_line]} is outside {minimum}–{maximum}.", line=line, column=column
        )
    return numbers.to_numpy(dtype=np.int64)


def _persons(cells: pd.Series, first_line: int, column: str) -> np.ndarray:
    """Thousands of persons as text -> persons as integers; rejects non-numbers and negatives."""
    text = cells.str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers)
    if bad.any():
        line = _first_bad(bad, first_line)
        value = text.iloc[int(np.flatnonzero(bad.to_numpy())[0])]
        raise WppFormatError(f"{value!r} is not a number.", line=line, column=column)
    negative = numbers < 0
    if negative.any():
        line = _first_bad(negative, first_line)
        value = text.iloc[int(np.flatnonzero(negative.to_numpy())[0])]
        raise WppFormatError(
            f"{value} is negative; populations cannot be.", line=line, column=column
        )
    persons = np.rint(numbers.to_numpy(dtype=float) * 1000)
    if (persons > 2**62).any():
        line = _first_bad(pd.Series(persons > 2**62, index=cells.index), first_line)
        raise WppFormatError("The value is too large to be a population.", line=line, column=column)
    return persons.astype(np.int64)


def _texts(frame, column, first_line, max_length) -> np.ndarray:
    text = frame[column].str.strip()
    bad = (text == "") | (text.str.len() > max_length)
    if bad.any():
        line = _first_bad(bad, first_line)
        raise WppFormatError(
            f"must be a non-empty text of at most {max_length} characters.",
            line=line,
            column=column,
        )
    return text.to_numpy(dtype=object)


def _name(value: str, line: int, column: str) -> str:
    name = value.strip()
    if not name or len(name) > NAME_MAX_LENGTH:
        raise WppFormatError(
            f"A location name must be 1–{NAME_MAX_LENGTH} characters.", line=line, column=column
        )
    return name


def _optional_code(value: str, line: int, column: str) -> int | None:
    text = value.strip()
    if text in ("", "0"):
        return None
    if not text.isdigit() or int(text) > REGION_CODE_MAX:
        raise WppFormatError(f"{text!r} is not a location code.", line=line, column=column)
    return int(text)


def _iso3(value: str, line: int) -> str:
    text = value.strip()
    if len(text) > 3:
        raise WppFormatError(f"{text!r} is not an ISO3 code.", line=line, column="ISO3_code")
    return text
