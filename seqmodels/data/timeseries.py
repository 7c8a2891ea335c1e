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

import numpy as np

from seqmodels.data.dataset_info import DatasetInfo
from seqmodels.data.files import package_file

SPLITS = ("train", "validation", "test")
FRACTIONS = (0.70, 0.15, 0.15)
STOCK_SYMBOLS = ("AAPL", "AMZN", "GOOG", "IBM", "MSFT")

SUNSPOTS_INFO = DatasetInfo(
    name="sunspots", task="forecasting",
    description="Yearly mean sunspot numbers 1700-2008 (309 years, one feature; the solar cycle "
                "is about 11 years).",
    features={"window": "float32 (window_length, 1)", "target": "float32 (horizon, 1)"},
    num_classes=0, splits={"train": 216, "validation": 46, "test": 47},
    license="BSD-3-Clause (statsmodels); data public domain (SIDC)",
    source="PyPI statsmodels: statsmodels/datasets/sunspots/sunspots.csv")
CO2_INFO = DatasetInfo(
    name="co2", task="forecasting",
    description="Weekly atmospheric CO2 at Mauna Loa 1958-2001 (2,284 weeks, 59 gaps filled by "
                "linear interpolation).",
    features={"window": "float32 (window_length, 1)", "target": "float32 (horizon, 1)"},
    num_classes=0, splits={"train": 1599, "validation": 343, "test": 342},
    license="BSD-3-Clause (statsmodels); data public domain (NOAA/Scripps)",
    source="PyPI statsmodels: statsmodels/datasets/co2/co2.csv")
STOCKS_INFO = DatasetInfo(
    name="stocks", task="forecasting",
    description="Monthly closing prices of AAPL, AMZN, IBM and MSFT, 2000-2010 (123 months; "
                "pass symbols= to choose, GOOG from 2004-08).",
    features={"window": "float32 (window_length, symbols)", "target": "float32 (horizon, symbols)"},
    num_classes=0, splits={"train": 86, "validation": 18, "test": 19},
    license="BSD-3-Clause (vega-datasets)", source="PyPI vega-datasets: vega_datasets/_data/stocks.csv")


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@functools.lru_cache(maxsize=4)
def sunspots(data_dir=None):
    """Returns `(years, values (309, 1) float32)`."""
    rows = _read_csv(package_file("statsmodels", "datasets/sunspots/sunspots.csv", "sunspots",
                                  data_dir))
    return (np.array([int(float(r["YEAR"])) for r in rows]),
            np.array([[float(r["SUNACTIVITY"])] for r in rows], np.float32))


@functools.lru_cache(maxsize=4)
def co2(data_dir=None):
    """Returns `(dates, values (2284, 1) float32)`, the missing weeks linearly interpolated."""
    rows = _read_csv(package_file("statsmodels", "datasets/co2/co2.csv", "co2", data_dir))
    dates = np.array([r["date"] for r in rows])
    values = np.array([float(r["co2"]) if r["co2"] not in ("", "NA", "nan") else np.nan
                       for r in rows])
    gaps = np.isnan(values)
    index = np.arange(len(values))
    values[gaps] = np.interp(index[gaps], index[~gaps], values[~gaps])
    return dates, values[:, None].astype(np.float32)


@functools.lru_cache(maxsize=8)
def stocks(symbols=("AAPL", "AMZN", "IBM", "MSFT"), data_dir=None):
    """Returns `(months, prices (months, len(symbols)) float32)` over the months all symbols have."""
    unknown = sorted(set(symbols) - set(STOCK_SYMBOLS))
    if unknown or not symbols:
        raise ValueError(f"`symbols` must be a non-empty subset of {', '.join(STOCK_SYMBOLS)}. "
                         f"Received: symbols={tuple(symbols)}")
    rows = _read_csv(package_file("vega_datasets", "_data/stocks.csv", "stocks", data_dir))
    prices = {}
    for r in rows:
        month = datetime.datetime.strptime(r["date"], "%b %d %Y").strftime("%Y-%m")
        prices.setdefault(month, {})[r["symbol"]] = float(r["price"])
    months = sorted(m for m, p in prices.items() if all(s in p for s in symbols))
    return (np.array(months),
            np.array([[prices[m][s] for s in symbols] for m in months], np.float32))


def split_ranges(length):
    """`{split: (start, stop)}` of the time steps each split's targets cover."""
    n_train = int(round(FRACTIONS[0] * length))
    n_validation = int(round(FRACTIONS[1] * length))
    return {"train": (0, n_train), "validation": (n_train, n_train + n_validation),
            "test": (n_train + n_validation, length)}


def series(name, data_dir=None, **options):
    """The raw `(time index, values (time, features))` of a real series by name."""
    if name == "sunspots":
        return sunspots(data_dir)
    if name == "co2":
        return co2(data_dir)
    return stocks(tuple(options.get("symbols", ("AAPL", "AMZN", "IBM", "MSFT"))), data_dir)
