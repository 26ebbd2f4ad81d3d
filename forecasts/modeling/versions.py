"""Which version of a method's arithmetic made a figure.

Backtests (and the damped model's calibration tables) are stored; when a method's arithmetic
changes, figures measured with the old one describe another model, so they are recomputed
instead of being shown as this one's.
"""

from forecasts.rules import DAMPED_METHOD

from . import longrange

# The AutoReg methods (levels, log, diff, growth, diff2, growth2); "levels" with 1 lag
# reproduces the original app's values exactly. 2: intervals in log space (positive bounds), for
# the model's own intervals of the methods fitted in persons and for every calibrated interval.
AUTOREG_VERSION = 2


def model_version(method: str) -> int:
    """The current version of ``method``: longrange.MODEL_VERSION for the damped default."""
    return longrange.MODEL_VERSION if method == DAMPED_METHOD else AUTOREG_VERSION
