"""The options of a dataset of your own files: which keys each format and task takes, typed.

The binary passes them as `--data_option=key=value` strings, Python as keyword arguments
(strings or typed values). A key that the format and task do not take is an error listing the
ones they do. The task is given (`task=`, which the task modules pass) or follows from the
columns named (`label_column` -> text classification, `target_columns` -> forecasting, ...).
Every option error is a `DataOptionError`, which the training binary refuses in one line.
"""

import dataclasses

from seqmodels.data.user.spec import FORMS

TASKS = ("text_classification", "image_classification", "forecasting", "translation",
         "captioning", "language_modeling")
# The column options of each task and their defaults.
COLUMNS = {
    "text_classification": {"text_column": "text", "label_column": "label"},
    "image_classification": {"image_column": "image", "label_column": "label"},
    "forecasting": {"target_columns": (), "feature_columns": (), "time_column": ""},
    "translation": {"source_column": "source", "target_column": "target"},
    "captioning": {"image_column": "image", "caption_column": "caption"},
    "language_modeling": {"text_column": "text"},
}
# Options a task takes whatever the format (the task modules pass the window ones).
TASK_EXTRAS = {
    "image_classification": {"image_size": ()},
    "captioning": {"image_size": ()},
    "forecasting": {"window_length": 24, "horizon": 1, "normalize": True},
}
COMMON = {"task": "", "split_fractions": (0.8, 0.1, 0.1), "on_bad_record": "error"}
# The tasks each form serves (dir: one subfolder per class; lines: one text a line).
FORM_TASKS = {"dir": ("text_classification", "image_classification"),
              "lines": ("language_modeling",)}
BAD_RECORD = ("error", "skip")
# Which option names the task when `task` is not given, in this order.
TASK_HINTS = (("target_columns", "forecasting"), ("feature_columns", "forecasting"),
              ("time_column", "forecasting"), ("source_column", "translation"),
              ("caption_column", "captioning"), ("image_column", "image_classification"),
              ("label_column", "text_classification"), ("text_column", "text_classification"))


class DataOptionError(TypeError, ValueError):
    """A data option that the dataset does not take, or a bad value of one; names the option.

    A `TypeError` (an option not taken) and a `ValueError` (a bad value) at once, so that
    either `except` catches it; the training binary turns it into one line on stderr and exit
    status 2 (`seqmodels.training.exit_status.REFUSALS`).
    """


def valid_options(form, task):
    """The option names (sorted) a dataset of `form` takes for `task`.

    Example:

    >>> valid_options("csv", "text_classification")
    ['label_column', 'on_bad_record', 'split_fractions', 'task', 'text_column']
    >>> valid_options("lines", "language_modeling")
    ['on_bad_record', 'split_fractions', 'task']
    """
    names = set(COMMON) | set(TASK_EXTRAS.get(task, {}))
    if form not in FORM_TASKS:
        names |= set(COLUMNS[task])
    return sorted(names)


def infer_task(form, options):
    """The task `options` (and the form) point to, or "" when they do not tell."""
    if options.get("task"):
        return options["task"]
    if form == "lines":
        return "language_modeling"
    for key, task in TASK_HINTS:
        if key in options:
            return task
    if "window_length" in options or "horizon" in options:
        return "forecasting"
    return ""


def _columns(key, value):
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(",") if name.strip())
    return tuple(str(name) for name in value)


def _numbers(key, value, kind, count):
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        numbers = tuple(kind(part) for part in parts)
    except (TypeError, ValueError):
        numbers = ()
    if len(numbers) != count:
        raise DataOptionError(f"`{key}` must be {count} comma-separated {kind.__name__} "
                              f"values. Received: {key}={value!r}")
    return numbers


