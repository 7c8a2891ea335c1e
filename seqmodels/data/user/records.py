"""Reading the raw records of one file in Python, streamed: what the validation pass checks.

Each form yields `RawRecord`s in the order the tf.data readers (`seqmodels.data.user.readers`)
yield them, with the same `index` (the reader's count), so that a record the validation pass
skips is the record the training reader drops. A record the tf.data reader itself cannot parse
(a CSV row with the wrong field count) gets `index=None`: `ignore_errors` drops it there. So
does a CSV record that Python's `csv` and TensorFlow's CSV parsers read differently (a quote
inside a field that is not quoted whole, as `a "b" c` or `"a"b`): it is a bad record, not text.
"""

import csv
import dataclasses
import functools
import json
import os
import re
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
        column: the column `problem` is about, or "".
        misread: a CSV record TensorFlow's parsers read otherwise than Python's `csv`
            (`misread_field`).
    """

    index: typing.Optional[int]
    where: str
    fields: dict
    key: bytes
    problem: str = ""
    line: typing.Optional[int] = None
    column: str = ""
    misread: bool = False


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
    tap = _Tap(lines)
    header = next(csv.reader(tap, delimiter=delimiter), None)
    if header is None:
        raise BadDataError(f"{path}: the file is empty (expected a header line naming the "
                           "columns, then one record a line).")
    yield from csv_rows(lines, [name.strip() for name in header], delimiter,
                        offset=len(tap.taken))


def misread_field(text, delimiter):
    """The position of the first field of a CSV record that TensorFlow's CSV parsers do not
    read as Python's `csv.reader` does, or None when they agree on every field.

    They agree on a field that is unquoted and holds no quote and no carriage return, and on
    one quoted whole with its quotes doubled (it may span lines). Python reads `a"b` as
    `a"b` and `"a"b` as `ab`; TensorFlow fails on both, and
    `tf.data.experimental.CsvDataset` may lose the records after them.

    Args:
        text: the record's lines, as read (str).
        delimiter: the field delimiter.

    Example:

    >>> [misread_field(text, ",") for text in ('a,"b, ""c"" d"\\r\\n', 'a,b"c\\n', '"a"b,c')]
    [None, 1, 0]
    """
    field = _field_pattern(delimiter)
    end = len(text) - text.endswith("\n")
    end -= text[:end].endswith("\r")
    position = column = 0
    while True:
        match = field.match(text, position, end)
        if match is None:
            return column
        position = match.end()
        if position == end:
            return None
        position, column = position + 1, column + 1


def field_regex(delimiter, newlines=True):
    """The regular expression (str) of a CSV field that TensorFlow's CSV parsers read as
    Python's `csv.reader` does: unquoted without quotes or carriage returns, or quoted whole
    with the quotes inside doubled (and over lines, when `newlines`)."""
    d = re.escape(delimiter)
    inside = '[^"]' if newlines else '[^"\r\n]'
    return rf'(?:"(?:{inside}|"")*+"|[^"{d}\r\n]*+)'  # quoted first: the other can be empty


@functools.lru_cache(maxsize=None)
def _field_pattern(delimiter):
    """A field `misread_field` accepts, up to the next delimiter or the end."""
    return re.compile(rf"{field_regex(delimiter)}(?={re.escape(delimiter)}|\Z)")


def parsed_rows(reader):
    """The rows of a `csv.reader`, None for one it cannot parse (a carriage return inside an
    unquoted field: `csv.Error`); it reads on from the next line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:
            row = None
        yield row


class _Tap:
    """The lines a `csv.reader` takes from `lines`, kept until `take()`: those of its last row."""

    def __init__(self, lines):
        self.lines, self.taken = iter(lines), []

    def __iter__(self):
        return self

    def __next__(self):
        line = next(self.lines)
        self.taken.append(line)
        return line

    def take(self):
        text, self.taken = "".join(self.taken), []
        return text


def csv_rows(lines, header, delimiter, offset=0, index=0):
    """The records of CSV lines that start at a record boundary.

    Args:
        lines: the lines (str), each with its line end.
        header: the file's column names.
        delimiter: the field delimiter.
        offset: the lines of the file before the first of `lines`.
        index: the reader index (`RawRecord.index`) of the first record.
    """
    tap = _Tap(lines)
    reader = csv.reader(tap, delimiter=delimiter)
    line = offset + 1
    for row in parsed_rows(reader):
        first, line = line, offset + reader.line_num + 1
        text = tap.take()
        if row is not None and len(row) != len(header):
            yield RawRecord(None, f"line {first}", {}, b"", f"expected {len(header)} fields (the "
                            f"header's {', '.join(header)}), found {len(row)}", first)
            continue
        misread = misread_field(text, delimiter)
        if row is None or misread is not None:
            quote = '"' in text
            yield RawRecord(None, f"line {first}", {}, b"", (
                f"{'a quote' if quote else 'a carriage return'} inside a field that is not "
                "quoted whole, which TensorFlow's CSV reader cannot read (put the whole field "
                "in quotes" + (' and double the quotes inside it: "a ""b"" c")' if quote else
                              ")")), first, header[misread or 0], True)
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


def data_loss(message):
    """What TensorFlow's `DataLossError` `message` says of a TFRecord file, without the op's
    name and node (they change with every iterator made).

    Example:

    >>> data_loss("{{function_node __wrapped__IteratorGetNext_output_types_1_device_/job:"
    ...           "localhost/replica:0/task:0/device:CPU:0}} corrupted record at 74 "
    ...           "[Op:IteratorGetNext] name: ")
    'a checksum fails at byte 74'
    >>> data_loss("{{function_node x}} truncated record at 124' failed with Read less bytes "
    ...           "than requested [Op:IteratorGetNext] name: ")
    'it ends inside the record that starts at byte 124 (truncated)'
    """
    found = re.search(r"(corrupted|truncated) record at (\d+)", message)
    if found is None:
        return re.sub(r"^\{\{.*?\}\}\s*|\s*\[Op:.*$", "", message, flags=re.S)
    kind, offset = found.groups()
    if kind == "truncated":
        return f"it ends inside the record that starts at byte {offset} (truncated)"
    return f"a checksum fails at byte {offset}" + (": is it a TFRecord file?" if offset == "0"
                                                   else "")


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
            raise BadDataError(f"{path}, record {index}: the file is corrupt "
                               f"({data_loss(e.message)}).") from None
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
