"""The validation pass's fast path: the rows of a CSV (TSV) file of text, a batch at a time.

For the tasks whose records hold only text and labels (text classification, translation,
language modelling), `row_batches(path, delimiter)` reads the file's rows `ROWS` lines at a
time, and `batch_facts` checks a whole batch with a few calls that run in C (field counts,
UTF-8, labels, the split hash) instead of a Python loop a record, under `paused_collection`.
A batch in which any record needs more than that (a wrong field count, bytes that are not
UTF-8, an empty label, a label of validation or test that training has not had yet) is read
again by `ReplayLines` and checked record by record, exactly as without this path: the errors
name the same file, line and column, and skipped records are the same. On the way the pass
learns whether every record of the file is one line that TensorFlow parses as Python does
(`RowBatch.by_line`): the readers then cut the file into lines themselves.
"""

import collections
import contextlib
import csv
import dataclasses
import functools
import gc
import io
import itertools
import operator
import re

import numpy as np

from seqmodels.data.user import records

ROWS = 8192  # records checked together
TEXT_TASKS = ("text_classification", "translation", "language_modeling")


@dataclasses.dataclass
class RowBatch:
    """Rows of a CSV file that start and end at a record boundary.

    Attributes:
        start: the lines of the file before the batch.
        stop: the last line of the batch.
        rows: the rows (lists of str).
        by_line: each line of the batch is one record.
        crlf: some line of a `by_line` batch ends with "\r\n".
        misread: some record of the batch is one that TensorFlow's CSV parsers cannot read
            as `csv.reader` does (a bad record: see `records.misread_field`), or `csv.reader`
            cannot parse (None in `rows`). In a batch that is not `by_line` only the latter
            is known here; the validation pass checks its text with `read_alike`.
    """

    start: int
    stop: int
    rows: list
    by_line: bool
    crlf: bool = False
    misread: bool = False


def one_record_lines(delimiter):
    """`matches(line)`: whether `line` (str) is one record that TensorFlow's CSV parsers read
    field for field as Python's `csv.reader` does.

    That is every field either unquoted without quotes, or quoted whole with its quotes
    doubled, and no carriage return but before the line end. Elsewhere the two differ
    (Python reads `a"b` and `"a"b` as text, TensorFlow fails), or a quoted field goes on to
    the next line.

    Example:

    >>> matches = one_record_lines(",")
    >>> [bool(matches(line)) for line in ('a,"b, ""c"" d"\\r\\n', 'a,b"c\\n', 'a,"b\\n')]
    [True, False, False]
    """
    field, d = records.field_regex(delimiter, newlines=False), re.escape(delimiter)
    return re.compile(rf"{field}(?:{d}{field})*\r?\n?").fullmatch


def read_alike(text, delimiter):
    """Whether TensorFlow's CSV parsers read every record of `text` (whole records, which may
    span lines) field for field as Python's `csv.reader` does (see `records.misread_field`).

    Example:

    >>> read_alike('a,"b\\nc"\\n"d ""e"" f",g\\n', ","), read_alike('a,b\\n"c"d,e\\n', ",")
    (True, False)
    """
    return _records_pattern(delimiter).fullmatch(text) is not None


@functools.lru_cache(maxsize=None)
def _records_pattern(delimiter):
    field, d = records.field_regex(delimiter), re.escape(delimiter)
    record = rf"{field}(?:{d}{field})*+"
    return re.compile(rf"(?:{record}\r?\n)*+(?:{record})?")


def row_batches(path, delimiter):
    """The `RowBatch`es of the rows after the header, up to `ROWS` lines each.

    The file is read as `records.csv_records` reads it: lines end at "\\n" only, and bytes that
    are not UTF-8 become surrogates (`errors="surrogateescape"`). While every line is one
    record, a batch is `ROWS` lines, and `misread` when `one_record_lines` fails on one of
    them (checked only on lines with a quote or a carriage return); from the first record
    over several lines, one `csv.reader` reads on and no batch is `by_line`.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "r.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write('text,label\\n"a fine, warm film",good\\n"a dull\\nplot",bad\\n')
    >>> [(b.start, b.stop, b.rows, b.by_line) for b in row_batches(path, ",")]
    [(1, 4, [['a fine, warm film', 'good'], ['a dull\\nplot', 'bad']], False)]
    """
    one_record = one_record_lines(delimiter)
    with open(path, "rb") as f:
        header = f.readline()
        if not header:
            return
        line, by_line = 1, bool(one_record(header.decode("utf-8", "surrogateescape")))
        while by_line:
            position = f.tell()
            raw = list(itertools.islice(f, ROWS))
            if not raw:
                return
            text = b"".join(raw).decode("utf-8", "surrogateescape")
            odd = [] if '"' not in text and "\r" not in text else [
                row for row in io.StringIO(text, newline="\n")
                if ('"' in row or "\r" in row) and not one_record(row)]
            rows = [] if any(_opens_a_record(row, delimiter) for row in odd) else list(
                records.parsed_rows(csv.reader(io.StringIO(text, newline="\n"),
                                               delimiter=delimiter)))
            if len(rows) == len(raw):  # each line one record
                yield RowBatch(line, line + len(raw), rows, True, "\r" in text, bool(odd))
                line += len(raw)
            else:
                by_line = False
        f.seek(position if line > 1 else 0)
        lines = io.TextIOWrapper(f, encoding="utf-8", errors="surrogateescape", newline="\n")
        reader = csv.reader(lines, delimiter=delimiter)
        if line == 1:
            next(reader)  # the header
            line = 0
        while True:
            start = line + reader.line_num
            rows = list(itertools.islice(records.parsed_rows(reader), ROWS))
            if not rows:
                return
            yield RowBatch(start, line + reader.line_num, rows, False, misread=None in rows)


def _opens_a_record(line, delimiter):
    """Whether `csv.reader` reads on after `line` (a quoted field goes on to the next line)."""
    rows = records.parsed_rows(csv.reader([line, "next\n"], delimiter=delimiter))
    return sum(1 for _ in rows) == 1


@contextlib.contextmanager
def paused_collection():
    """Pauses the garbage collector (rows hold no cycles: they are freed without it).

    Each batch's lists would otherwise start collections that walk every object of the
    process, TensorFlow's too: measured, twice the time of parsing the rows.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ReplayLines:
    """The decoded lines of a file by line number, read forwards (a batch to check again).

    A context manager: the file is closed on leaving it.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "r.csv")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"text,label\\na,good\\ncaf\\xe9,bad\\nb,good\\n")
    >>> with ReplayLines(path) as replay:
    ...     replay.lines(2, 3)
    ['caf\\udce9,bad\\n']
    """

    def __init__(self, path):
        self.file = open(path, "rb")  # noqa: SIM115  (closed by `close`)
        self.position = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def lines(self, start, stop):
        """The lines after the first `start` up to line `stop` (1-based, inclusive), as str."""
        if start < self.position:
            raise ValueError(f"Lines are read forwards: line {self.position} was read, "
                             f"received start={start}.")
        collections.deque(itertools.islice(self.file, start - self.position), maxlen=0)
        self.position = stop
        return [line.decode("utf-8", errors="surrogateescape")
                for line in itertools.islice(self.file, stop - start)]

    def close(self):
        self.file.close()


@dataclasses.dataclass
class BatchFacts:
    """What the validation pass learns from a batch of records that all check out.

    Attributes:
        counts: records per split, `[train, validation, test]`.
        train_labels: the (stripped) labels of the batch's training records.
    """

    counts: np.ndarray
    train_labels: set


def batch_facts(rows, width, label, splits_of, known_labels):
    """The `BatchFacts` of `rows`, or None when a record needs the record-by-record checks.

    Args:
        rows: the batch's rows (lists of str, read with `errors="surrogateescape"`).
        width: the header's field count.
        label: the label column's position, or None (no labels).
        splits_of: `splits_of(keys)`: the split index (0, 1, 2) of each record's key (its
            fields joined by "\\x1f", what the readers hash).
        known_labels: the labels of the training records seen so far.

    Example:

    >>> rows = [["a fine film", " good"], ["a dull plot", "bad"]]
    >>> facts = batch_facts(rows, 2, 1, lambda keys: np.zeros(len(keys), int), set())
    >>> facts.counts.tolist(), sorted(facts.train_labels)
    ([2, 0, 0], ['bad', 'good'])
    >>> batch_facts([["caf\\udce9", "good"]], 2, 1, None, set()) is None  # not UTF-8
    True
    """
    if set(map(len, rows)) != {width}:
        return None
    keys = list(map("\x1f".join, rows))
    try:
        "".join(keys).encode("utf-8")  # surrogates: bytes that are not UTF-8
    except UnicodeEncodeError:
        return None
    splits = np.asarray(splits_of(keys))
    counts = np.bincount(splits, minlength=3)
    if label is None:
        return BatchFacts(counts, set())
    labels = list(map(operator.itemgetter(label), rows))
    stripped = {value: value.strip() for value in set(labels)}
    if not all(stripped.values()):
        return None
    train = {stripped[value] for value in set(itertools.compress(labels, (splits == 0).tolist()))}
    others = {stripped[value] for value in set(itertools.compress(labels,
                                                                  (splits != 0).tolist()))}
    if others - known_labels - train:
        return None
    return BatchFacts(counts, train)
