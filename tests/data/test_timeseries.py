"""Time series: parsing, gap interpolation, chronological non-overlapping splits, train statistics."""

import re

import numpy as np
import pytest
import tensorflow as tf

from seqmodels import data
from seqmodels.data import timeseries
from seqmodels.data.pipelines import windows_from_array
from tests.data.fixtures import write_series


@pytest.fixture()
def series_dir(tmp_path):
    write_series(tmp_path)
    for function in (timeseries.sunspots, timeseries.co2, timeseries.stocks):
        function.cache_clear()
    yield str(tmp_path)
    for function in (timeseries.sunspots, timeseries.co2, timeseries.stocks):
        function.cache_clear()


def _arrays(dataset):
    windows, targets = zip(*dataset.as_numpy_iterator())
    return np.stack(windows), np.stack(targets)


def test_parsing_and_interpolation(series_dir):
    years, values = timeseries.sunspots(series_dir)
    assert values.shape == (100, 1) and values.dtype == np.float32 and years[0] == 1700
    _, co2 = timeseries.co2(series_dir)
    assert not np.isnan(co2).any()
    np.testing.assert_allclose(co2[[4, 5, 6, 7, 30], 0], [304, 305, 306, 307, 330])
    months, prices = timeseries.stocks(("AAPL", "GOOG"), series_dir)
    assert prices.shape == (24, 2) and months[0] == "2001-01"  # GOOG starts a year later
    _, one = timeseries.series("stocks", series_dir, symbols="MSFT")  # a single name works
    assert one.shape == (36, 1)


def test_splits_are_chronological_and_targets_do_not_overlap():
    values = np.arange(100, dtype=np.float32)[:, None]  # each value is its own time index
    ranges = timeseries.split_ranges(len(values))
    assert ranges == {"train": (0, 70), "validation": (70, 85), "test": (85, 100)}
    times = {}
    for split in ("train", "validation", "test"):
        windows, targets = _arrays(timeseries.split_windows(values, split, 10, 2,
                                                            normalize=False))
        lo, hi = ranges[split]
        assert len(windows) == hi - 2 - max(lo, 10) + 1  # every target inside the split
        # A window is 10 consecutive steps; its target the 2 steps right after.
        np.testing.assert_array_equal(windows[:, :, 0], windows[:, :1, 0] + np.arange(10))
        np.testing.assert_array_equal(targets[:, :, 0], windows[:, -1:, 0] + [1, 2])
        times[split] = set(targets.ravel().astype(int).tolist())
        assert min(times[split]) >= max(lo, 10) and max(times[split]) < hi
    assert max(times["train"]) < min(times["validation"])
    assert max(times["validation"]) < min(times["test"])


def test_normalisation_uses_the_training_range_only(series_dir):
    _, values = timeseries.sunspots(series_dir)
    windows, targets = _arrays(timeseries.split_windows(values, "test", 10, 1))
    train = values[:70].astype(np.float64)
    expected = (values[75:85] - train.mean()) / (train.std() + 1e-8)
    np.testing.assert_allclose(windows[0], expected, rtol=1e-5)
    mean, std = data.normalization("sunspots", series_dir)
    np.testing.assert_allclose(mean, train.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(std, train.std(axis=0) + 1e-8, rtol=1e-6)
    # Changing the test range must not change the scaling.
    changed = values.copy()
    changed[85:] *= 100
    assert np.allclose(timeseries.training_statistics(changed)[0], mean)


def test_load_contract_and_multi_step_horizon(series_dir):
    dataset = data.load("stocks", "validation", data_dir=series_dir, window_length=6,
                        horizon=3, symbols=("AAPL", "MSFT"))
    assert dataset.element_spec == (tf.TensorSpec((6, 2), tf.float32),
                                    tf.TensorSpec((3, 2), tf.float32))
    # 36 months: validation targets cover months 25-29, so 5 - 3 + 1 windows.
    assert len(list(dataset)) == 3


def test_windows_from_array():
    batches = list(windows_from_array(np.arange(20.0)[:, None], 5, 2, batch_size=4))
    x, y = batches[0]
    np.testing.assert_array_equal(x[1, :, 0], [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(y[1, :, 0], [6, 7])
    assert sum(len(b[0]) for b in batches) == 20 - 7 + 1


def test_bad_arguments():
    values = np.arange(20.0)[:, None]
    with pytest.raises(ValueError, match=re.escape(
            "`window_length` must be a positive integer. Received: window_length=0")):
        timeseries.split_windows(values, "train", 0)
    with pytest.raises(ValueError, match=re.escape(
            "`horizon` must be a positive integer. Received: horizon=1.5")):
        timeseries.split_windows(values, "train", 3, 1.5)
    with pytest.raises(ValueError, match=re.escape(
            "The test split (time steps 17-19) is too short for one window with "
            "window_length=3 and horizon=4.")):
        timeseries.split_windows(values, "test", 3, 4)


def test_unknown_symbol(series_dir):
    with pytest.raises(ValueError, match=r"`symbols` must be a non-empty subset of AAPL, AMZN, "
                                         r"GOOG, IBM, MSFT\. Received: symbols=\('TSLA',\)"):
        timeseries.stocks(("TSLA",), series_dir)
