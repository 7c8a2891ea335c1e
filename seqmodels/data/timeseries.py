"""Real time series (sunspots, CO2, stock prices) and chronological splits of windows.

Splits are chronological: the first 70% of the time steps are for training, the next 15% for
validation, the last 15% for testing. A window's target steps always lie inside its split (its
input may reach back into the previous split's past, which a forecaster is allowed to see), so
the target times of the splits never overlap. Normalisation statistics come from the training
range only.
"""

import csv
import datetime
import functools
import math

import keras
import numpy as np
import tensorflow as tf

from seqmodels.data.dataset_info import DatasetInfo
from seqmodels.data.files import corrupt_file, package_file, reading

SPLITS = ("train", "validation", "test")
FRACTIONS = (0.70, 0.15, 0.15)
STOCK_SYMBOLS = ("AAPL", "AMZN", "GOOG", "IBM", "MSFT")
DEFAULT_SYMBOLS = ("AAPL", "AMZN", "IBM", "MSFT")  # GOOG starts in 2004
CO2_GAPS = ("", "NA", "nan")  # the weeks co2.csv has no reading for (filled by interpolation)

SUNSPOTS_INFO = DatasetInfo(
    name="sunspots", task="forecasting",
    description="Yearly mean sunspot numbers 1700-2008 (309 years, one feature; the solar cycle "
                "is about 11 years).",
    features={"window": "float32 (window_length, 1)", "target": "float32 (horizon, 1)"},
    num_classes=0, splits={"train": 216, "validation": 46, "test": 47},
    license="BSD-3-Clause (statsmodels); data public domain (SIDC)",
    source="PyPI statsmodels: statsmodels/datasets/sunspots/sunspots.csv", scaled=True)
CO2_INFO = DatasetInfo(
    name="co2", task="forecasting",
    description="Weekly atmospheric CO2 at Mauna Loa 1958-2001 (2,284 weeks, 59 gaps filled by "
                "linear interpolation).",
    features={"window": "float32 (window_length, 1)", "target": "float32 (horizon, 1)"},
    num_classes=0, splits={"train": 1599, "validation": 343, "test": 342},
    license="BSD-3-Clause (statsmodels); data public domain (NOAA/Scripps)",
    source="PyPI statsmodels: statsmodels/datasets/co2/co2.csv", scaled=True)
STOCKS_INFO = DatasetInfo(
    name="stocks", task="forecasting",
    description="Monthly closing prices of AAPL, AMZN, IBM and MSFT, 2000-2010 (123 months; "
                "pass symbols= to choose, GOOG from 2004-08).",
    features={"window": "float32 (window_length, symbols)", "target": "float32 (horizon, symbols)"},
    num_classes=0, splits={"train": 86, "validation": 18, "test": 19},
    license="BSD-3-Clause (vega-datasets)",
    source="PyPI vega-datasets: vega_datasets/_data/stocks.csv", scaled=True)


class _Table:
    """The rows of a packaged CSV file, each with its line number, every column present."""

    def __init__(self, dataset, path, columns):
        self.dataset, self.path = dataset, path
        with reading(dataset, path), open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            found = reader.fieldnames or ()
            missing = [c for c in columns if c not in found]
            if missing:
                raise corrupt_file(dataset, path, f"no column {', '.join(map(repr, missing))}. "
                                   f"Columns found: {', '.join(found) or 'none'}")
            self.rows = []
            for row in reader:
                if any(row[c] is None for c in columns):  # a short row: csv fills in None
                    raise corrupt_file(dataset, path, f"expected {len(found)} fields, found "
                                       f"{sum(row[c] is not None for c in found)}",
                                       f", line {reader.line_num}")
                self.rows.append((reader.line_num, row))
        if not self.rows:
            raise corrupt_file(dataset, path, "no rows after the header")

    def number(self, line, row, column, key):
        """The finite float of one cell; `key` names the row (its year or date)."""
        where = f", line {line} ({key}), column {column!r}"
        try:
            value = float(row[column])
        except ValueError:
            raise corrupt_file(self.dataset, self.path, f"{row[column]!r} is not a number",
                               where) from None
        if not math.isfinite(value):
            raise corrupt_file(self.dataset, self.path, f"{row[column]!r} is not a finite "
                               "number (one NaN or infinity turns every window holding it, and "
                               "the training statistics, NaN)", where)
        return value


