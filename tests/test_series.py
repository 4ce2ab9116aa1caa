"""datasets.series: every registered series loads offline from an installed package, as float32 oldest first;
an unknown name is refused with one sentence."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from datasets.errors import DataError
from datasets.series import SERIES, load_series


@pytest.fixture
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a series tried to use the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("name", list(SERIES))
def test_each_series_loads_offline(offline, name):
    v = load_series.__wrapped__(name)
    assert v.dtype == np.float32 and v.ndim == 1 and len(v) > 1000 and np.isfinite(v).all()
    assert SERIES[name].unit in SERIES[name].title


def test_the_values_are_the_packaged_data():
    from vega_datasets import local_data

    daily = load_series.__wrapped__("seattle-temp")
    np.testing.assert_array_equal(daily, local_data.seattle_weather()["temp_max"].to_numpy(dtype=np.float32))
    assert -10 < daily.min() < daily.max() < 45  # °C


def test_unknown_series_is_refused():
    with pytest.raises(DataError, match="unknown series 'stocks'; allowed: seattle-temp, seattle-hourly"):
        load_series.__wrapped__("stocks")
