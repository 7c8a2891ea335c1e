"""tf.data readers of a scanned dataset of files: streamed, split, cleaned and sharded.

`column_batches(spec, file_scan, split)` yields dicts of column tensors, one batch of up to
`BATCH` records at a time, file after file (sorted, so every run sees the same order), never
loading a file whole: CSV files whose every record is one line cut into lines in the graph and
parsed by `tf.io.decode_csv` (`_csv_line_reader`), other CSV files by
`tf.data.experimental.CsvDataset`, JSON Lines and text lines by `tf.data.TextLineDataset`,
TFRecords by `tf.data.TFRecordDataset`. It keeps the records of `split` (the `{split}` files,
or the same hash of each record the validation pass used) and drops those the pass skipped.
Every step works on whole batches: a step a record costs far more than its parsing (about 25
times as much for a CSV of short reviews). Given a `tf.distribute.InputContext`, the files are
split across the input pipelines when there are at least as many files as pipelines, else the
records are.
"""

import json
import os

import numpy as np
import tensorflow as tf

from seqmodels.data.user.scan import BUCKETS
from seqmodels.data.user.spec import SPLITS

BATCH = 4096  # records read, filtered and parsed together
CHUNK = 1 << 19  # bytes of a CSV file split into lines at a time (`_csv_line_reader`)
INDEX_BITS = 40  # a record's key in the skip table: file id << 40 | index in the file
FILE = "__file__"  # the key of the data file's path beside the columns
# The functions mapped over the records: plain TensorFlow, no Python control flow on tensors,
# so AutoGraph's conversion (parsing and rewriting each function's source) is skipped.
PLAIN = tf.autograph.experimental.do_not_convert


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
        return fields.batch(BATCH).map(PLAIN(lambda *rows: (
            tf.strings.join(list(rows), separator="\x1f"), dict(zip(header, rows)))))
    return read


