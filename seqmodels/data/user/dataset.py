"""`load`, `info` and `normalization` of a dataset of your own files (`csv:`, `dir:`, ...).

Each call parses the spec and the options, runs (or reuses) the validation pass, and reads the
split with tf.data. `seqmodels.data.load` and `info` dispatch here for every `<form>:` name.
"""

from seqmodels.data.dataset_info import BadDataError, DatasetInfo
from seqmodels.data.user import records
from seqmodels.data.user.options import FileOptions
from seqmodels.data.user.scan import scan
from seqmodels.data.user.spec import SPLITS, FileSpec

FEATURES = {
    "text_classification": {"text": "string", "label": "int64"},
    "image_classification": {"image": "uint8 (height, width, channels)", "label": "int64"},
    "forecasting": {"window": "float32 (window_length, columns)",
                    "target": "float32 (horizon, target columns)"},
    "translation": {"source": "string", "target": "string"},
    "captioning": {"image": "uint8 (height, width, channels)", "caption": "string"},
    "language_modeling": {"text": "string"},
}


def _columns_of(spec, path):
    """The columns (keys, features) of the first readable record of a data file.

    Raises:
        BadDataError: the file has no records, or none that can be read (naming the first).
    """
    if spec.form in ("csv", "tsv"):
        return records.header_of(path, "," if spec.form == "csv" else "\t")
    first_bad = None
    for record in records.records(spec.form, path):
        if record.fields:
            return list(record.fields)
        first_bad = first_bad or record
    if first_bad is None:
        raise BadDataError(f"{path}: the file is empty (no records).")
    raise BadDataError(f"{path}: no record can be read to take target_columns from (the first, "
                       f"{first_bad.where}: {first_bad.problem or 'no columns'}). Fix the data, "
                       "or give target_columns=.")


def _prepare(name, data_dir, options):
    """The `FileSpec`, the typed option values and the `FileScan` of a dataset of files."""
    spec = FileSpec.parse(name, data_dir)
    parsed = FileOptions.parse(spec.form, options)
    values = dict(parsed.values)
    if parsed.task == "forecasting" and not values["target_columns"]:
        # Every column but the time and the feature columns is a target.
        columns = _columns_of(spec, spec.files("train")[0])
        values["target_columns"] = tuple(c for c in columns if c != values["time_column"]
                                         and c not in values["feature_columns"])
    return spec, values, scan(spec, values)


def load(name, split, data_dir=None, input_context=None, **options):
    """One split of a dataset of your own files as an unbatched `tf.data.Dataset`.

    Elements are those of the bundled datasets of the same task (see
    `seqmodels.data.user.examples`; forecasting: `(window, target)` float32 windows).

    Args:
        name: `csv:<glob>`, `tsv:<glob>`, `jsonl:<glob>`, `tfrecord:<glob>`, `dir:<path>` or
            `lines:<glob>`; `{split}` in the path expands to each split's name.
        split: `"train"`, `"validation"` or `"test"`.
        data_dir: the folder a relative path starts from.
        input_context: a `tf.distribute.InputContext`: read this input pipeline's share.
        **options: the column options of the task (`text_column`, `label_column`, ...),
            `task`, `split_fractions`, `on_bad_record` (see `seqmodels.data.user.options`).

    Returns:
        A `tf.data.Dataset`.

    Raises:
        BadDataError: the validation pass found bad data (naming file, line and column).
        DataNotFoundError: a missing split file, or a glob that matches nothing.
        TypeError: an option the format and task do not take, listing those they do.

    Example:

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for split in ("train", "validation", "test"):
    ...     with open(os.path.join(folder, f"{split}.csv"), "w") as f:
    ...         _ = f.write("review,score\\n\\"a fine, warm film\\",good\\na dull plot,bad\\n")
    >>> train = load("csv:{split}.csv", "train", data_dir=folder, text_column="review",
    ...              label_column="score")
    >>> [(text.decode(), int(label)) for text, label in train.as_numpy_iterator()]
    [('a fine, warm film', 1), ('a dull plot', 0)]
    """
    from seqmodels.data.user import readers, series
    from seqmodels.data.user.examples import examples

    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {', '.join(SPLITS)}. Received: split={split!r}")
    spec, _, file_scan = _prepare(name, data_dir, options)
    if file_scan.task == "forecasting":
        windows = series.windows(spec, file_scan, split)
        return windows.shard(input_context.num_input_pipelines,
                             input_context.input_pipeline_id) if input_context else windows
    return examples(readers.column_batches(spec, file_scan, split, input_context), spec,
                    file_scan)


def info(name, data_dir=None, **options):
    """The `DatasetInfo` of a dataset of your own files: task, class names, split sizes.

    `splits` counts the records each split keeps (time steps for a series), `skipped` the
    records skipped per file under `on_bad_record="skip"`. Takes the options of `load`.
    """
    spec, values, file_scan = _prepare(name, data_dir, options)
    counts = dict(file_scan.counts)
    if file_scan.task == "forecasting":
        from seqmodels.data.timeseries import split_ranges

        if file_scan.has_split_files:
            counts = {s: len(file_scan.series.get(s, ([], []))[0]) for s in SPLITS}
        else:
            ranges = split_ranges(len(file_scan.series.get("all", ([], []))[0]))
            counts = {s: stop - start for s, (start, stop) in ranges.items()}
    return DatasetInfo(
        name=name, task=file_scan.task,
        description=f"Your own {spec.form} files: {spec.pattern}.",
        features=FEATURES[file_scan.task], num_classes=len(file_scan.class_names),
        splits=counts, license="yours", source=spec.pattern, fetch="",
        class_names=file_scan.class_names,
        scaled=file_scan.task == "forecasting" and values["normalize"],
        skipped=dict(file_scan.skipped))


def normalization(name, data_dir=None, **options):
    """`(mean, std)` per window column of a series' training range (what `load` scales by)."""
    from seqmodels.data.user import series

    spec, _, file_scan = _prepare(name, data_dir, options)
    return series.statistics(spec, file_scan)
