"""Time series: parsing, gap interpolation, chronological non-overlapping splits, train statistics."""

import numpy as np
import pytest

from seqmodels.data import catalog, timeseries
from seqmodels.data.pipelines import windows_from_array
from tests.data.fixtures import write_series


@pytest.fixture()
def series_dir(tmp_path):
    write_series(tmp_path)
    for function in (timeseries.sunspots, timeseries.co2, timeseries.stocks):
        function.cache_clear()
    return str(tmp_path)


def test_parsing_and_interpolation(series_dir):
    years, values = timeseries.sunspots(series_dir)
    assert values.shape == (100, 1) and years[0] == 1700
    _, co2 = timeseries.co2(series_dir)
    np.testing.assert_allclose(co2[[4, 5, 6, 7, 30], 0], [304, 305, 306, 307, 330])
    months, prices = timeseries.stocks(("AAPL", "GOOG"), series_dir)
    assert prices.shape == (24, 2) and months[0] == "2001-01"  # GOOG starts a year later


def test_splits_are_chronological_and_targets_do_not_overlap():
    values = np.arange(100, dtype=np.float32)[:, None]  # each value is its own time index
    ranges = timeseries.split_ranges(len(values))
    assert ranges == {"train": (0, 70), "validation": (70, 85), "test": (85, 100)}
    times = {}
    for split in ("train", "validation", "test"):
        windows, targets = catalog._forecast_windows(values, split, 10, 2, normalize=False)
        # A target is the 2 steps right after its window.
        np.testing.assert_array_equal(targets[:, 0, 0], windows[:, -1, 0] + 1)
        times[split] = set(targets.ravel().astype(int).tolist())
        lo, hi = ranges[split]
        assert min(times[split]) >= max(lo, 10) and max(times[split]) < hi
    assert not times["train"] & times["validation"]
    assert not times["validation"] & times["test"]
    assert max(times["train"]) < min(times["validation"]) <= max(times["validation"]) < min(times["test"])


def test_normalisation_uses_training_range_only(series_dir):
    _, values = timeseries.sunspots(series_dir)
    windows, _ = catalog._forecast_windows(values, "test", 10, 1, normalize=True)
    train = values[:70]
    expected = (values[75:85] - train.mean()) / (train.std() + 1e-8)
    np.testing.assert_allclose(windows[0], expected, rtol=1e-5)
    mean, std = catalog.normalization("sunspots", series_dir)
    np.testing.assert_allclose(mean, train.mean(axis=0), rtol=1e-6)


def test_windows_from_array():
    batches = list(windows_from_array(np.arange(20.0)[:, None], 5, 2, batch_size=4))
    x, y = batches[0]
    np.testing.assert_array_equal(x[1, :, 0], [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(y[1, :, 0], [6, 7])
    assert sum(len(b[0]) for b in batches) == 20 - 7 + 1


def test_unknown_symbol(series_dir):
    with pytest.raises(ValueError, match=r"`symbols` must be a non-empty subset of AAPL, AMZN, "
                                         r"GOOG, IBM, MSFT\. Received: symbols=\('TSLA',\)"):
        timeseries.stocks(("TSLA",), series_dir)