@functools.lru_cache(maxsize=4)
def sunspots(data_dir=None):
    """Returns `(years, values (309, 1) float32)`.

    Raises:
        BadDataError: the file is damaged: a missing column, a short row, a cell that is not a
            finite number (naming its line, year and column).
    """
    table = _Table("sunspots", package_file("statsmodels", "datasets/sunspots/sunspots.csv",
                                            "sunspots", data_dir), ("YEAR", "SUNACTIVITY"))
    years = [int(table.number(line, r, "YEAR", f"YEAR {r['YEAR']}")) for line, r in table.rows]
    return (np.array(years),
            np.array([[table.number(line, r, "SUNACTIVITY", f"YEAR {r['YEAR']}")]
                      for line, r in table.rows], np.float32))


@functools.lru_cache(maxsize=4)
def co2(data_dir=None):
    """Returns `(dates, values (2284, 1) float32)`, the missing weeks linearly interpolated.

    Raises:
        BadDataError: the file is damaged (a reading, when present, must be a finite number).
    """
    table = _Table("co2", package_file("statsmodels", "datasets/co2/co2.csv", "co2", data_dir),
                   ("date", "co2"))
    dates = np.array([r["date"] for _, r in table.rows])
    values = np.array([np.nan if r["co2"] in CO2_GAPS
                       else table.number(line, r, "co2", f"date {r['date']}")
                       for line, r in table.rows])
    gaps = np.isnan(values)
    index = np.arange(len(values))
    values[gaps] = np.interp(index[gaps], index[~gaps], values[~gaps])
    return dates, values[:, None].astype(np.float32)


@functools.lru_cache(maxsize=8)
def stocks(symbols=DEFAULT_SYMBOLS, data_dir=None):
    """Returns `(months, prices (months, len(symbols)) float32)` over the months all symbols have.

    Raises:
        ValueError: an unknown symbol.
        BadDataError: the file is damaged (a date or price that does not parse, naming its line).
    """
    unknown = sorted(set(symbols) - set(STOCK_SYMBOLS))
    if unknown or not symbols:
        raise ValueError(f"`symbols` must be a non-empty subset of {', '.join(STOCK_SYMBOLS)}. "
                         f"Received: symbols={tuple(symbols)}")
    table = _Table("stocks", package_file("vega_datasets", "_data/stocks.csv", "stocks",
                                          data_dir), ("symbol", "date", "price"))
    prices = {}
    for line, r in table.rows:
        key = f"{r['symbol']} {r['date']}"
        try:
            month = datetime.datetime.strptime(r["date"], "%b %d %Y").strftime("%Y-%m")
        except ValueError:
            raise corrupt_file("stocks", table.path, f"{r['date']!r} is not a date like "
                               "'Jan 1 2000'", f", line {line} ({key}), column 'date'") from None
        prices.setdefault(month, {})[r["symbol"]] = table.number(line, r, "price", key)
    months = sorted(m for m, p in prices.items() if all(s in p for s in symbols))
    return (np.array(months),
            np.array([[prices[m][s] for s in symbols] for m in months], np.float32))


def split_ranges(length):
    """`{split: (start, stop)}` of the time steps each split's targets cover (70/15/15%).

    Example:

    >>> split_ranges(100)
    {'train': (0, 70), 'validation': (70, 85), 'test': (85, 100)}
    """
    n_train = int(round(FRACTIONS[0] * length))
    n_validation = int(round(FRACTIONS[1] * length))
    return {"train": (0, n_train), "validation": (n_train, n_train + n_validation),
            "test": (n_train + n_validation, length)}


