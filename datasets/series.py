"""Real time series that ship inside installed packages (no download), in one registry: Seattle weather.

`SERIES` is the registry the settings form, the command line and links read; adding a series is one loader
here and one line in it. The stock series that ship offline (vega_datasets, plotly) have 68-123 points: too
short to train on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import DataError


def _vega(name: str, column: str) -> np.ndarray:
    try:
        from vega_datasets import local_data
    except ImportError:
        raise DataError("the vega_datasets package is not installed; run 'make run' to install it.") from None
    return getattr(local_data, name)()[column].to_numpy()


@dataclass(frozen=True)
class SeriesSource:
    name: str  # as in TaskConfig.series, links and --series
    title: str  # one line for the settings form, with the unit
    unit: str  # of the raw values, for axis labels
    load: Callable[[], np.ndarray]  # the raw values, oldest first


SERIES: dict[str, SeriesSource] = {s.name: s for s in (
    SeriesSource("seattle-temp", "Seattle daily maximum temperature 2012-2015, °C (vega_datasets)", "°C",
                 lambda: _vega("seattle_weather", "temp_max")),
    SeriesSource("seattle-hourly", "Seattle hourly temperature 2010, °F (vega_datasets)", "°F",
                 lambda: _vega("seattle_temps", "temp")),
)}


@functools.lru_cache(maxsize=4)
def load_series(name: str) -> np.ndarray:
    """The raw series as float32 (N,), oldest first."""
    source = SERIES.get(name)
    if source is None:
        raise DataError(f"unknown series {name!r}; allowed: {', '.join(SERIES)}.")
    return np.asarray(source.load(), dtype=np.float32)