def _csv_line_reader(paths, file_scan, header, delimiter):
    """`read(file_id)` of CSV files whose every record is one line (`FileScan.line_files`).

    A file is read in `CHUNK`-byte pieces (`tf.data.FixedLengthRecordDataset`), cut into
    lines in the graph, and each batch of lines parsed by `tf.io.decode_csv`: a third of the
    work of `tf.data.experimental.CsvDataset`, which makes a tensor of every field. The header
    and the lines of a wrong field count are dropped by their line numbers, so the records
    are those `CsvDataset` yields, in the same order.
    """
    sizes = [os.path.getsize(path) for path in paths]
    open_ended = []  # files whose last line has no "\n": it is added
    for path, size in zip(paths, sizes):
        with open(path, "rb") as f:
            f.seek(size - 1)
            open_ended.append(int(f.read(1) != b"\n"))
    dropped = [(file_id << INDEX_BITS) | line for file_id, path in enumerate(paths)
               for line in (1,) + tuple(file_scan.line_files[path][1])]
    table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        tf.constant(dropped, tf.int64), tf.ones(len(dropped), tf.int64)), 0)
    crlf = any(file_scan.line_files[path][0] for path in paths)
    names = tf.constant(np.array(paths, dtype=object).astype(bytes))
    sizes, open_ended = tf.constant(sizes, tf.int64), tf.constant(open_ended, tf.int64)

    @PLAIN
    def stitch(rest, chunk):  # rest: the start of a line the last piece cut
        lines = tf.strings.split(rest + chunk, "\n")
        return lines[-1], lines[:-1]

    @PLAIN
    def number(seen, lines):
        size = tf.shape(lines, out_type=tf.int64)[0]
        return seen + size, (seen + 1 + tf.range(size), lines)

    def read(file_id):
        path, size = tf.gather(names, file_id), tf.gather(sizes, file_id)
        tail = size % CHUNK
        last = tf.maximum(tail, 1)
        pieces = tf.data.FixedLengthRecordDataset(path, CHUNK, footer_bytes=tail).concatenate(
            tf.data.FixedLengthRecordDataset(path, last, header_bytes=size - last).take(
                tf.minimum(tail, 1))).concatenate(
            tf.data.Dataset.from_tensors(tf.constant("\n")).take(tf.gather(open_ended, file_id)))

        @PLAIN
        def rows(numbers, lines):
            keep = tf.equal(table.lookup(tf.bitwise.left_shift(file_id, INDEX_BITS) | numbers), 0)
            lines = tf.boolean_mask(lines, keep)
            if crlf:
                lines = tf.strings.regex_replace(lines, "\r$", "")
            fields = tf.io.decode_csv(lines, [tf.constant("", tf.string)] * len(header),
                                      field_delim=delimiter)
            return tf.strings.join(fields, separator="\x1f"), dict(zip(header, fields))
        return pieces.scan(tf.constant(""), stitch).scan(tf.constant(0, tf.int64), number).map(
            rows, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return read


def _lines_reader(column):
    """Batches of the non-blank lines of a file, as `column` (the line is also the key)."""
    def read(path):
        @PLAIN
        def nonblank(lines):
            lines = tf.boolean_mask(lines, tf.strings.length(tf.strings.strip(lines)) > 0)
            return lines, {column: lines}
        return tf.data.TextLineDataset(path).batch(BATCH).map(nonblank)
    return read


def _tfrecord_reader(path):
    return tf.data.TFRecordDataset(path).batch(BATCH).map(
        PLAIN(lambda records: (records, {"record": records})))


def _tfrecord_columns(kinds):
    """`parse(fields)`: the serialized `tf.train.Example`s of `fields["record"]` -> columns.

    Applied after the skipped records are dropped: a record the validation pass left out for
    a missing feature is never parsed.
    """
    features = {column: tf.io.FixedLenFeature([], tf.int64 if kind == "int" else tf.string)
                for column, kind in kinds.items()}
    return PLAIN(lambda fields: tf.io.parse_example(fields["record"], features))


def _jsonl_columns(columns):
    """`parse(fields)`: the JSON lines of `fields["line"]` -> their `columns` as strings.

    Applied after the skipped records are dropped: only lines the validation pass accepted
    are parsed (in Python, a batch at a time).
    """
    def pick(lines):
        values = [json.loads(line) for line in lines.numpy()]
        return [[v.encode("utf-8") if isinstance(v, str) else str(v).encode()
                 for v in (value[column] for value in values)] for column in columns]

    @PLAIN
    def parse(fields):
        values = tf.py_function(pick, [fields["line"]], [tf.string] * len(columns))
        return {column: tf.ensure_shape(v, [None]) for column, v in zip(columns, values)}
    return parse


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


def _in_split(keys, split, fractions):
    buckets = tf.strings.to_hash_bucket_fast(keys, BUCKETS)
    train = int(round(fractions[0] * BUCKETS))
    bounds = (0, train, train + int(round(fractions[1] * BUCKETS)), BUCKETS)
    index = SPLITS.index(split)
    return tf.logical_and(buckets >= bounds[index], buckets < bounds[index + 1])


def _folder_reader(file_scan, folder):
    from seqmodels.data.user import records

    listed = records.folder_files(folder)
    paths = [os.path.join(folder, path) for path, _ in listed]
    keys = [path.encode() for path, _ in listed]
    labels = [label for _, label in listed]
    return tf.data.Dataset.from_tensor_slices((keys, paths, labels)).batch(BATCH).map(
        PLAIN(lambda keys, paths, labels: (keys, {"path": paths, "label": labels})))


@PLAIN
def _read_texts(fields):
    """A text folder's files, read once their records are kept."""
    texts = tf.map_fn(tf.io.read_file, fields["path"], fn_output_signature=tf.string)
    return {**fields, "text": texts}


def _numbered(batches):
    """`(index, (key, fields))` of each batch: `index` the reader's count of each record."""
    @PLAIN
    def number(start, item):
        size = tf.shape(item[0], out_type=tf.int64)[0]
        return start + size, (start + tf.range(size), item)
    return batches.scan(tf.constant(0, tf.int64), number)


def _every_nth(pipelines, pipeline):
    """`take(seen, batch)`: keeps the records `Dataset.shard(pipelines, pipeline)` would."""
    @PLAIN
    def take(seen, batch):
        size = tf.shape(batch[FILE], out_type=tf.int64)[0]
        mine = tf.equal((seen + tf.range(size)) % pipelines, pipeline)
        return seen + size, {name: tf.boolean_mask(t, mine) for name, t in batch.items()}
    return take


def _reader(spec, file_scan, paths, names):
    """`(read(file_id) -> batches of (keys, fields), parse(kept fields) -> columns)`.

    `read` is None for a folder (`_folder_reader`); `parse` is applied to the kept records only.
    """
    columns = needed_columns(file_scan.task, file_scan.options)
    by_path = lambda reader: lambda file_id: reader(tf.gather(names, file_id))  # noqa: E731
    if spec.form == "dir":
        return None, _read_texts if file_scan.task == "text_classification" else _same
    if spec.form in ("csv", "tsv"):
        header, delimiter = file_scan.headers[paths[0]], "," if spec.form == "csv" else "\t"
        if all(path in file_scan.line_files for path in paths):
            return _csv_line_reader(paths, file_scan, header, delimiter), _same
        return by_path(_csv_reader(header, delimiter)), _same
    if spec.form == "jsonl":
        return by_path(_lines_reader("line")), _jsonl_columns(columns)
    if spec.form == "lines":
        return by_path(_lines_reader(columns[0])), _same
    return by_path(_tfrecord_reader), _tfrecord_columns(feature_kinds(columns, paths[0]))


@PLAIN
def _same(fields):
    return fields


def column_batches(spec, file_scan, split, input_context=None):
    """The records of `split` as dicts of 1-D tensors, a batch of records a dict.

    Args:
        spec: the `FileSpec`.
        file_scan: its `FileScan` (`seqmodels.data.user.scan.scan`).
        split: `"train"`, `"validation"` or `"test"`.
        input_context: a `tf.distribute.InputContext`; this pipeline then reads its share.

    Returns:
        A `tf.data.Dataset` of dicts (column -> the batch's values; `FILE` holds each
        record's file), up to `BATCH` records each, in file order (some may be empty).
    """
    options = file_scan.options
    paths = file_scan.files[split]
    pipelines = input_context.num_input_pipelines if input_context else 1
    pipeline = input_context.input_pipeline_id if input_context else 0
    by_file = pipelines > 1 and spec.form != "dir" and len(paths) >= pipelines
    names = tf.constant(np.array(paths, dtype=object).astype(bytes))
    read, parse = _reader(spec, file_scan, paths, names)
    ids = tf.data.Dataset.range(len(paths))
    if by_file:
        ids = ids.shard(pipelines, pipeline)
    if read is None:  # one folder, listed in Python
        dataset = _numbered(_folder_reader(file_scan, paths[0])).map(
            PLAIN(lambda index, item: (tf.constant(0, tf.int64), index, item)))
    else:
        dataset = ids.flat_map(PLAIN(lambda file_id: _numbered(read(file_id)).map(
            PLAIN(lambda index, item: (file_id, index, item)))))
    table = _skip_table(file_scan, paths)
    fractions = None if file_scan.has_split_files else options["split_fractions"]

    @PLAIN
    def kept(file_id, index, item):
        keys, fields = item
        keep = tf.ones_like(index, tf.bool)
        if table is not None:
            keep &= tf.equal(table.lookup(tf.bitwise.left_shift(file_id, INDEX_BITS) | index), 0)
        if fractions is not None:
            keep &= _in_split(keys, split, fractions)
        fields = parse({name: tf.boolean_mask(t, keep) for name, t in fields.items()})
        file = tf.fill(tf.shape(tf.boolean_mask(index, keep)), tf.gather(names, file_id))
        return {**fields, FILE: file}

    dataset = dataset.map(kept, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if pipelines > 1 and not by_file:
        dataset = dataset.scan(tf.constant(0, tf.int64), _every_nth(pipelines, pipeline))
    return dataset

