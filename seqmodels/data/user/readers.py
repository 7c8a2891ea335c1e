"""tf.data readers of a scanned dataset of files: streamed, split, cleaned and sharded.

`columns_dataset(spec, file_scan, split)` yields one dict of column tensors a record, read
with `tf.data.experimental.CsvDataset`, `tf.data.TextLineDataset` or `tf.data.TFRecordDataset`
file after file (sorted, so every run sees the same order), never loading a file whole. It keeps
the records of `split` (the `{split}` files, or the same hash of each record the validation pass
used) and drops those the pass skipped. Given a `tf.distribute.InputContext`, the files are
split across the input pipelines when there are at least as many files as pipelines, else the
records are.
"""

import json
import os

import numpy as np
import tensorflow as tf

from seqmodels.data.user.scan import BUCKETS
from seqmodels.data.user.spec import SPLITS

INDEX_BITS = 40  # a record's key in the skip table: file id << 40 | index in the file
FILE = "__file__"  # the key of the data file's path beside the columns


def needed_columns(task, options):
    """The columns the task reads, in a fixed order."""
    names = {"text_classification": ("text_column", "label_column"),
             "image_classification": ("image_column", "label_column"),
             "translation": ("source_column", "target_column"),
             "captioning": ("image_column", "caption_column"),
             "language_modeling": ("text_column",)}[task]
    return [options[name] for name in names]


def _csv_reader(header, delimiter):
    def read(path):
        fields = tf.data.experimental.CsvDataset(
            path, [tf.constant("", tf.string)] * len(header), header=True,
            field_delim=delimiter).ignore_errors()  # wrong field counts: the pass counted them
        return fields.map(lambda *row: (tf.strings.join(list(row), separator="\x1f"),
                                        dict(zip(header, row))))
    return read


def _nonblank(path):
    lines = tf.data.TextLineDataset(path)
    return lines.filter(lambda line: tf.strings.length(tf.strings.strip(line)) > 0)


def _jsonl_columns(columns):
    """`parse(fields)`: the JSON line of `fields["line"]` -> its `columns` as strings.

    Applied after the skipped records are dropped: only lines the validation pass accepted
    are parsed.
    """
    def pick(line):
        value = json.loads(line.numpy())
        return [v.encode("utf-8") if isinstance(v, str) else str(v).encode()
                for v in (value[column] for column in columns)]

    def parse(fields):
        values = tf.py_function(pick, [fields["line"]], [tf.string] * len(columns))
        return {column: tf.ensure_shape(v, []) for column, v in zip(columns, values)}
    return parse


def _lines_reader(column):
    return lambda path: _nonblank(path).map(lambda line: (line, {column: line}))


def _tfrecord_reader(kinds):
    features = {column: tf.io.FixedLenFeature([], tf.int64 if kind == "int" else tf.string)
                for column, kind in kinds.items()}
    return lambda path: tf.data.TFRecordDataset(path).map(
        lambda record: (record, tf.io.parse_single_example(record, features)))


def feature_kinds(columns, path):
    """Column -> "int" or "bytes" of a TFRecord dataset, from its first record."""
    from seqmodels.data.user import records

    first = next(r for r in records.tfrecord_records(path) if r.fields)
    return {column: "int" if first.fields[column] and isinstance(first.fields[column][0], int)
            else "bytes" for column in columns}


def _skip_table(file_scan, paths):
    keys = [(file_id << INDEX_BITS) | index for file_id, path in enumerate(paths)
            for index in sorted(file_scan.bad.get(path, ()))]
    if not keys:
        return None
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(keys, tf.int64),
                                            tf.ones(len(keys), tf.int64)), 0)


def _in_split(key, split, fractions):
    bucket = tf.strings.to_hash_bucket_fast(key, BUCKETS)
    train = int(round(fractions[0] * BUCKETS))
    bounds = (0, train, train + int(round(fractions[1] * BUCKETS)), BUCKETS)
    index = SPLITS.index(split)
    return tf.logical_and(bucket >= bounds[index], bucket < bounds[index + 1])


def _folder_dataset(file_scan, folder):
    from seqmodels.data.user import records

    listed = records.folder_files(folder)
    paths = [os.path.join(folder, path) for path, _ in listed]
    keys = [path.encode() for path, _ in listed]
    labels = [label for _, label in listed]
    dataset = tf.data.Dataset.from_tensor_slices((keys, paths, labels))
    if file_scan.task == "text_classification":
        return dataset.map(lambda key, path, label: (key, {"text": tf.io.read_file(path),
                                                           "label": label, "path": path}))
    return dataset.map(lambda key, path, label: (key, {"path": path, "label": label}))


def columns_dataset(spec, file_scan, split, input_context=None):
    """The records of `split` as dicts of scalar tensors (`FILE` holds each record's file).

    Args:
        spec: the `FileSpec`.
        file_scan: its `FileScan` (`seqmodels.data.user.scan.scan`).
        split: `"train"`, `"validation"` or `"test"`.
        input_context: a `tf.distribute.InputContext`; this pipeline then reads its share.

    Returns:
        An unbatched `tf.data.Dataset` of dicts.
    """
    options, task = file_scan.options, file_scan.task
    paths = file_scan.files[split]
    pipelines = input_context.num_input_pipelines if input_context else 1
    pipeline = input_context.input_pipeline_id if input_context else 0
    by_file = pipelines > 1 and spec.form != "dir" and len(paths) >= pipelines
    if spec.form == "dir":
        dataset = _folder_dataset(file_scan, paths[0]).enumerate().map(
            lambda index, item: (tf.constant(0, tf.int64), index, item))
    else:
        columns = needed_columns(task, options)
        if spec.form in ("csv", "tsv"):
            read = _csv_reader(file_scan.headers[paths[0]], "," if spec.form == "csv" else "\t")
        elif spec.form == "jsonl":
            read = _lines_reader("line")
        elif spec.form == "lines":
            read = _lines_reader(columns[0])
        else:
            read = _tfrecord_reader(feature_kinds(columns, paths[0]))
        names = tf.constant(paths)
        ids = tf.data.Dataset.range(len(paths))
        if by_file:
            ids = ids.shard(pipelines, pipeline)
        dataset = ids.flat_map(lambda file_id: read(tf.gather(names, file_id)).enumerate().map(
            lambda index, item: (file_id, index, item)))
    table = _skip_table(file_scan, paths)
    if table is not None:
        dataset = dataset.filter(lambda file_id, index, item: tf.equal(
            table.lookup(tf.bitwise.left_shift(file_id, INDEX_BITS) | index), 0))
    if not file_scan.has_split_files:
        fractions = options["split_fractions"]
        dataset = dataset.filter(lambda file_id, index, item: _in_split(item[0], split,
                                                                        fractions))
    if pipelines > 1 and not by_file:
        dataset = dataset.shard(pipelines, pipeline)
    parse = _jsonl_columns(needed_columns(task, options)) if spec.form == "jsonl" \
        else (lambda fields: fields)
    names = tf.constant(np.array(paths, dtype=object).astype(bytes))
    return dataset.map(lambda file_id, index, item: {**parse(item[1]),
                                                     FILE: tf.gather(names, file_id)})
