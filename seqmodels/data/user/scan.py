"""The validation pass: one streaming pass over a dataset's files before anything trains.

`scan(spec, options)` reads every record once (`seqmodels.data.user.records`), checks it for
its task (`seqmodels.data.user.checks`; CSV files of text a batch of rows at a time, see
`seqmodels.data.user.text_batches`), assigns it a split (the `{split}` files, or a hash of
the record), and learns what training needs from the training split only: the class names, an
image shape, the series. A bad record fails the pass with the file, the line or record and the
column (`BadDataError`), or, with `on_bad_record="skip"`, is counted per file and left out of
every reader. Scans are cached per dataset, options and file modification times.
"""

import dataclasses
import os
import re

import numpy as np

from seqmodels.data.dataset_info import BadDataError
from seqmodels.data.user import records as raw
from seqmodels.data.user import text_batches as batched
from seqmodels.data.user.checks import RecordProblem, check_record
from seqmodels.data.user.spec import SPLITS

BUCKETS = 10000
CHUNK = 4096
SKIP_HINT = ("Fix the data, or skip such records with --data_option=on_bad_record=skip "
             "(on_bad_record=\"skip\" in Python).")
_CACHE = {}
INTEGER = re.compile(r"^\d+$")


@dataclasses.dataclass
class FileScan:
    """What the validation pass learned about one dataset of files.

    Attributes:
        task: the task the examples are for.
        options: the effective options (for `dir:`, the implied column names).
        files: split -> the files (for `dir:`, the folder) its records come from.
        has_split_files: each split has its own files (else a hash of each record decides).
        counts: split -> the records it keeps.
        bad: file -> the reader indices of the records left out (skipped).
        skipped: file -> how many of its records were skipped.
        headers: file -> its CSV columns.
        line_files: CSV file -> `(crlf, unread)` when every record of it is one line that
            TensorFlow's CSV parser reads as Python's does (`text_batches.one_record_lines`):
            the readers may then split it into lines themselves; `crlf` says whether lines
            end with "\r\n", `unread` holds the numbers of the lines with a wrong field count
            (dropped by every reader).
        class_names: the class names in label order (classification).
        integer_labels: the labels are the class ids themselves.
        image_shape: (height, width, channels) every image is decoded to.
        series: split (or "all") -> (times, values (time, columns) float64) for forecasting.
    """

    task: str
    options: dict
    files: dict
    has_split_files: bool
    counts: dict = dataclasses.field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    bad: dict = dataclasses.field(default_factory=dict)
    skipped: dict = dataclasses.field(default_factory=dict)
    headers: dict = dataclasses.field(default_factory=dict)
    line_files: dict = dataclasses.field(default_factory=dict)
    class_names: tuple = ()
    integer_labels: bool = False
    image_shape: tuple = ()
    series: dict = dataclasses.field(default_factory=dict)


def split_of_buckets(buckets, fractions):
    """The split of each hash bucket in [0, BUCKETS): train below fractions[0], and so on."""
    train = int(round(fractions[0] * BUCKETS))
    validation = train + int(round(fractions[1] * BUCKETS))
    return np.where(buckets < train, 0, np.where(buckets < validation, 1, 2))


def hash_buckets(keys):
    """`tf.strings.to_hash_bucket_fast(keys, BUCKETS)`: the readers' split hash, in numpy."""
    import tensorflow as tf

    return tf.strings.to_hash_bucket_fast(tf.constant(keys, tf.string), BUCKETS).numpy()


def _dir_options(options, folder):
    """The column names a class-per-subfolder dataset implies, and its task from its files."""
    task = options["task"]
    if not task:
        first = raw.folder_files(folder)[0][0].lower()
        task = "image_classification" if first.endswith(raw.IMAGE_EXTENSIONS) \
            else "text_classification"
    return task, {**options, "task": task, "text_column": "text", "image_column": "path",
                  "label_column": "label"}


