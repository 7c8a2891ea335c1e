"""Forecasting windows from a series in your own files, split chronologically.

The series' columns are `target_columns` then `feature_columns`: a window holds them all, its
target the `target_columns` only (the first ones, as the export's normalisation expects). Rows
are sorted by `time_column` when given (numbers, or dates that numpy reads), and gaps in it are
reported. Without `{split}` files the series is split 70/15/15% in time
(`seqmodels.data.timeseries.split_ranges`); with them each split is its own series. Scaling uses
the training range's statistics only.
"""

import collections

import keras
import numpy as np
import tensorflow as tf

from seqmodels.data import timeseries
from seqmodels.data.dataset_info import BadDataError


def _time_order(name, times, column):
    """The order that sorts `times`, and the times as numbers (None where they are not)."""
    try:
        numbers = np.array([float(t) for t in times])
    except (TypeError, ValueError):
        try:
            numbers = np.array(times, dtype="datetime64[s]").astype(np.int64).astype(float)
        except ValueError:
            return np.argsort(np.array([str(t) for t in times]), kind="stable"), None
    return np.argsort(numbers, kind="stable"), numbers


def report_gaps(name, numbers, column):
    """Prints how many steps of the sorted time column are longer than the usual one."""
    steps = np.diff(numbers)
    if not len(steps):
        return 0
    usual = collections.Counter(steps.tolist()).most_common(1)[0][0]
    gaps = np.flatnonzero(steps > usual)
    if len(gaps):
        print(f"Dataset {name!r}: {len(gaps)} gap{'s' if len(gaps) > 1 else ''} in time column "
              f"{column!r} (steps longer than the usual {usual:g}), the first after "
              f"{numbers[gaps[0]]:g}.")
    return len(gaps)


def values_of(spec, file_scan, key):
    """The `(time, columns)` float32 values of the scanned series `key` ("all" or a split)."""
    if key not in file_scan.series:
        raise BadDataError(f"Dataset {spec.name!r}: the {key} series has no rows.")
    times, numbers = file_scan.series[key]
    values = np.asarray(numbers, np.float64)
    column = file_scan.options["time_column"]
    if column:
        order, sorted_times = _time_order(spec.name, times, column)
        values = values[order]
        if sorted_times is not None:
            report_gaps(spec.name, sorted_times[order], column)
    return values.astype(np.float32)


def statistics(spec, file_scan):
    """`(mean, std)` per column of the training range (what `windows` scales by)."""
    if file_scan.has_split_files:  # the whole training file is the training range
        train = values_of(spec, file_scan, "train").astype(np.float64)
        return train.mean(axis=0), train.std(axis=0) + 1e-8
    return timeseries.training_statistics(values_of(spec, file_scan, "all"))


def windows(spec, file_scan, split):
    """The `(window (window_length, columns), target (horizon, targets))` pairs of `split`."""
    options = file_scan.options
    length, horizon = options["window_length"], options["horizon"]
    targets = len(options["target_columns"])
    if file_scan.has_split_files:
        values = values_of(spec, file_scan, split)
        if options["normalize"]:
            mean, std = statistics(spec, file_scan)
            values = ((values - mean) / std).astype(np.float32)
        if len(values) < length + horizon:
            raise BadDataError(f"Dataset {spec.name!r}: the {split} series has {len(values)} "
                               f"rows, too few for one window of window_length={length} and "
                               f"horizon={horizon}.")
        pairs = keras.utils.timeseries_dataset_from_array(
            values, None, sequence_length=length + horizon, batch_size=None).map(
            lambda w: (w[:length], w[length:]))
    else:
        pairs = timeseries.split_windows(values_of(spec, file_scan, "all"), split, length,
                                         horizon, options["normalize"])
    columns = pairs.element_spec[0].shape[-1]
    # (horizon, columns) -> (horizon, targets): the target columns come first.
    return pairs.map(lambda window, target: (tf.ensure_shape(window, (length, columns)),
                                             tf.ensure_shape(target[:, :targets],
                                                             (horizon, targets))))
