"""Bad data fails the validation pass with the file, the line or record, and the column."""

import json
import re

import pytest

from seqmodels import data
from seqmodels.data import BadDataError, DataNotFoundError
from tests.data.user.files import (REVIEWS, SKIP_HINT, exactly, png, write_csv, write_jsonl,
                                   write_split_csvs, write_tfrecord)

HINT = re.escape(f" {SKIP_HINT}")
TEXT = dict(text_column="review", label_column="score")


def _load(name, directory, split="train", **options):
    return list(data.load(name, split, data_dir=str(directory), **{**TEXT, **options}))


def test_a_row_with_the_wrong_field_count(tmp_path):
    write_split_csvs(tmp_path)
    with open(tmp_path / "train.csv", "a") as f:
        f.write("one,two,three\n")
    with pytest.raises(BadDataError, match=rf"^{tmp_path}/train.csv, line 6: expected 2 fields "
                                           rf"\(the header's review, score\), found 3\.{HINT}$"):
        _load("csv:{split}.csv", tmp_path)


def test_an_unparsable_number_and_a_nan_in_a_series(tmp_path):
    write_csv(tmp_path / "s.csv", ["t", "y"], [(i, i * 0.5) for i in range(5)] + [(5, "n/a")])
    with pytest.raises(BadDataError, match=rf"^{tmp_path}/s.csv, line 7, column 'y': 'n/a' is "
                                           rf"not a number\.{HINT}$"):
        data.info("csv:s.csv", data_dir=str(tmp_path), target_columns="y", time_column="t")
    write_csv(tmp_path / "s.csv", ["t", "y"], [(0, 1.0), (1, "nan"), (2, 3.0)])
    with pytest.raises(BadDataError, match=rf"^{tmp_path}/s.csv, line 3, column 'y': 'nan' in a "
                                           r"series \(NaN and infinity cannot be trained on; "
                                           r"fill or drop the row\)\."):
        data.info("csv:s.csv", data_dir=str(tmp_path), target_columns="y")


def test_a_missing_column_lists_the_columns_found(tmp_path):
    write_split_csvs(tmp_path, header=("text", "score"))
    with pytest.raises(BadDataError, match=rf"^{tmp_path}/train.csv: no column 'review' "
                                           r"\(text_column\)\. Columns found: text, score\.$"):
        _load("csv:{split}.csv", tmp_path)


def test_an_empty_file_and_a_header_without_records(tmp_path):
    write_split_csvs(tmp_path)
    (tmp_path / "validation.csv").write_text("")
    with pytest.raises(BadDataError, match=rf"^{tmp_path}/validation.csv: the file is empty "
                                           r"\(expected a header line naming the columns"):
        _load("csv:{split}.csv", tmp_path)
    (tmp_path / "validation.csv").write_text("review,score\n")
    with pytest.raises(BadDataError, match=rf"^{tmp_path}/validation.csv: the file is empty "
                                           r"\(no records after the header\)\.$"):
        _load("csv:{split}.csv", tmp_path)


def test_a_glob_that_matches_nothing(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"no file matches .*/parts-\*\.jsonl\.$"):
        _load("jsonl:parts-*.jsonl", tmp_path)


@pytest.mark.parametrize("split", ["test", "validation"])
def test_a_label_that_train_never_had(tmp_path, split):
    write_split_csvs(tmp_path, {split: REVIEWS + [("so so", "meh")]})
    with pytest.raises(BadDataError, match=rf"^{tmp_path}/{split}.csv, line 6, column 'score': "
                                           rf"label 'meh' \(in the {split} split\) is not among "
                                           rf"the training split's labels \(bad, good\)\.{HINT}$"):
        _load("csv:{split}.csv", tmp_path)


def test_shards_with_different_headers(tmp_path):
    write_csv(tmp_path / "a.csv", ["review", "score"], REVIEWS)
    write_csv(tmp_path / "b.csv", ["review", "score", "note"], [("fine", "good", "x")])
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/b.csv: its columns (review, score, note) differ from those of "
            f"{tmp_path}/a.csv (review, score); every file of a dataset needs the same header.")):
        _load("csv:*.csv", tmp_path)


def test_an_image_of_another_shape_than_the_first(tmp_path):
    (tmp_path / "a.png").write_bytes(png(1))
    (tmp_path / "b.png").write_bytes(png(2, (16, 12, 1)))
    write_csv(tmp_path / "images.csv", ["file", "kind"], [("a.png", "x"), ("b.png", "y")])
    options = dict(data_dir=str(tmp_path), image_column="file", label_column="kind")
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/images.csv, line 3, column 'file': image of shape (16, 12, 1) where the "
            "first one is (8, 8, 1); pass image_size=8,8 to resize every image. " + SKIP_HINT)):
        data.info("csv:images.csv", **options)
    assert data.info("csv:images.csv", image_size="8,8", split_fractions="1,0,0",
                     **options).splits["train"] == 2


def test_an_image_that_does_not_decode(tmp_path):
    (tmp_path / "a.png").write_bytes(png(1))
    (tmp_path / "b.png").write_bytes(b"not a png")
    write_csv(tmp_path / "images.csv", ["file", "kind"], [("a.png", "x"), ("b.png", "y")])
    with pytest.raises(BadDataError, match=rf"^{tmp_path}/images.csv, line 3, column 'file': "
                                           rf"{tmp_path}/b.png does not decode as an image"):
        data.info("csv:images.csv", data_dir=str(tmp_path), image_column="file",
                  label_column="kind")


