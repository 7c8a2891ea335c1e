"""CSV files of one-line records are read line by line, as `CsvDataset` reads them."""

import random

import pytest

from seqmodels import data
from seqmodels.data.user import readers, scan
from seqmodels.data.user.options import FileOptions
from seqmodels.data.user.spec import FileSpec
from tests.data.user.files import write_tfrecord

TEXTS = ["a fine film", "\"a fine, warm film\"", "\"say \"\"hi\"\"\"", "", "caf\u00e9 cr\u00e8me",
         "\"\"", "  spaced  "]
BAD = ["one,two,three", "", "lonely"]


def _write(path, rng, rows, crlf, newline_at_end):
    lines = ["review,score"]
    for number in range(rows):
        if rng.random() < 0.1:
            lines.append(rng.choice(BAD))
        else:
            lines.append(f"{rng.choice(TEXTS).replace('film', f'film {number}')},"
                         f"{rng.choice(['good', 'bad'])}")
    end = "\r\n" if crlf else "\n"
    path.write_bytes((end.join(lines) + (end if newline_at_end else "")).encode())


def _file_scan(name, directory, **options):
    values = FileOptions.parse("csv", dict(text_column="review", label_column="score",
                                           task="text_classification", **options)).values
    return scan.scan(FileSpec.parse(name, str(directory)), dict(values))


def _splits(name, directory, **options):
    return {split: [(text.decode(), int(label)) for text, label in data.load(
        name, split, data_dir=str(directory), text_column="review", label_column="score",
        **options).as_numpy_iterator()] for split in ("train", "validation", "test")}


@pytest.mark.parametrize("seed", range(4))
def test_line_by_line_reading_gives_the_records_of_csv_dataset(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    monkeypatch.setattr(scan, "_CACHE", {})
    monkeypatch.setattr(readers, "CHUNK", rng.choice([5, 64, 1 << 19]))  # lines cut anywhere
    for part in range(2):
        _write(tmp_path / f"part-{part}.csv", rng, 60, crlf=seed % 2 == 1,
               newline_at_end=part == 0)
    name, options = "csv:part-*.csv", dict(on_bad_record="skip", split_fractions="0.6,0.2,0.2")
    found = _file_scan(name, tmp_path, **options)
    assert sorted(found.line_files) == [str(tmp_path / f"part-{p}.csv") for p in range(2)]
    by_line = _splits(name, tmp_path, **options)
    found.line_files.clear()  # the same scan: CsvDataset reads the files
    assert _splits(name, tmp_path, **options) == by_line
    assert sum(map(len, by_line.values())) == sum(found.counts.values()) > 80


def test_a_record_over_two_lines_is_read_by_csv_dataset(tmp_path, monkeypatch):
    monkeypatch.setattr(scan, "_CACHE", {})
    (tmp_path / "r.csv").write_text("review,score\n\"a dull\nplot\",bad\na fine film,good\n")
    assert not _file_scan("csv:r.csv", tmp_path).line_files
    assert _splits("csv:r.csv", tmp_path, split_fractions="1,0,0")["train"] == [
        ("a dull\nplot", 0), ("a fine film", 1)]


def test_a_skipped_quote_tensorflow_reads_otherwise_is_dropped_by_its_line(tmp_path, monkeypatch):
    # A bad record (tests/data/user/test_scan.py); skipped, the file is still read line by line.
    monkeypatch.setattr(scan, "_CACHE", {})
    (tmp_path / "r.csv").write_text("review,score\na 5\" screen,good\nfine,bad\n")
    file_scan = _file_scan("csv:r.csv", tmp_path, on_bad_record="skip")
    assert file_scan.line_files == {str(tmp_path / "r.csv"): (False, (2,))}
    rows = data.load("csv:r.csv", "train", data_dir=str(tmp_path), text_column="review",
                     label_column="score", split_fractions="1,0,0", on_bad_record="skip")
    assert [(t.decode(), int(y)) for t, y in rows.as_numpy_iterator()] == [("fine", 0)]


def test_a_skipped_tfrecord_without_the_feature_is_never_parsed(tmp_path):
    write_tfrecord(tmp_path / "r.tfrecord", [{"review": "good film", "score": 1},
                                             {"text": "bad film", "score": 0},
                                             {"review": "fine film", "score": 1}])
    rows = data.load("tfrecord:r.tfrecord", "train", data_dir=str(tmp_path),
                     text_column="review", label_column="score", split_fractions="1,0,0",
                     on_bad_record="skip")
    assert [(t.decode(), int(y)) for t, y in rows.as_numpy_iterator()] == [
        ("good film", 1), ("fine film", 1)]
