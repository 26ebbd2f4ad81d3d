"""What a forecast is made of, whichever method made it."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Point:
    """One predicted year.

    ``value`` is the model's prediction: the recursion after the history, the one-step in-sample
    prediction inside it. It is None for the first ``lags`` years of the history, which have no
    earlier values to predict from. ``actual`` is the recorded value for years inside the history.
    Slots: every region to 2100 is 22,800 Points, and a slotted one is built in two thirds of the
    time (built positionally, in the field order above, by the modeling code).
    """

    year: int
    value: float | None
    lower: float | None
    upper: float | None
    actual: float | None


@dataclass(frozen=True)
class Forecast:
    """One series' forecast: the lag order fitted, the level, whether the intervals after the
    history are calibrated, and the points."""

    lags: int
    level: float
    points: list[Point]
    calibrated: bool = False
