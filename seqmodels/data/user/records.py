"""Reading the raw records of one file in Python, streamed: what the validation pass checks.

Each form yields `RawRecord`s in the order the tf.data readers (`seqmodels.data.user.readers`)
yield them, with the same `index` (the reader's count), so that a record the validation pass
skips is the record the training reader drops. A record the tf.data reader itself cannot parse
(a CSV row with the wrong field count) gets `index=None`: `ignore_errors` drops it there.
"""

import csv
import dataclasses
import json
import os
import typing

from seqmodels.data.dataset_info import BadDataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
TEXT_EXTENSIONS = (".txt",)


@dataclasses.dataclass
class RawRecord:
    """One record as read from its file.

    Attributes:
        index: its position among the records the tf.data reader yields (None: the reader
            drops it as unparsable).
        where: "line 12" or "record 3", for messages.
        fields: column -> value (str for CSV, JSON values, lists for tf.train.Example).
        key: the bytes the hash split hashes (the record's content).
        problem: why the record cannot be read (wrong field count, bad JSON), or "".
        line: the number of its first line (CSV), else None.
    """

    index: typing.Optional[int]
    where: str
    fields: dict
    key: bytes
    problem: str = ""
    line: typing.Optional[int] = None


def _decoded_lines(path):
    """The file's lines as str, undecodable bytes kept as surrogates (found per field later)."""
    with open(path, "rb") as f:
        for line in f:
            yield line.decode("utf-8", errors="surrogateescape")


def encode(text):
    """The original bytes of a field read with `surrogateescape`."""
    return text.encode("utf-8", errors="surrogateescape")


def utf8_problem(value):
    """"" when `value` (str with surrogates, or bytes) is UTF-8 text, else what is wrong."""
    raw = encode(value) if isinstance(value, str) else value
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"not UTF-8 text (byte 0x{raw[e.start]:02x} at position {e.start})"
    return ""


def csv_records(path, delimiter=","):
    """The header and the records of a CSV (TSV) file."""
    lines = _decoded_lines(path)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise BadDataError(f"{path}: the file is empty (expected a header line naming the "
                           "columns, then one record a line).") from None
    yield from csv_rows(reader, [name.strip() for name in header])


def csv_rows(reader, header, offset=0, index=0):
    """The records of the rows a `csv.reader` yields, numbered from a record boundary.

    Args:
        reader: a `csv.reader` whose next row starts a record.
        header: the file's column names.
        offset: the lines of the file before the first line `reader` reads.
        index: the reader index (`RawRecord.index`) of the first record.
    """
    line = offset + reader.line_num + 1
    for row in reader:
        first, line = line, offset + reader.line_num + 1
        if len(row) != len(header):
            yield RawRecord(None, f"line {first}", {}, b"", f"expected {len(header)} fields (the "
                            f"header's {', '.join(header)}), found {len(row)}", first)
            continue
        yield RawRecord(index, f"line {first}", dict(zip(header, row)),
                        encode("\x1f".join(row)), line=first)
        index += 1


def header_of(path, delimiter=","):
    """The column names of a CSV (TSV) file's header."""
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        row = next(csv.reader(f, delimiter=delimiter), None)
    if row is None:
        raise BadDataError(f"{path}: the file is empty (expected a header line naming the "
                           "columns, then one record a line).")
    return [name.strip() for name in row]


def _nonblank_lines(path):
    """`(line number, bytes without the line end)` of the lines that hold more than spaces."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield number, line


def jsonl_records(path):
    """The records of a JSON Lines file: one JSON object a line (blank lines skipped)."""
    for index, (number, line) in enumerate(_nonblank_lines(path)):
        where = f"line {number}"
        try:
            value = json.loads(line)
        except UnicodeDecodeError as e:
            yield RawRecord(index, where, {}, line, f"not UTF-8 text ({e.reason} at position "
                                                   f"{e.start})")
            continue
        except ValueError as e:
            yield RawRecord(index, where, {}, line, f"not a JSON object ({e})")
            continue
        if not isinstance(value, dict):
            yield RawRecord(index, where, {}, line, "not a JSON object (one object a line, "
                                                    "its keys the columns)")
            continue
        yield RawRecord(index, where, value, line)


def line_records(path, column):
    """The records of a plain text file: one text a line (blank lines skipped)."""
    for index, (number, line) in enumerate(_nonblank_lines(path)):
        yield RawRecord(index, f"line {number}", {column: line}, line)


def tfrecord_records(path):
    """The records of a TFRecord file of `tf.train.Example`s, features as Python lists."""
    import tensorflow as tf

    reader = tf.data.TFRecordDataset(path).as_numpy_iterator()
    index = 0
    while True:
        try:
            serialized = next(reader)
        except StopIteration:
            return
        except tf.errors.DataLossError as e:
            raise BadDataError(f"{path}, record {index}: the file is corrupt ({e.message})."
                               ) from None
        example = tf.train.Example()
        try:
            example.ParseFromString(serialized)
        except Exception:  # noqa: BLE001  (protobuf's DecodeError)
            yield RawRecord(index, f"record {index}", {}, serialized,
                            "not a tf.train.Example")
            index += 1
            continue
        fields = {}
        for name, feature in example.features.feature.items():
            kind = feature.WhichOneof("kind")
            fields[name] = list(getattr(feature, kind).value) if kind else []
        yield RawRecord(index, f"record {index}", fields, serialized)
        index += 1


def folder_files(folder):
    """`[(relative path, class name)]` of a folder with one subfolder per class, sorted.

    Raises:
        BadDataError: a folder without class subfolders or without files.
    """
    classes = sorted(name for name in os.listdir(folder)
                     if os.path.isdir(os.path.join(folder, name)) and not name.startswith("."))
    if not classes:
        raise BadDataError(f"{folder}: no class subfolders (expected one subfolder per class, "
                           "holding its text or image files).")
    files = []
    for name in classes:
        for root, _, filenames in sorted(os.walk(os.path.join(folder, name))):
            for filename in sorted(filenames):
                if not filename.startswith("."):
                    path = os.path.relpath(os.path.join(root, filename), folder)
                    files.append((path.replace(os.sep, "/"), name))
    if not files:
        raise BadDataError(f"{folder}: the class subfolders {', '.join(classes)} hold no files.")
    return files


def folder_records(folder):
    """The records of a class-per-subfolder folder: `path` (relative) and `label` (the class)."""
    for index, (path, name) in enumerate(folder_files(folder)):
        yield RawRecord(index, f"file {path}", {"path": path, "label": name}, encode(path))


def records(form, path, text_column="text"):
    """The `RawRecord`s of one file (or, for `dir:`, one folder) of `form`."""
    if form in ("csv", "tsv"):
        return csv_records(path, "," if form == "csv" else "\t")
    if form == "jsonl":
        return jsonl_records(path)
    if form == "lines":
        return line_records(path, text_column)
    if form == "tfrecord":
        return tfrecord_records(path)
    return folder_records(path)