class _Pass:
    """The state of one validation pass (see `scan`)."""

    def __init__(self, spec, task, options, files):
        self.spec, self.task, self.options = spec, task, options
        self.result = FileScan(task, options, files, spec.has_split_files)
        self.train_labels, self.suspects, self.pending, self.order = set(), [], [], 0
        self.misread = {}  # path -> the first skipped record that TensorFlow misreads

    def bad(self, path, record, problem):
        column = f", column {problem.column!r}" if problem.column else ""
        if self.options["on_bad_record"] != "skip":
            raise BadDataError(f"{path}, {record.where}{column}: {problem.message}. {SKIP_HINT}")
        if record.index is not None:
            self.result.bad.setdefault(path, set()).add(record.index)
        if record.misread:
            self.misread.setdefault(path, f"{path}, {record.where}{column}: {problem.message}")
        self.result.skipped[path] = self.result.skipped.get(path, 0) + 1

    def check_misread_skipped(self, path):
        """A record TensorFlow misreads can be skipped only in a file read line by line: in
        one read by `tf.data.experimental.CsvDataset` it can lose the records after it."""
        if path in self.misread and path not in self.result.line_files:
            why = "its records over several lines" if self.task in batched.TEXT_TASKS else \
                "this task"
            raise BadDataError(
                f"{self.misread[path]}. on_bad_record=skip cannot skip it in this file: "
                f"TensorFlow's CSV reader, which reads it (for {why}), can lose the records "
                "after such a one. Fix the data.")

    def read(self, path, split):
        form = self.spec.form
        if form in ("csv", "tsv"):
            header = raw.header_of(path, "," if form == "csv" else "\t")
            self.check_header(path, header)
            if self.task in batched.TEXT_TASKS:
                return self.read_rows(path, split, header)
        folder_file = os.path.join(path, "_") if form == "dir" else path
        found = self.check(path, split, raw.records(form, path, self.options.get(
            "text_column", "text")), folder_file)
        self.flush(split)
        self.check_found(path, found)
        self.check_misread_skipped(path)

    def check(self, path, split, records, file):
        """Checks `records` one by one (their splits are learned at each `flush`)."""
        found = 0
        for record in records:
            found += 1
            if self.spec.form == "dir" and self.task == "text_classification":
                with open(os.path.join(path, record.fields["path"]), "rb") as f:
                    record.fields["text"] = f.read()
            try:
                values = check_record(self.task, record, self.options, file)
            except RecordProblem as problem:
                self.bad(path, record, problem)
                continue
            self.pending.append((path, record, values))
            if len(self.pending) >= CHUNK:
                self.flush(split)
        return found

    def check_found(self, path, found):
        if not found:
            raise BadDataError(f"{path}: the file is empty (no records"
                               f"{' after the header' if self.spec.form in ('csv', 'tsv') else ''}"
                               ").")

    def read_rows(self, path, split, header):
        """A CSV (TSV) file of text, a batch of rows at a time (`text_batches`)."""
        delimiter = "," if self.spec.form == "csv" else "\t"
        column = self.options.get("label_column") if self.task == "text_classification" \
            else None
        # dict(zip(header, row)) keeps a repeated column's last field: so does the fast path.
        label = None if column is None else len(header) - 1 - header[::-1].index(column)
        found = index = 0
        by_line, crlf, unread = True, False, []
        with batched.ReplayLines(path) as replay, batched.paused_collection():
            for batch in batched.row_batches(path, delimiter):
                found += len(batch.rows)
                by_line, crlf = by_line and batch.by_line, crlf or batch.crlf
                lines, misread = None, batch.misread
                if not batch.by_line:
                    lines = replay.lines(batch.start, batch.stop)
                    misread = misread or not batched.read_alike("".join(lines), delimiter)
                facts = None if misread else batched.batch_facts(
                    batch.rows, len(header), label, lambda keys: self.splits_of(keys, split),
                    self.train_labels)
                if facts is not None:
                    for name, count in zip(SPLITS, facts.counts.tolist()):
                        self.result.counts[name] += count
                    self.train_labels |= facts.train_labels
                    index += len(batch.rows)
                    continue
                # Checked again record by record, for the exact errors and skips.
                if lines is None:
                    lines = replay.lines(batch.start, batch.stop)
                records = list(raw.csv_rows(lines, header, delimiter, offset=batch.start,
                                            index=index))
                index += sum(record.index is not None for record in records)
                unread += [record.line for record in records if record.index is None]
                self.check(path, split, records, path)
                self.flush(split)
        if by_line:
            self.result.line_files[path] = (crlf, tuple(unread))
        self.check_found(path, found)
        self.check_misread_skipped(path)

    def splits_of(self, keys, split):
        """The split index of each record key: `split`'s, or by the hash split."""
        if split is not None:
            return np.full(len(keys), SPLITS.index(split))
        return split_of_buckets(hash_buckets(keys), self.options["split_fractions"])

    def check_header(self, path, header):
        self.result.headers[path] = header
        needed = [(name, self.options[name]) for name in sorted(self.options)
                  if name.endswith("_column") and self.options[name]]
        needed += [(name, column) for name in ("target_columns", "feature_columns")
                   for column in self.options.get(name, ())]
        for option, column in needed:
            if column not in header:
                raise BadDataError(f"{path}: no column {column!r} ({option}). Columns found: "
                                   f"{', '.join(header)}.")
        first = next(iter(self.result.headers.values()))
        if header != first:
            raise BadDataError(f"{path}: its columns ({', '.join(header)}) differ from those of "
                               f"{next(iter(self.result.headers))} ({', '.join(first)}); every "
                               "file of a dataset needs the same header.")

    def flush(self, split):
        if not self.pending:
            return
        if split is None and self.task == "forecasting":  # split chronologically later
            splits = [0] * len(self.pending)
        else:
            splits = self.splits_of([record.key for _, record, _ in self.pending], split)
        for (path, record, values), index in zip(self.pending, splits):
            name = SPLITS[index]
            try:
                self.learn(name, path, record, values)
            except RecordProblem as problem:
                self.bad(path, record, problem)
                continue
            self.result.counts[name] += 1
        self.pending = []

    def learn(self, name, path, record, values):
        result = self.result
        if "shape" in values:
            shape = values["shape"]
            if not result.image_shape:
                result.image_shape = shape
            elif not self.options.get("image_size") and shape[:2] != result.image_shape[:2]:
                raise RecordProblem(self.options["image_column"], (
                    f"image of shape {shape} where the first one is {result.image_shape}; pass "
                    f"image_size={result.image_shape[0]},{result.image_shape[1]} to resize "
                    "every image"))
        if "label" in values:
            label = str(values["label"])
            if name == "train":
                self.train_labels.add(label)
            elif label not in self.train_labels:
                self.suspects.append((name, path, record, label))
        if "numbers" in values:
            key = name if self.result.has_split_files else "all"
            times, numbers = result.series.setdefault(key, ([], []))
            times.append(values.get("time", len(times)))
            numbers.append(values["numbers"])

    def finish(self):
        result = self.result
        labels = self.train_labels
        if self.task in ("text_classification", "image_classification"):
            if not labels:
                raise BadDataError(f"Dataset {self.spec.name!r}: the training split has no "
                                   "records.")
            result.integer_labels = all(INTEGER.match(label) for label in labels)
            if result.integer_labels:
                result.class_names = tuple(str(i) for i in range(max(map(int, labels)) + 1))
            else:
                result.class_names = tuple(sorted(labels))
            known = set(result.class_names)
            column = self.options["label_column"]
            for name, path, record, label in self.suspects:
                if label not in known:
                    self.bad(path, record, RecordProblem(column, (
                        f"label {label!r} (in the {name} split) is not among the training "
                        f"split's labels ({', '.join(result.class_names)})")))
                    result.counts[name] -= 1
        for path, count in sorted(result.skipped.items()):
            print(f"Skipped {count} bad record{'s' if count > 1 else ''} of {path} "
                  "(on_bad_record=skip).")
        return result


