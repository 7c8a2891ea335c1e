"""A record whose value cannot be trained on: each error names the file, the record, the column."""

import pytest
import tensorflow as tf

from seqmodels import data
from seqmodels.data import BadDataError
from tests.data.user.files import (REVIEWS, SKIP_HINT, exactly, feature, png, write_csv,
                                   write_jsonl, write_split_csvs, write_tfrecord)

TEXT = dict(text_column="review", label_column="score")
IMAGES = dict(image_column="file", label_column="kind")


def _info(name, directory, **options):
    return data.info(name, data_dir=str(directory), **options)


def test_a_json_record_without_the_column_lists_the_columns_it_has(tmp_path):
    write_jsonl(tmp_path / "t.jsonl", [{"review": "a fine film", "score": "good"},
                                       {"text": "a dull plot", "score": "bad"}])
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/t.jsonl, line 2, column 'review': no column 'review' (text_column). "
            f"Columns found: score, text. {SKIP_HINT}")):
        _info("jsonl:t.jsonl", tmp_path, **TEXT)
    write_jsonl(tmp_path / "t.jsonl", [{"review": "a fine film", "score": "good"}, {}])
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/t.jsonl, line 2, column 'review': no column 'review' (text_column). "
            f"Columns found: none. {SKIP_HINT}")):
        _info("jsonl:t.jsonl", tmp_path, **TEXT)


def test_a_feature_that_holds_several_values_where_one_is_expected(tmp_path):
    texts = tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a fine", b"film"]))
    example = tf.train.Example(features=tf.train.Features(feature={
        "review": texts, "score": feature("good")}))
    with tf.io.TFRecordWriter(str(tmp_path / "r.tfrecord")) as writer:
        writer.write(example.SerializeToString())
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/r.tfrecord, record 0, column 'review': feature 'review' holds 2 values, "
            f"expected one. {SKIP_HINT}")):
        _info("tfrecord:r.tfrecord", tmp_path, **TEXT)


def test_a_text_that_is_not_a_string(tmp_path):
    write_jsonl(tmp_path / "t.jsonl", [{"review": 3, "score": "good"}])
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/t.jsonl, line 1, column 'review': expected text, found 3. {SKIP_HINT}")):
        _info("jsonl:t.jsonl", tmp_path, **TEXT)


@pytest.mark.parametrize("form, label, shown", [("tfrecord", 0.5, "0.5"),
                                                 ("jsonl", True, "True")])
def test_a_label_that_is_a_float_or_a_bool(tmp_path, form, label, shown):
    rows = [{"review": "a fine film", "score": label}]
    (write_tfrecord if form == "tfrecord" else write_jsonl)(tmp_path / f"r.{form}", rows)
    where = "record 0" if form == "tfrecord" else "line 1"
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/r.{form}, {where}, column 'score': expected a label (a string or an "
            f"integer), found {shown}. {SKIP_HINT}")):
        _info(f"{form}:r.{form}", tmp_path, **TEXT)


def test_an_infinity_in_a_series(tmp_path):
    write_csv(tmp_path / "s.csv", ["t", "y"], [(0, 1.0), (1, 2.0), (2, "-inf"), (3, 4.0)])
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/s.csv, line 4, column 'y': '-inf' in a series (NaN and infinity cannot "
            f"be trained on; fill or drop the row). {SKIP_HINT}")):
        _info("csv:s.csv", tmp_path, target_columns="y", time_column="t")
    (tmp_path / "s.jsonl").write_text('{"y": 1.0}\n{"y": Infinity}\n')  # Python's json reads it
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/s.jsonl, line 2, column 'y': inf in a series (NaN and infinity cannot "
            f"be trained on; fill or drop the row). {SKIP_HINT}")):
        _info("jsonl:s.jsonl", tmp_path, target_columns="y")


def test_image_bytes_that_do_not_decode(tmp_path):
    write_tfrecord(tmp_path / "i.tfrecord", [{"file": png(1), "kind": 0},
                                             {"file": b"not a png", "kind": 1}])
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/i.tfrecord, record 1, column 'file': feature 'file' does not decode as "
            f"an image (PNG, JPEG, BMP or GIF). {SKIP_HINT}")):
        _info("tfrecord:i.tfrecord", tmp_path, **IMAGES)


def test_an_image_path_that_cannot_be_read(tmp_path):
    (tmp_path / "a.png").write_bytes(png(1))
    write_csv(tmp_path / "images.csv", ["file", "kind"], [("a.png", "x"), ("gone.png", "y")])
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/images.csv, line 3, column 'file': image {tmp_path}/gone.png cannot be "
            f"read (No such file or directory). {SKIP_HINT}")):
        _info("csv:images.csv", tmp_path, **IMAGES)


def test_non_utf8_bytes_in_a_label_and_in_tfrecord_text(tmp_path):
    write_split_csvs(tmp_path)
    with open(tmp_path / "train.csv", "ab") as f:
        f.write(b"fine,g\xe9nial\n")
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/train.csv, line 6, column 'score': not UTF-8 text (byte 0xe9 at "
            f"position 1). {SKIP_HINT}")):
        _info("csv:{split}.csv", tmp_path, **TEXT)
    write_tfrecord(tmp_path / "r.tfrecord", [{"review": t, "score": s} for t, s in REVIEWS]
                   + [{"review": b"caf\xe9 cr\xe8me", "score": "good"}])
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/r.tfrecord, record 4, column 'review': not UTF-8 text (byte 0xe9 at "
            f"position 3). {SKIP_HINT}")):
        _info("tfrecord:r.tfrecord", tmp_path, **TEXT)