def test_non_utf8_text(tmp_path):
    write_split_csvs(tmp_path)
    with open(tmp_path / "train.csv", "ab") as f:
        f.write(b"caf\xe9 cr\xe8me,good\n")
    with pytest.raises(BadDataError, match=rf"^{tmp_path}/train.csv, line 6, column 'review': "
                                           r"not UTF-8 text \(byte 0xe9 at position 3\)\."):
        _load("csv:{split}.csv", tmp_path)
    (tmp_path / "t.jsonl").write_bytes(b'{"review": "caf\xe9", "score": "good"}\n')
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/t.jsonl, line 1: not UTF-8 text (invalid continuation byte at position "
            f"15). {SKIP_HINT}")):
        _load("jsonl:t.jsonl", tmp_path)


def test_a_tfrecord_without_the_named_feature(tmp_path):
    write_tfrecord(tmp_path / "r.tfrecord", [{"review": "good film", "score": 1},
                                             {"text": "bad film", "score": 0}])
    with pytest.raises(BadDataError, match=rf"^{tmp_path}/r.tfrecord, record 1, column "
                                           r"'review': no column 'review' \(text_column\)\. "
                                           r"Columns found: score, text\."):
        _load("tfrecord:r.tfrecord", tmp_path)


def test_skipping_counts_the_skipped_records_of_each_file(tmp_path, capsys):
    write_split_csvs(tmp_path)
    with open(tmp_path / "train.csv", "a") as f:
        f.write("one,two,three\n\"ok again\",good\nx,\n")
    rows = _load("csv:{split}.csv", tmp_path, on_bad_record="skip")
    assert [text.numpy().decode() for text, _ in rows] == [t for t, _ in REVIEWS] + ["ok again"]
    info = data.info("csv:{split}.csv", data_dir=str(tmp_path), on_bad_record="skip", **TEXT)
    assert info.skipped == {str(tmp_path / "train.csv"): 2}
    assert info.splits["train"] == 5
    assert f"Skipped 2 bad records of {tmp_path}/train.csv (on_bad_record=skip)." in \
        capsys.readouterr().out


def test_skipping_a_bad_json_line_keeps_the_others(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [{"review": t, "score": s} for t, s in REVIEWS])
    with open(path, "a") as f:
        f.write("{broken\n" + json.dumps({"review": "fine", "score": "good"}) + "\n")
    with pytest.raises(BadDataError, match=rf"{path}, line 5: not a JSON object"):
        _load("jsonl:t.jsonl", tmp_path, split_fractions="1,0,0")
    rows = _load("jsonl:t.jsonl", tmp_path, split_fractions="1,0,0", on_bad_record="skip")
    assert [t.numpy().decode() for t, _ in rows][-1] == "fine" and len(rows) == 5


QUOTE_PROBLEM = (r"a quote inside a field that is not quoted whole, which TensorFlow's CSV reader "
                 r"cannot read \(put the whole field in quotes and double the quotes inside it: "
                 r'"a ""b"" c"\)')


@pytest.mark.parametrize("field", ['a "fine" film', '"a fine" film'])
def test_a_quote_inside_an_unquoted_field_is_named_not_lost(tmp_path, field):
    # Python's csv reads both as text; TensorFlow's readers fail on them, and with the next
    # records lost (`"a fine" film` took the record after it along).
    write_split_csvs(tmp_path)
    with open(tmp_path / "train.csv", "a") as f:
        f.write(f"{field},good\nthe record after,bad\n")
    with pytest.raises(BadDataError, match=rf"^{tmp_path}/train.csv, line 6, column 'review': "
                                           rf"{QUOTE_PROBLEM}\.{HINT}$"):
        _load("csv:{split}.csv", tmp_path)
    rows = _load("csv:{split}.csv", tmp_path, on_bad_record="skip")
    assert [text.numpy().decode() for text, _ in rows] == \
        [t for t, _ in REVIEWS] + ["the record after"]


def test_a_carriage_return_inside_an_unquoted_field(tmp_path):
    write_split_csvs(tmp_path)
    with open(tmp_path / "train.csv", "a", newline="") as f:
        f.write("good,a\rfilm\n")
    with pytest.raises(BadDataError, match=rf"^{tmp_path}/train.csv, line 6, column 'score': a "
                                           r"carriage return inside a field that is not quoted "
                                           r"whole, which TensorFlow's CSV reader cannot read "
                                           rf"\(put the whole field in quotes\)\.{HINT}$"):
        _load("csv:{split}.csv", tmp_path)


@pytest.mark.parametrize("task", ["text_classification", "image_classification"])
def test_a_misread_record_is_not_skipped_where_the_csv_reader_would_lose_the_next(tmp_path,
                                                                                   task):
    # Files with a record over several lines, and the image tasks' CSV files, are read by
    # tf.data.experimental.CsvDataset, which can drop the records after a misread one.
    if task == "text_classification":
        write_split_csvs(tmp_path)
        with open(tmp_path / "train.csv", "a") as f:
            f.write('"over\ntwo lines",good\n"a fine" film,good\nthe record after,bad\n')
        name, options, line, column, why = "csv:{split}.csv", TEXT, 8, "review", \
            "its records over several lines"
    else:
        (tmp_path / "a.png").write_bytes(png(4))
        with open(tmp_path / "i.csv", "w") as f:
            f.write('image,label\na.png,cat\na.png,"do"g\na.png,cat\n')
        name, options, line, column, why = "csv:i.csv", dict(
            image_column="image", label_column="label"), 3, "label", "this task"
    message = (rf"^{tmp_path}/\w+.csv, line {line}, column '{column}': {QUOTE_PROBLEM}\. "
               r"on_bad_record=skip cannot skip it in this file: TensorFlow's CSV reader, "
               rf"which reads it \(for {why}\), can lose the records after such a one\. Fix "
               r"the data\.$")
    with pytest.raises(BadDataError, match=message):
        data.info(name, data_dir=str(tmp_path), on_bad_record="skip", **options)