def _typed(key, value, default):
    """`value` (a string from the command line, or already typed) as the type of `default`."""
    if key == "split_fractions":
        fractions = _numbers(key, value, float, 3)
        if not (all(f >= 0 for f in fractions) and abs(sum(fractions) - 1.0) <= 1e-6):  # NaN
            raise DataOptionError("`split_fractions` must be three non-negative fractions "
                                  "(train, validation, test) that sum to 1. Received: "
                                  f"split_fractions={value!r}")
        return fractions
    if key == "image_size":
        size = _numbers(key, value, int, 2)
        if min(size) < 1:
            raise DataOptionError("`image_size` must be two positive integers (height, width). "
                                  f"Received: image_size={value!r}")
        return size
    if isinstance(default, tuple):
        return _columns(key, value)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered not in ("1", "true", "yes", "0", "false", "no"):
            raise DataOptionError(f"`{key}` must be true or false. Received: {key}={value!r}")
        return lowered in ("1", "true", "yes")
    if isinstance(default, int):
        try:
            if isinstance(value, (bool, float)):  # int() would turn 2.5 into 2
                raise TypeError(value)
            return int(value)
        except (TypeError, ValueError):
            raise DataOptionError(f"`{key}` must be an integer. Received: {key}={value!r}"
                                  ) from None
    return str(value)


@dataclasses.dataclass(frozen=True)
class FileOptions:
    """The checked, typed options of one dataset of files.

    Attributes:
        task: the task the examples are for, one of `TASKS`.
        values: option name -> typed value, defaults filled in.

    Example:

    >>> options = FileOptions.parse("csv", {"text_column": "review", "label_column": "score"})
    >>> options.task, options["text_column"], options["split_fractions"]
    ('text_classification', 'review', (0.8, 0.1, 0.1))
    >>> FileOptions.parse("csv", {"text_column": "review", "colour": "red"})
    Traceback (most recent call last):
    ...
    seqmodels.data.user.options.DataOptionError: A csv dataset for text_classification takes
    no option colour. Its options: label_column, on_bad_record, split_fractions, task,
    text_column.
    """

    task: str
    values: dict

    def __getitem__(self, key):
        return self.values[key]

    @classmethod
    def parse(cls, form, options):
        """Checks `options` (a dict) for a dataset of `form`; returns the typed `FileOptions`.

        Raises:
            DataOptionError: an option the format and task do not take (listing those they
                do), no way to tell the task, or a bad value (naming the option).
        """
        if form not in FORMS:
            raise DataOptionError(f"`form` must be one of {', '.join(FORMS)}. Received: "
                                  f"form={form!r}")
        options = dict(options)
        task = infer_task(form, options)
        allowed_tasks = FORM_TASKS.get(form, TASKS)
        if not task and form == "dir":
            task = ""  # decided by the files: images or texts
        elif not task:
            raise DataOptionError(
                f"Cannot tell which task a {form} dataset is for: pass task= (one of "
                f"{', '.join(TASKS)}) or its column options, e.g. text_column= and "
                "label_column= for text classification.")
        elif task not in allowed_tasks:
            raise DataOptionError(f"`task` must be one of {', '.join(allowed_tasks)} for a "
                                  f"{form} dataset. Received: task={task!r}")
        defaults = dict(COMMON)
        for name in ([task] if task else allowed_tasks):
            defaults.update(TASK_EXTRAS.get(name, {}))
            if form not in FORM_TASKS:
                defaults.update(COLUMNS[name])
        unknown = sorted(set(options) - set(defaults))
        if unknown:
            valid = (valid_options(form, task) if task
                     else sorted(set().union(*(valid_options(form, t) for t in allowed_tasks))))
            raise DataOptionError(f"A {form} dataset{' for ' + task if task else ''} takes no "
                                  f"option {', '.join(unknown)}. Its options: "
                                  f"{', '.join(valid)}.")
        values = {key: _typed(key, options[key], default) if key in options else default
                  for key, default in defaults.items()}
        if values["on_bad_record"] not in BAD_RECORD:
            raise DataOptionError(f"`on_bad_record` must be one of {', '.join(BAD_RECORD)}. "
                                  f"Received: on_bad_record={values['on_bad_record']!r}")
        values["task"] = task
        return cls(task, values)


def parse_pairs(items):
    """`{"key": "value"}` of `key=value` strings (the binary's `--data_option`), or of a dict.

    Raises:
        DataOptionError: an item without `=`.

    Example:

    >>> parse_pairs(["text_column=review", "label_column=score"])
    {'text_column': 'review', 'label_column': 'score'}
    """
    if isinstance(items, dict):
        return dict(items)
    pairs = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise DataOptionError(f"A data option is key=value. Received: {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs
