"""What the validation pass checks in each record, per task: a `RecordProblem` names the column.

`check_record(task, record, options, file)` returns the values the pass learns from (the label,
an image's shape, a series' numbers) or raises `RecordProblem`.
"""

import math
import os

from seqmodels.data.user.records import utf8_problem

# The text columns of each task (read as UTF-8 strings by the model).
TEXT_COLUMNS = {"text_classification": ("text_column",), "translation": ("source_column",
                "target_column"), "captioning": ("caption_column",),
                "language_modeling": ("text_column",)}


class RecordProblem(Exception):
    """One record cannot be trained on: `column` (or "") and what is wrong."""

    def __init__(self, column, message):
        super().__init__(message)
        self.column = column
        self.message = message


def _value(record, column, option):
    """The record's value of `column`; a missing one lists the columns the record has."""
    if column not in record.fields:
        found = ", ".join(sorted(record.fields)) or "none"
        raise RecordProblem(column, f"no column {column!r} ({option}). Columns found: {found}")
    value = record.fields[column]
    if isinstance(value, list):  # a tf.train.Example feature
        if len(value) != 1:
            raise RecordProblem(column, f"feature {column!r} holds {len(value)} values, "
                                        "expected one")
        value = value[0]
    return value


def text_value(record, column, option):
    value = _value(record, column, option)
    if not isinstance(value, (str, bytes)):
        raise RecordProblem(column, f"expected text, found {value!r}")
    problem = utf8_problem(value)
    if problem:
        raise RecordProblem(column, problem)
    return value


def label_value(record, column, option):
    """The label as a string (`"3"`, `"good"`), or an int from an int64 feature."""
    value = _value(record, column, option)
    if isinstance(value, bool) or isinstance(value, float):
        raise RecordProblem(column, f"expected a label (a string or an integer), found {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="surrogateescape")
    problem = utf8_problem(value)
    if problem:
        raise RecordProblem(column, problem)
    if not value.strip():
        raise RecordProblem(column, "empty label")
    return value.strip()


def number_value(record, column, option):
    value = _value(record, column, option)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RecordProblem(column, f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise RecordProblem(column, f"{value!r} in a series (NaN and infinity cannot be "
                                    "trained on; fill or drop the row)")
    return number


def image_bytes(record, column, option, file):
    """The encoded image: bytes of a TFRecord feature, or the file a path names (relative to
    the data file's folder)."""
    value = _value(record, column, option)
    if isinstance(record.fields[column], list):  # a tf.train.Example's bytes feature
        return value, f"feature {column!r}"
    path = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)
    full = os.path.join(os.path.dirname(file), path)
    try:
        with open(full, "rb") as f:
            return f.read(), full
    except OSError as e:
        raise RecordProblem(column, f"image {full} cannot be read ({e.strerror})") from None


def image_shape(encoded, what, column):
    """(height, width, channels) of an encoded image; a `RecordProblem` when it does not decode."""
    import tensorflow as tf

    try:
        image = tf.io.decode_image(encoded, expand_animations=False)
    except (tf.errors.InvalidArgumentError, ValueError):
        raise RecordProblem(column, f"{what} does not decode as an image (PNG, JPEG, BMP or "
                                    "GIF)") from None
    return tuple(int(d) for d in image.shape)


def check_record(task, record, options, file):
    """The values the pass learns from one record: `label`, `shape`, `numbers` (as the task has).

    Raises:
        RecordProblem: the record cannot be trained on.
    """
    if record.problem:
        raise RecordProblem(record.column, record.problem)
    values = {}
    for option in TEXT_COLUMNS.get(task, ()):
        text_value(record, options[option], option)
    if task in ("text_classification", "image_classification"):
        values["label"] = label_value(record, options["label_column"], "label_column")
    if task in ("image_classification", "captioning"):
        column = options["image_column"]
        encoded, what = image_bytes(record, column, "image_column", file)
        values["shape"] = image_shape(encoded, what, column)
    if task == "forecasting":
        columns = options["target_columns"] + options["feature_columns"]
        values["numbers"] = [number_value(record, c, "target_columns" if c in
                                          options["target_columns"] else "feature_columns")
                             for c in columns]
        if options["time_column"]:
            values["time"] = _value(record, options["time_column"], "time_column")
    return values
