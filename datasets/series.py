"""Real time series that ship inside installed packages (no download): Seattle weather.

The stock series that ship offline (vega_datasets, plotly) have 68-123 points: too short to train on."""

from __future__ import annotations

import functools

import numpy as np

from lstm_core.tasks.base import DataError

SERIES_INFO = {
    "seattle-temp": "Seattle daily maximum temperature 2012-2015, °C (vega_datasets)",
    "seattle-hourly": "Seattle hourly temperature 2010, °F (vega_datasets)",
}


@functools.lru_cache(maxsize=4)
def load_series(name: str) -> np.ndarray:
    """The raw series as float32 (N,), oldest first."""
    try:
        from vega_datasets import local_data
    except ImportError:
        raise DataError("the vega_datasets package is not installed; run 'make run' to install it.") from None
    if name == "seattle-temp":
        v = local_data.seattle_weather()["temp_max"].to_numpy()
    elif name == "seattle-hourly":
        v = local_data.seattle_temps()["temp"].to_numpy()
    else:
        raise DataError(f"unknown series {name!r}; allowed: {', '.join(SERIES_INFO)}.")
    return np.asarray(v, dtype=np.float32)