def training_statistics(values):
    """`(mean, std)` per feature of the training range of `values` (time, features).

    Only the first 70% of the steps count, so nothing about the validation or test future
    leaks into the scaling; `std` gets 1e-8 added so a constant feature does not divide by 0.

    Example:

    >>> mean, std = training_statistics(np.arange(10.0)[:, None])
    >>> float(mean[0])
    3.0
    """
    train = np.asarray(values, np.float64)[:split_ranges(len(values))["train"][1]]
    return train.mean(axis=0), train.std(axis=0) + 1e-8


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def split_windows(values, split, window_length, horizon=1, normalize=True):
    """`(window, target)` pairs of one chronological split, made by Keras' window utility.

    Each example is `window_length + horizon` consecutive steps cut by
    `keras.utils.timeseries_dataset_from_array`: the first `window_length` are the input, the
    last `horizon` the target. Every target step lies in `split`'s range of `split_ranges`, so
    the target times of the splits never overlap; a window's input may reach back into the
    previous split (the past a forecaster is allowed to see). With `normalize`, values are
    scaled by `training_statistics` (training range only).

    Args:
        values: array (time, features).
        split: `"train"`, `"validation"` or `"test"`.
        window_length: past steps per input window.
        horizon: future steps per target.
        normalize: scale with the training range's mean and standard deviation.

    Returns:
        An unbatched `tf.data.Dataset` of float32 `(window (window_length, features),
        target (horizon, features))`.

    Raises:
        ValueError: a bad split, window_length or horizon, or a split too short for one window.

    Example:

    >>> ds = split_windows(np.arange(100.0)[:, None], "test", 10, 2, normalize=False)
    >>> window, target = next(iter(ds))
    >>> window[:, 0].numpy().tolist()[-1], target[:, 0].numpy().tolist()
    (84.0, [85.0, 86.0])
    """
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {', '.join(SPLITS)}. Received: split={split!r}")
    _check_positive("window_length", window_length)
    _check_positive("horizon", horizon)
    values = np.asarray(values, np.float32)
    if normalize:
        mean, std = training_statistics(values)
        values = ((values - mean) / std).astype(np.float32)
    start, stop = split_ranges(len(values))[split]
    first_target = max(start, window_length)
    if stop - first_target < horizon:
        raise ValueError(
            f"The {split} split (time steps {start}-{stop - 1}) is too short for one window with "
            f"window_length={window_length} and horizon={horizon}.")
    features = values.shape[1]
    # Keras wants `end_index < len(data)`: cut the data at the split's end instead.
    dataset = keras.utils.timeseries_dataset_from_array(
        values[:stop], None, sequence_length=window_length + horizon,
        start_index=first_target - window_length, batch_size=None)
    # (window_length + horizon, features) -> (window_length, features), (horizon, features)
    return dataset.map(lambda w: (tf.ensure_shape(w[:window_length], (window_length, features)),
                                  tf.ensure_shape(w[window_length:], (horizon, features))))


def series(name, data_dir=None, **options):
    """The raw `(time index, values (time, features) float32)` of a real series by name.

    Args:
        name: `"sunspots"`, `"co2"` or `"stocks"`.
        data_dir: a directory holding the CSV file (default: the installed package).
        **options: `symbols` (a tuple) for stocks.

    Example:

    A CSV in the installed package's format, in `data_dir`:

    >>> import os, tempfile
    >>> directory = tempfile.mkdtemp()
    >>> with open(os.path.join(directory, "co2.csv"), "w") as f:
    ...     _ = f.write("date,co2\\n19580329,316.1\\n19580405,\\n19580412,317.3\\n")
    >>> dates, values = series("co2", data_dir=directory)  # the missing week interpolated
    >>> dates.tolist(), [round(float(v), 1) for v in values[:, 0]]
    (['19580329', '19580405', '19580412'], [316.1, 316.7, 317.3])

    The real series come with statsmodels and vega-datasets (`make data`):

    >>> years, values = series("sunspots")  # doctest: +SKIP
    >>> values.shape  # doctest: +SKIP
    (309, 1)
    """
    if name == "sunspots":
        return sunspots(data_dir)
    if name == "co2":
        return co2(data_dir)
    if name == "stocks":
        symbols = options.get("symbols", DEFAULT_SYMBOLS)
        return stocks((symbols,) if isinstance(symbols, str) else tuple(symbols), data_dir)
    raise ValueError(f"`name` must be one of sunspots, co2, stocks. Received: name={name!r}")