def _signature(spec, files):
    stats = []
    for paths in files.values():
        for path in paths:
            stats.append((path, os.path.getmtime(path)))
    return tuple(stats)


def scan(spec, options):
    """The `FileScan` of `spec` under the checked `options` (`FileOptions.values`), cached.

    Raises:
        BadDataError: a bad record (naming the file, the line or record, and the column), an
            empty file, a missing column (listing the columns found).
        DataNotFoundError: a missing split file, or a glob that matches nothing.
    """
    if spec.has_split_files:
        files = {split: spec.files(split) for split in SPLITS}
    else:
        shared = spec.files("train")
        files = dict.fromkeys(SPLITS, shared)
    task = options["task"]
    if spec.form == "dir":
        task, options = _dir_options(options, files["train"][0])
    elif spec.form == "lines":
        options = {**options, "text_column": "text"}
    key = (spec.name, spec.pattern, tuple(sorted((k, str(v)) for k, v in options.items())),
           _signature(spec, files))
    if key not in _CACHE:
        state = _Pass(spec, task, options, files)
        groups = [(split, files[split]) for split in SPLITS] if spec.has_split_files \
            else [(None, files["train"])]
        for split, paths in groups:
            for path in paths:
                state.read(path, split)
        if len(_CACHE) > 8:
            _CACHE.clear()
        _CACHE[key] = state.finish()
    return _CACHE[key]
